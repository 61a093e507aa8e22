"""A source recovers by itself from every transient fault it reported: the file it follows
became a directory for a while, vanished, or was replaced; once it is back, the next poll is
fresh again, with nothing counted twice."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.config.deploys import JsonlDeployLogConfig
from cockpit.config.errors import AccessLogConfig
from cockpit.hub import Hub
from cockpit.model import Freshness
from cockpit.sources.deploys.log import JsonlDeployLog
from cockpit.sources.logs.access_log import AccessLogTail


def combined(status: int, when: datetime) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'10.0.0.1 - - [{stamp}] "GET / HTTP/1.1" {status} 5 "-" "t"\n'


def become_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def become_file_again(path: Path, content: str) -> None:
    shutil.rmtree(path)
    path.write_text(content)


@pytest.mark.parametrize("fault", ["directory", "missing"])
async def test_the_access_log_recovers(tmp_path: Path, fault: str) -> None:
    log = tmp_path / "access.log"
    now = datetime.now(UTC)
    log.write_text(combined(200, now) * 3)
    source = AccessLogTail(AccessLogConfig(name="nginx", path=log, read_back=600))
    hub = Hub([source])
    try:
        assert await hub.poll(source)
        assert hub.snapshot().readings["nginx"].requests == 3  # type: ignore[union-attr]
        if fault == "directory":
            become_directory(log)
        else:
            log.unlink()
        log_back = combined(503, now) * 2
        # Stale while the fault lasts, with the reason; polled again and again.
        for _ in range(2):
            await hub.poll(source)
        status = hub.snapshot().statuses["nginx"]
        if fault == "directory":
            assert status.freshness is Freshness.STALE and "is a directory" in status.reason
            become_file_again(log, log_back)
        else:
            log.write_text(log_back)
        assert await hub.poll(source)
        snap = hub.snapshot()
        assert snap.statuses["nginx"].freshness is Freshness.FRESH
        series = snap.readings["nginx"]
        assert series.requests == 5 and series.errors_5xx == 2  # type: ignore[union-attr]
    finally:
        await hub.aclose()


async def test_the_access_log_that_is_a_directory_at_start_recovers(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.mkdir()
    source = AccessLogTail(AccessLogConfig(name="nginx", path=log))
    hub = Hub([source])
    try:
        assert not await hub.poll(source)
        assert "is a directory" in hub.snapshot().statuses["nginx"].reason
        log.rmdir()
        log.write_text("")
        assert await hub.poll(source)
        with log.open("a") as out:
            out.write(combined(500, datetime.now(UTC)))
        assert await hub.poll(source)
        assert hub.snapshot().readings["nginx"].errors_5xx == 1  # type: ignore[union-attr]
    finally:
        await hub.aclose()


async def test_the_deploy_log_recovers(tmp_path: Path) -> None:
    log = tmp_path / "deploys.jsonl"
    record = {"service": "web", "version": "2", "who": "a", "at": "2026-01-01T00:00:00Z"}
    log.write_text(json.dumps(record) + "\n")
    source = JsonlDeployLog(JsonlDeployLogConfig(name="deploys", path=log))
    hub = Hub([source])
    try:
        assert await hub.poll(source)
        become_directory(log)
        assert not await hub.poll(source)
        assert "is a directory" in hub.snapshot().statuses["deploys"].reason
        become_file_again(log, json.dumps(record) + "\n")
        assert await hub.poll(source)
        deploys = hub.snapshot().readings["deploys"]
        assert [d.version for d in deploys.deploys] == ["2"]  # type: ignore[union-attr]
    finally:
        await hub.aclose()


def test_a_stale_reason_is_readable_at_80_columns_and_clears_by_itself(tmp_path: Path) -> None:
    from pty_harness import PtyRun
    from revert_world import COCKPIT, RevertWorld

    log = tmp_path / "var" / "log" / "nginx-frontends" / "files-web-access.log"
    log.parent.mkdir(parents=True)
    sections = (
        f'\n[[errors]]\nname = "nginx"\nkind = "nginx_combined"\npath = "{log}"\ninterval = 0.5\n'
    )
    with RevertWorld(tmp_path / "w", sections=sections) as world:
        run = PtyRun([str(COCKPIT)], 80, 24, env=world.env())
        try:
            # Wrapped inside the 5xx panel (39 columns at 80), the reason first, whole.
            def whole(text: str) -> bool:
                # A long path breaks mid-word, so the rows join without their spaces.
                rows = (line[:40].strip(" │╭╮╰╯─") for line in text.splitlines())
                panel = "".join(rows).replace(" ", "")
                return "!nosuchfile:" in panel and f"{log}(nginx)" in panel

            assert run.wait_for(whole, 30), run.text()
            assert run.wait_for(lambda t: "stale since" in t, 5), run.text()
            log.write_text(combined(503, datetime.now(UTC)))
            assert run.wait_for(lambda t: "no such file" not in t and "stale since" not in t, 30), (
                run.text()
            )
        finally:
            run.stop()
