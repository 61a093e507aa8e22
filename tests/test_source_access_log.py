"""AccessLogTail on real files: exact bucket counts, tail -F rotation, read_back, bounds."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cockpit.config import AccessLogConfig
from cockpit.model import Category, ErrorSeries
from cockpit.sources import access_log
from cockpit.sources.access_log import AccessLogTail, parse_time_local
from cockpit.sources.base import SourceError

NOW = datetime(2026, 11, 21, 7, 0, 5, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def entry(
    when: datetime,
    status: int = 200,
    path: str = "/api/files",
    agent: str = "curl/8.5.0",
    offset: timedelta = timedelta(0),
) -> str:
    local = when.astimezone(timezone(offset))
    stamp = local.strftime("%d/%b/%Y:%H:%M:%S %z")
    return (
        f'203.0.113.7 - - [{stamp}] "GET {path} HTTP/1.1" {status} 612 '
        f'"https://files.example.com/" "{agent}"\n'
    )


def at(minute: int, second: int, hour: int = 6) -> datetime:
    return datetime(2026, 11, 21, hour, minute, second, tzinfo=UTC)


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write("".join(lines))


def tail(
    path: Path, clock: Callable[[], datetime] | None = None, **options: object
) -> AccessLogTail:
    options.setdefault("bucket_seconds", 10)
    options.setdefault("window", 300)
    cfg = AccessLogConfig(name="edge", path=path, **options)  # type: ignore[arg-type]
    return AccessLogTail(cfg, clock=clock or Clock())


def counts(series: ErrorSeries) -> dict[datetime, tuple[int, int]]:
    """Non-empty buckets only, by start time."""
    return {b.start: (b.requests, b.errors_5xx) for b in series.buckets if b.requests}


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.touch()
    return path


async def test_exact_bucket_counts(log_path: Path) -> None:
    append(log_path, entry(at(59, 0), 500))  # already there at start: not counted
    source = tail(log_path)
    try:
        empty = await source.poll()
        assert empty.source == "edge" and empty.bucket_seconds == 10
        assert len(empty.buckets) == 30
        assert empty.buckets[-1].start == datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
        assert empty.buckets[0].start == datetime(2026, 11, 21, 6, 55, 10, tzinfo=UTC)
        assert empty.requests == 0 and empty.first_ts is None and empty.last_ts is None

        append(
            log_path,
            entry(at(58, 1)),
            entry(at(58, 9), 502),
            entry(at(58, 10), 404),
            *(entry(at(59, 59)) for _ in range(3)),
            entry(at(0, 4, hour=7), 500),
            # 08:00:03 at +01:00 is 07:00:03 UTC
            entry(at(0, 3, hour=7), 503, offset=timedelta(hours=1)),
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {
        at(58, 0): (2, 1),
        at(58, 10): (1, 0),
        at(59, 50): (3, 0),
        at(0, 0, hour=7): (2, 2),
    }
    assert [b.start for b in series.buckets] == [
        NOW.replace(second=0) - timedelta(seconds=10 * i) for i in range(29, -1, -1)
    ]
    assert (series.requests, series.errors_5xx) == (8, 3)
    assert series.unparsed_lines == 0
    assert series.first_ts == at(58, 1)
    assert series.last_ts == at(0, 4, hour=7)
    assert (source.category, source.kind, source.target) == (
        Category.ERRORS,
        "nginx_combined",
        str(log_path),
    )


async def test_unparseable_lines_are_counted(log_path: Path) -> None:
    source = tail(log_path)
    try:
        await source.poll()
        append(
            log_path,
            "garbage\n",
            "\n",
            entry(at(59, 0)).replace("21/Nov/2026", "32/Nov/2026"),
            entry(at(59, 0)).replace("Nov", "Foo"),
            entry(at(59, 0)).replace(" 200 ", " OK "),
            entry(at(59, 0)).replace(" 200 ", " 2000 "),
            entry(at(59, 1), 500),
            entry(at(59, 2))[:40],  # half written: waits, not counted
        )
        series = await source.poll()
        assert series.unparsed_lines == 6
        assert series.requests == 1
        append(log_path, entry(at(59, 2))[40:])
        series = await source.poll()
    finally:
        await source.aclose()
    assert series.unparsed_lines == 6
    assert counts(series) == {at(59, 0): (2, 1)}


async def test_crafted_user_agent_counts_once(log_path: Path) -> None:
    fake = '[21/Nov/2026:06:59:00 +0000] "GET / HTTP/1.1" 500 1 "x'
    source = tail(log_path)
    try:
        await source.poll()
        append(log_path, entry(at(59, 0), 200, agent=fake))
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (1, 0)}
    assert series.unparsed_lines == 0


async def test_rotation_by_rename_loses_nothing(log_path: Path) -> None:
    source = tail(log_path)
    writer = log_path.open("a", encoding="utf-8")  # the server keeps its handle, like nginx
    try:
        await source.poll()
        writer.write(entry(at(58, 0)) * 2)
        writer.flush()
        assert (await source.poll()).requests == 2

        writer.write(entry(at(58, 1), 500))
        writer.flush()
        log_path.rename(log_path.with_name("access.log.1"))
        writer.write(entry(at(58, 2)))  # still to the old file: the server has not reopened
        writer.flush()
        series = await source.poll()  # renamed away, new one not there yet
        assert series.requests == 4

        append(log_path, entry(at(59, 0)), entry(at(59, 1), 503))  # the new file
        writer.write(entry(at(58, 3)))  # a late line to the old file
        writer.flush()
        series = await source.poll()
        assert counts(series) == {at(58, 0): (5, 1), at(59, 0): (2, 1)}

        writer.write(entry(at(58, 4)))
        writer.flush()
        writer.close()
        writer = log_path.open("a", encoding="utf-8")  # the server reopens its log
        writer.write(entry(at(59, 5)))
        writer.flush()
        series = await source.poll()
        series = await source.poll()
    finally:
        writer.close()
        await source.aclose()
    assert counts(series) == {at(58, 0): (6, 1), at(59, 0): (3, 1)}
    assert series.unparsed_lines == 0


async def test_rotation_by_copytruncate_loses_nothing(log_path: Path) -> None:
    source = tail(log_path)
    try:
        await source.poll()
        append(log_path, *(entry(at(58, 0)) for _ in range(3)))
        assert (await source.poll()).requests == 3
        shutil.copyfile(log_path, log_path.with_name("access.log.1"))
        os.truncate(log_path, 0)
        append(log_path, entry(at(59, 0), 500))
        series = await source.poll()
        assert counts(series) == {at(58, 0): (3, 0), at(59, 0): (1, 1)}

        # Truncated and written past the old offset before the next poll.
        os.truncate(log_path, 0)
        append(log_path, *(entry(at(59, 10), 502) for _ in range(5)))
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(58, 0): (3, 0), at(59, 0): (1, 1), at(59, 10): (5, 5)}
    assert series.unparsed_lines == 0


async def test_read_back_takes_only_the_last_seconds(log_path: Path) -> None:
    # An hour of history, one line per second, far larger than one search probe.
    start = NOW - timedelta(seconds=3600)
    append(
        log_path,
        *(entry(start + timedelta(seconds=i), 500 if i % 7 == 0 else 200) for i in range(3601)),
    )
    assert log_path.stat().st_size > 4 * access_log._PROBE_BYTES
    source = tail(log_path, read_back=60)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    since = NOW - timedelta(seconds=60)
    expected = [start + timedelta(seconds=i) for i in range(3601)]
    wanted = [t for t in expected if t >= since]
    assert series.requests == len(wanted) == 61
    assert series.first_ts == since
    assert series.last_ts == NOW
    assert series.errors_5xx == sum(1 for i, t in enumerate(expected) if t >= since and i % 7 == 0)


async def test_read_back_larger_than_the_file_reads_it_all(log_path: Path) -> None:
    append(log_path, entry(at(59, 0)), entry(at(59, 30), 500))
    source = tail(log_path, read_back=600)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (1, 0), at(59, 30): (1, 1)}


async def test_backlog_is_read_over_several_polls(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "MAX_READ", 4096)
    source = tail(log_path)
    try:
        await source.poll()
        append(log_path, *(entry(at(59, i % 60)) for i in range(200)))
        first = await source.poll()
        assert 0 < first.requests < 200
        polls = 1
        series = first
        while series.requests < 200 and polls < 50:
            series = await source.poll()
            polls += 1
    finally:
        await source.aclose()
    assert series.requests == 200
    assert series.unparsed_lines == 0


async def test_ring_stays_bounded(log_path: Path) -> None:
    clock = Clock()
    source = tail(log_path, clock=clock, window=60, bucket_seconds=10)
    ring = source.ring_size
    try:
        await source.poll()
        # Ten windows of lines, only the last minute is shown.
        append(log_path, *(entry(NOW - timedelta(seconds=s)) for s in range(600)))
        series = await source.poll()
        assert len(series.buckets) == 6
        assert series.requests == 56  # 07:00:00..07:00:05 and 06:59:10..06:59:59
        assert series.first_ts == NOW - timedelta(seconds=599)

        # Time passes: a whole ring later the old counts must not come back as new ones.
        clock.now = NOW + timedelta(seconds=10 * ring)
        assert (await source.poll()).requests == 0
        append(log_path, entry(clock.now))
        series = await source.poll()
    finally:
        await source.aclose()
    assert series.requests == 1
    assert source.ring_size == ring
    assert len(series.buckets) == 6


async def test_missing_file_then_created(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    source = tail(path)
    try:
        with pytest.raises(SourceError) as caught:
            await source.poll()
        assert str(caught.value) == f"no such file: {path}"
        append(path, entry(at(59, 0)))  # all of a file that appeared later is new
        series = await source.poll()
    finally:
        await source.aclose()
    assert series.requests == 1


def test_parse_time_local() -> None:
    assert parse_time_local(b"21/Nov/2026:08:15:02 +0000") == int(
        datetime(2026, 11, 21, 8, 15, 2, tzinfo=UTC).timestamp()
    )
    assert parse_time_local(b"21/Nov/2026:08:15:02 -0130") == int(
        datetime(2026, 11, 21, 9, 45, 2, tzinfo=UTC).timestamp()
    )
    for bad in (b"", b"29/Feb/2026:00:00:00 +0000", b"21/nov/2026:08:15:02 +0000", b"x" * 26):
        assert parse_time_local(bad) is None
