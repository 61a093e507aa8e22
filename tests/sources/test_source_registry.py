"""build_source maps each config section to its source, importing source modules lazily."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cockpit.config import (
    AccessLogConfig,
    HttpProbeConfig,
    JsonlDeployLogConfig,
    Secret,
    SentryConfig,
    parse,
)
from cockpit.model import Category
from cockpit.sentry.source import SentryIssuesSource
from cockpit.sources.deploys.log import JsonlDeployLog
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.sources.probes.http import HttpProbe
from cockpit.sources.registry import build_source

if TYPE_CHECKING:
    from cockpit.config.loader import SourceConfig

ROOT = Path(__file__).resolve().parents[2]


async def test_each_config_builds_its_source(tmp_path: Path) -> None:
    configs: list[SourceConfig] = [
        HttpProbeConfig(name="web", url="http://127.0.0.1:1/", concurrency=4, interval=3.0),
        JsonlDeployLogConfig(name="deploys", path=tmp_path / "deploys.jsonl"),
        AccessLogConfig(name="edge", path=tmp_path / "access.log", window=60, bucket_seconds=5),
        SentryConfig(
            name="sentry",
            base_url="https://sentry.example.com",
            org="files-inc",
            token=Secret("t0ken-value", "env:SENTRY_TOKEN"),
        ),
    ]
    expected = [
        (HttpProbe, Category.PROBE, "http", "http://127.0.0.1:1/"),
        (JsonlDeployLog, Category.DEPLOYS, "jsonl", str(tmp_path / "deploys.jsonl")),
        (AccessLogTail, Category.ERRORS, "nginx_combined", str(tmp_path / "access.log")),
        (
            SentryIssuesSource,
            Category.SENTRY,
            "sentry",
            "https://sentry.example.com/api/0/organizations/files-inc/issues/",
        ),
    ]
    for cfg, (cls, category, kind, target) in zip(configs, expected, strict=True):
        source = build_source(cfg)
        try:
            assert isinstance(source, cls)
            assert (source.name, source.category, source.kind) == (cfg.name, category, kind)
            assert (source.interval, source.timeout) == (cfg.interval, cfg.timeout)
            assert source.target == target
            assert kind == type(cfg).kind
        finally:
            await source.aclose()


def test_unknown_config_is_refused() -> None:
    with pytest.raises(TypeError, match="no source for str"):
        build_source("http://example.com")  # type: ignore[arg-type]


def test_config_loaded_from_toml_builds(tmp_path: Path) -> None:
    config = parse(
        f"""
[[probes]]
kind = "http"
name = "session-x4"
url = "http://127.0.0.1:8080/"
concurrency = 4

[[deploys]]
name = "deploys"
path = "{tmp_path / "deploys.jsonl"}"
""",
        env={},
    )
    names = [type(build_source(c)).__name__ for c in config.sources()]
    assert names == ["HttpProbe", "JsonlDeployLog"]


def test_httpx_is_imported_only_when_a_source_needs_it(tmp_path: Path) -> None:
    script = f"""
import json, sys
from pathlib import Path
from cockpit.config import JsonlDeployLogConfig, Secret, SentryConfig
from cockpit.sources.registry import build_source
seen = ["httpx" in sys.modules]
build_source(JsonlDeployLogConfig(name="d", path=Path({str(tmp_path)!r}) / "d.jsonl"))
seen.append("httpx" in sys.modules)
token = Secret("t", "env:T")
build_source(SentryConfig(name="s", base_url="http://127.0.0.1:1", org="o", token=token))
seen.append("httpx" in sys.modules)
print(json.dumps(seen))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout) == [False, False, True]
