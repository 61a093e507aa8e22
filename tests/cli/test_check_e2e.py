"""`cockpit world` writes a config; `cockpit check --json` runs every source through the real
servers it points at."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROBE_FIELDS = {"name", "kind", "target", "concurrency", "ok", "sessions_ok", "latency_ms", "error"}
SOURCE_FIELDS = {"source", "kind", "ok", "error"}
WORLD = [sys.executable, "-m", "cockpit", "world"]
BAD_NOW = ["--bad-deploy-after", "0"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    config = tmp_path / "world.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "world",
            "--dir",
            str(tmp_path / "w"),
            "--write-config",
            str(config),
            "--bad-deploy-after",
            "3600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ready "), proc.stderr.read() if proc.stderr else line
        assert Path(line.split(" ", 1)[1].strip()) == config.resolve()
        yield config, tmp_path / "w"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def check(config: Path) -> tuple[int, list[dict[str, object]], str]:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, rows, result.stderr


def test_check_json_through_the_real_world(world: tuple[Path, Path]) -> None:
    config, directory = world
    # The access log is read back from its start, so a round of traffic must exist first.
    code, rows, stderr = check(config)
    assert code == 0, (rows, stderr)
    probes = [r for r in rows if "name" in r]
    others = {r["kind"]: r for r in rows if "source" in r}
    assert {p["name"] for p in probes} >= {
        "web-health",
        "ftp-login",
        "ftp-login-x4",
        "sftp-list",
        "sftp-list-x4",
        "webdav-propfind",
        "webdav-propfind-x4",
    }
    for p in probes:
        assert p.keys() >= PROBE_FIELDS
        assert p["ok"] is True and p["error"] == ""
        assert p["sessions_ok"] == p["concurrency"]
        assert isinstance(p["latency_ms"], float) and p["latency_ms"] > 0
        assert "127.0.0.1:" in str(p["target"])
    x4 = next(p for p in probes if p["name"] == "webdav-propfind-x4")
    assert x4["concurrency"] == 4
    assert set(others) == {"jsonl", "nginx_combined", "sentry"}
    for r in others.values():
        assert r.keys() >= SOURCE_FIELDS and r["ok"] is True
    assert others["jsonl"]["deploys"] >= 2
    assert {"requests", "errors_5xx", "ratio", "unparsed_lines", "first_ts", "last_ts"} <= set(
        others["nginx_combined"]
    )
    edge = others["nginx_combined"]
    assert edge["routes_known"] is True  # the combined format tells method and path
    for route in edge["routes_5xx"]:  # the world's /report bug, under stable names
        assert route.keys() == {"method", "path", "host", "upstream", "status", "count", "share"}
        assert route["status"] >= 500 and route["count"] > 0
    assert {"issues", "pages", "rate_limited"} <= set(others["sentry"])
    token = (directory / "sentry.token").read_text().strip()
    assert token not in json.dumps(rows) + stderr


def test_check_exits_1_when_a_source_fails(world: tuple[Path, Path], tmp_path: Path) -> None:
    config, _ = world
    broken = tmp_path / "broken.toml"
    broken.write_text(
        config.read_text() + '\n[[probes]]\nname = "nothing-there"\nkind = "http"\n'
        'url = "http://127.0.0.1:9/"\ntimeout = 1\n'
    )
    code, rows, _ = check(broken)
    assert code == 1
    dead = next(r for r in rows if r.get("name") == "nothing-there")
    assert dead["ok"] is False and dead["sessions_ok"] == 0 and dead["error"]
    assert all(r["ok"] for r in rows if r.get("name") != "nothing-there")


def test_check_json_says_which_probes_fail_only_under_concurrency(tmp_path: Path) -> None:
    # The bad release is out before the round: each -x4 probe fails while its single-session
    # twin (another account, the same endpoint) passes, and the JSON says so by name.
    config = tmp_path / "world.toml"
    proc = subprocess.Popen(
        [*WORLD, "--dir", str(tmp_path / "w"), "--write-config", str(config), *BAD_NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready ")
        deploys = tmp_path / "w" / "deploys.jsonl"
        deadline = time.monotonic() + 20
        # The bad release (by alice) is out once the deploy log names it.
        while "alice" not in deploys.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        code, rows, stderr = check(config)
        assert code == 1, (rows, stderr)
        probes = {r["name"]: r for r in rows if "name" in r}
        for single in ("ftp-login", "sftp-list", "webdav-propfind"):
            many = probes[f"{single}-x4"]
            assert many["ok"] is False
            assert many["only_under_concurrency"] is True
            assert many["single_session_twin"] == single
            assert probes[single]["only_under_concurrency"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
