"""`cockpit check` without --json: each source that answered says what it read, so an ok line
tells a source that saw something from one that saw nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.timeutil import utcnow


def test_ok_sources_say_what_they_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = utcnow()
    deploys = tmp_path / "deploys.jsonl"
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [
        {"service": "files-web", "version": "v1", "who": "bob", "at": before, "summary": "old"},
        {"service": "files-web", "version": "v2", "who": "bob", "at": at, "summary": "new"},
    ]
    deploys.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs = tmp_path / "maintenance.jsonl"
    run = {"at": at, "script": "log-cleanup", "hosts": ["web-9"], "what": "rotate", "by": "carol"}
    runs.write_text(json.dumps({**run, "dry_run": False, "id": "m-2"}) + "\n")
    log = tmp_path / "access.log"
    stamp = now.strftime("%d/%b/%Y:%H:%M:%S +0000")
    log.write_text(
        "".join(
            f'127.0.0.1 - - [{stamp}] "GET /api/upload HTTP/1.1" {code} 3 "-" "curl/7.88.1"\n'
            for code in (200, 200, 200, 503)
        )
    )
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f'[[deploys]]\nname = "deploy-log"\nkind = "jsonl"\npath = "{deploys}"\n\n'
        f'[[changes]]\nname = "maintenance"\nkind = "maintenance"\npath = "{runs}"\n\n'
        f'[[errors]]\nname = "edge"\nkind = "nginx_combined"\npath = "{log}"\nread_back = 600\n'
    )
    assert main(["check", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ok   jsonl           deploy-log: 2 deploys, latest files-web v2" in lines
    assert "ok   maintenance     maintenance: 1 change, latest log-cleanup (rotate)" in lines
    assert "ok   nginx_combined  edge: 4 requests, 1 5xx (25.0%)" in lines
