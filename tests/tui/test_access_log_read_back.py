"""A large read-back: `cockpit check` reads the whole window however many MiB it holds, and
says so when it could not; a poll that runs out of time shows the newest lines first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pilot_wait import shown_text
from test_errors_panel import Host

from cockpit.cli import main
from cockpit.config.errors import AccessLogConfig
from cockpit.detect.detector import Assessment
from cockpit.hub import Snapshot
from cockpit.model import Category, Freshness, SourceStatus
from cockpit.runtime import View
from cockpit.sources.logs import access_log
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.timeutil import utcnow
from cockpit.world.accesslog import combined_line, time_local
from widgets.panels import ErrorsPanel

LINES_PER_SECOND = 50
SECONDS = 1200  # 60,000 lines, about 11 MiB: more than the 8 MiB a poll used to read


def write_log(path: Path, end: datetime) -> int:
    """SECONDS of traffic up to `end`; every tenth line a 503. Returns the 5xx written."""
    template = combined_line(
        remote_addr="203.0.113.7",
        when=end,
        request_line="GET /files/4711/report.pdf?session=0123456789abcdef HTTP/1.1",
        status=200,
        body_bytes=48213,
        referer="https://files.example.com/browse/projects/2026/quarterly-reports",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    )
    stamp = time_local(end)
    errors = 0
    with path.open("w", encoding="ascii") as out:
        for second in range(SECONDS):
            when = time_local(end - timedelta(seconds=SECONDS - 1 - second))
            for i in range(LINES_PER_SECOND):
                line = template.replace(stamp, when)
                if i % 10 == 0:
                    line = line.replace('" 200 ', '" 503 ')
                    errors += 1
                out.write(line + "\n")
    return errors


def test_check_reads_the_whole_read_back_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    errors = write_log(log, utcnow())
    assert log.stat().st_size > 8 * 1024 * 1024
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f'[[errors]]\nname = "edge"\npath = "{log}"\nwindow = 1800\nread_back = 1800\n'
    )
    assert main(["--config", str(config), "check", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["ok"], row["complete"], row["error"]) == (True, True, "")
    assert (row["requests"], row["errors_5xx"]) == (SECONDS * LINES_PER_SECOND, errors)


def test_check_says_when_it_could_not_read_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log"
    write_log(log, utcnow())
    monkeypatch.setattr(access_log, "CHUNK", 1024 * 1024)
    monkeypatch.setattr(access_log, "READ_SHARE", 0.0)  # out of time after the first chunk
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f'[[errors]]\nname = "edge"\npath = "{log}"\nwindow = 1800\nread_back = 1800\n'
    )
    assert main(["--config", str(config), "check", "--json"]) == 1
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["ok"] is False and row["complete"] is False
    assert row["error"].startswith("read back 1.0 MiB of 1") and "(the last 1800 s)" in row["error"]
    assert 0 < row["requests"] < SECONDS * LINES_PER_SECOND


async def test_a_long_read_back_shows_the_newest_lines_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log"
    end = datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
    write_log(log, end)
    monkeypatch.setattr(access_log, "CHUNK", 1024 * 1024)
    monkeypatch.setattr(access_log, "READ_SHARE", 0.0)
    cfg = AccessLogConfig(name="edge", path=log, window=1800, read_back=1800, bucket_seconds=10)
    source = AccessLogTail(cfg, clock=lambda: end)
    try:
        first = await source.poll()
        polls = 1
        series = first
        while series.behind and polls < 50:
            series = await source.poll()
            polls += 1
    finally:
        await source.aclose()
    # The first poll read only the newest MiB: the last buckets are whole, the first empty.
    counted = [b.requests for b in first.buckets if b.requests]
    # (The newest bucket holds the log's last second only.)
    assert first.behind and first.buckets[-1].requests == LINES_PER_SECOND
    assert first.buckets[-2].requests == first.buckets[-3].requests == 10 * LINES_PER_SECOND
    assert not first.buckets[-SECONDS // 10].requests
    assert 0 < sum(counted) < SECONDS * LINES_PER_SECOND
    # Then the rest, oldest last, each line once.
    assert polls > 5 and not series.behind
    assert series.requests == SECONDS * LINES_PER_SECOND and series.unparsed_lines == 0


async def test_the_errors_panel_says_it_is_still_reading_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log"
    end = datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
    write_log(log, end)
    monkeypatch.setattr(access_log, "CHUNK", 1024 * 1024)
    monkeypatch.setattr(access_log, "READ_SHARE", 0.0)
    cfg = AccessLogConfig(name="edge", path=log, window=1800, read_back=1800, bucket_seconds=10)
    source = AccessLogTail(cfg, clock=lambda: end)
    try:
        first = await source.poll()
    finally:
        await source.aclose()
    status = SourceStatus("edge", "nginx_combined", Category.ERRORS, Freshness.FRESH, end)
    view = View(Snapshot(end, 1, {"edge": status}, {"edge": first}), Assessment(), None, ())
    app = Host(ascii_only=False)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(view)
        await pilot.pause()
        text = shown_text(panel)
    assert first.behind and "still reading back" in text
