"""Rotation by a real logrotate (own config and state file, run by the test) under a real
nginx: every line nginx logged is counted once, whatever happens between two polls."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_servers import Nginx, logged_lines, running_nginx, wait_for_lines
from programs import program
from test_nginx_access_log import STATUSES, combined_entry, counted, drive, expected, tail

from cockpit.config.errors import AccessLogConfig
from cockpit.model import ErrorSeries
from cockpit.sources.logs.access_log import AccessLogTail


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    with running_nginx(tmp_path / "nginx") as server:
        yield server


def logrotate(nginx: Nginx, how: str) -> None:
    """One forced rotation of access.log, `how` = "create" (then nginx reopens, as the Debian
    package's postrotate does) or "copytruncate"."""
    conf = nginx.prefix / f"logrotate-{how}.conf"
    reopen = ""
    if how == "create":
        pid = nginx.prefix / "nginx.pid"
        reopen = f"    postrotate\n        kill -USR1 $(cat {pid})\n    endscript\n"
    conf.write_text(
        f"{nginx.access_log} {{\n    {how}\n    rotate 9\n    nocompress\n    missingok\n"
        f"{reopen}}}\n"
    )
    state = nginx.prefix / "logrotate.state"
    subprocess.run(
        [program("logrotate"), "--force", "--state", str(state), str(conf)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def rotated(nginx: Nginx) -> list[Path]:
    """access.log.N ... access.log.1, access.log: oldest first."""
    logs = nginx.access_log.parent
    old = sorted(logs.glob("access.log.*"), key=lambda p: -int(p.suffix[1:]))
    return [*old, nginx.access_log]


def sent_errors(first: int, count: int) -> int:
    return sum(1 for i in range(first, first + count) if STATUSES[i % len(STATUSES)] >= 500)


def assert_all_once(series: ErrorSeries, nginx: Nginx, total: int, errors: int) -> None:
    lines = wait_for_lines(total, *rotated(nginx))
    assert len(lines) == total  # the server's own log holds each request once
    assert counted(series) == expected([combined_entry(line) for line in lines])
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (total, errors, 0)


@pytest.mark.parametrize("how", ["create", "copytruncate"])
async def test_rotations_between_two_polls_lose_nothing(nginx: Nginx, how: str) -> None:
    source = tail(AccessLogConfig, nginx.access_log)
    try:
        await source.poll()
        drive(nginx, 30)
        wait_for_lines(30, nginx.access_log)
        assert (await source.poll()).requests == 30
        # Written after that poll, then rotated away, twice, before the next poll.
        drive(nginx, 25, first=30)
        wait_for_lines(55, *rotated(nginx))
        logrotate(nginx, how)
        drive(nginx, 20, first=55)
        wait_for_lines(75, *rotated(nginx))
        logrotate(nginx, how)
        drive(nginx, 15, first=75)
        wait_for_lines(90, *rotated(nginx))
        series = await source.poll()
        series = await source.poll()  # the old file drained, the new one read
    finally:
        await source.aclose()
    assert len(rotated(nginx)) == 3
    assert_all_once(series, nginx, 90, sent_errors(0, 90))


@pytest.mark.parametrize("how", ["create", "copytruncate"])
async def test_read_back_reaches_into_the_rotated_file(nginx: Nginx, how: str) -> None:
    drive(nginx, 40)
    wait_for_lines(40, nginx.access_log)
    logrotate(nginx, how)
    drive(nginx, 20, first=40)
    wait_for_lines(60, *rotated(nginx))
    assert logged_lines(nginx.access_log) and len(rotated(nginx)) == 2
    source = tail(AccessLogConfig, nginx.access_log, read_back=600)
    try:
        series = await source.poll()
        assert not getattr(series, "behind", "")
        drive(nginx, 10, first=60)  # and it follows on from there
        wait_for_lines(70, *rotated(nginx))
        series = await source.poll()
    finally:
        await source.aclose()
    assert_all_once(series, nginx, 70, sent_errors(0, 70))


async def test_truncation_deletion_and_recreation(nginx: Nginx) -> None:
    source: AccessLogTail = tail(AccessLogConfig, nginx.access_log)
    counted_lines: list[str] = []
    try:
        await source.poll()
        drive(nginx, 10)
        counted_lines += wait_for_lines(10, nginx.access_log)
        await source.poll()
        os.truncate(nginx.access_log, 0)  # nginx appends: it writes from 0 again
        drive(nginx, 12, first=10)
        counted_lines += wait_for_lines(12, nginx.access_log)
        await source.poll()
        nginx.access_log.unlink()  # deleted; nginx writes to the unlinked file until reopened
        drive(nginx, 5, first=22)
        await source.poll()
        nginx.reopen()  # re-created by nginx
        drive(nginx, 8, first=27)
        counted_lines += wait_for_lines(8, nginx.access_log)
        series = await source.poll()
        series = await source.poll()
    finally:
        await source.aclose()
    total = 10 + 12 + 5 + 8  # the 5 went to the deleted file, which we still held open
    assert series.requests == total
    assert series.errors_5xx == sent_errors(0, total)
    assert len(counted_lines) == total - 5
