"""AccessLogTail on real files, in every log format: exact bucket counts, tail -F rotation,
read_back, bounds, unparseable lines counted."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cockpit.cli import main
from cockpit.config import AccessLogConfig, ConfigError, parse
from cockpit.config.errors import (
    AccessLogBase,
    CaddyLogConfig,
    EnvoyLogConfig,
    HaproxyLogConfig,
    NginxJsonLogConfig,
    RegexLogConfig,
)
from cockpit.model import Category, ErrorSeries
from cockpit.sources.base import SourceError
from cockpit.sources.logs import access_log
from cockpit.sources.logs.access_log import AccessLogTail, parse_time_local
from cockpit.sources.registry import build_source
from cockpit.timeutil import iso_utc

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
    monkeypatch.setattr(access_log, "CHUNK", 4096)
    monkeypatch.setattr(access_log, "READ_SHARE", 0.0)  # one chunk per poll
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


# -- other formats, one tail --------------------------------------------------------------------
# Sample lines follow each proxy's documentation; every format goes through the same counting,
# rotation and read_back tests as nginx combined.

_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _clf(when: datetime) -> str:
    return f"{when.day:02d}/{_MONTH_NAMES[when.month - 1]}/{when.year}:{when:%H:%M:%S}"


def nginx_json_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    request = json.dumps(f"GET {path} HTTP/1.1")
    return (
        f'{{"time_iso8601":"{when.isoformat()}","remote_addr":"203.0.113.7",'
        f'"request":{request},"status":{status},"body_bytes_sent":612,'
        f'"http_user_agent":"curl/8.5.0","request_time":"0.003"}}\n'
    )


def nginx_msec_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    # Quoted status and the time last: keys come in whatever order log_format gives them.
    return (
        f'{{"remote_addr": "203.0.113.7", "request": {json.dumps(f"GET {path} HTTP/1.1")}, '
        f'"status": "{status}", "msec": "{when.timestamp():.3f}"}}\n'
    )


def haproxy_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    server = "static/<NOSRV>" if status == 503 else "static/srv1"
    timers = "-1/-1/-1/-1/+0" if status == 503 else "10/0/30/69/109"
    return (
        f"Nov 21 {when:%H:%M:%S} lb1 haproxy[14389]: 203.0.113.7:33317 "
        f"[{_clf(when)}.655] http-in {server} {timers} {status} 2750 - - ---- "
        f'1/1/1/1/0 0/0 {{files.example.com}} {{}} "GET {path} HTTP/1.1"\n'
    )


def caddy_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    entry = {
        "level": "error" if status >= 500 else "info",
        "ts": when.timestamp() + 0.5241024,
        "logger": "http.log.access.log0",
        "msg": "handled request",
        "request": {
            "remote_ip": "203.0.113.7",
            "remote_port": "41342",
            "proto": "HTTP/2.0",
            "method": "GET",
            "host": "files.example.com",
            "uri": path,
            "headers": {"User-Agent": ["curl/8.5.0"], "Accept": ["*/*"]},
        },
        "bytes_read": 0,
        "user_id": "",
        "duration": 0.000929675,
        "size": 10900,
        "status": status,
        "resp_headers": {"Server": ["Caddy"], "Content-Type": ["text/html; charset=utf-8"]},
    }
    return json.dumps(entry, separators=(",", ":")) + "\n"


def envoy_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    flags = "UF" if status == 503 else "-"
    return (
        f'[{when:%Y-%m-%dT%H:%M:%S}.310Z] "GET {path} HTTP/1.1" {status} {flags} 0 612 3 2 '
        f'"203.0.113.7" "curl/8.5.0" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" '
        f'"files.example.com" "10.0.2.1:80"\n'
    )


APP_PATTERN = (
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ request \S+ \S+ -> (?P<status>\d+) "
)


def app_line(when: datetime, status: int = 200, path: str = "/api/files") -> str:
    return f"{when:%Y-%m-%d %H:%M:%S},123 INFO request GET {path} -> {status} in 3ms\n"


@dataclass(frozen=True)
class Format:
    config: type[AccessLogBase]
    line: Callable[..., str]
    options: dict[str, object] = field(default_factory=dict)


FORMATS = {
    "nginx_combined": Format(AccessLogConfig, entry),
    "nginx_json": Format(NginxJsonLogConfig, nginx_json_line),
    "nginx_json_msec": Format(NginxJsonLogConfig, nginx_msec_line, {"time_key": "msec"}),
    "haproxy": Format(HaproxyLogConfig, haproxy_line),
    "caddy": Format(CaddyLogConfig, caddy_line),
    "envoy": Format(EnvoyLogConfig, envoy_line),
    "regex": Format(
        RegexLogConfig, app_line, {"pattern": APP_PATTERN, "time_format": "%Y-%m-%d %H:%M:%S"}
    ),
}


def format_tail(
    fmt: Format, path: Path, clock: Callable[[], datetime] | None = None, **options: object
) -> AccessLogTail:
    cfg = fmt.config(
        name="edge",
        path=path,
        **{"bucket_seconds": 10, "window": 300, **fmt.options, **options},  # type: ignore[arg-type]
    )
    return AccessLogTail(cfg, clock=clock or Clock())


@pytest.fixture(params=sorted(FORMATS))
def fmt(request: pytest.FixtureRequest) -> Format:
    return FORMATS[request.param]


async def test_every_format_counts_exactly(fmt: Format, log_path: Path) -> None:
    append(log_path, fmt.line(at(59, 0), 500))  # already there at start: not counted
    source = format_tail(fmt, log_path)
    try:
        assert (await source.poll()).requests == 0
        append(
            log_path,
            fmt.line(at(58, 1)),
            fmt.line(at(58, 9), 502),
            "garbage\n",
            fmt.line(at(58, 10), 404),
            "\n",
            *(fmt.line(at(59, 59)) for _ in range(3)),
            fmt.line(at(0, 4, hour=7), 503),
            fmt.line(at(0, 4, hour=7))[:30],  # half written: waits, not counted
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {
        at(58, 0): (2, 1),
        at(58, 10): (1, 0),
        at(59, 50): (3, 0),
        at(0, 0, hour=7): (1, 1),
    }
    assert series.unparsed_lines == 2
    assert series.first_ts == at(58, 1)
    assert series.last_ts == at(0, 4, hour=7)
    assert source.kind == fmt.config.kind


async def test_every_format_survives_rename_rotation(fmt: Format, log_path: Path) -> None:
    source = format_tail(fmt, log_path)
    writer = log_path.open("a", encoding="utf-8")
    try:
        await source.poll()
        writer.write(fmt.line(at(58, 0)) + fmt.line(at(58, 1), 500))
        writer.flush()
        log_path.rename(log_path.with_name("access.log.1"))
        writer.write(fmt.line(at(58, 2)))  # the server has not reopened yet
        writer.flush()
        assert (await source.poll()).requests == 3
        append(log_path, fmt.line(at(59, 0), 503))  # the new file
        writer.write(fmt.line(at(58, 3)))  # late line to the old one
        writer.flush()
        writer.close()
        writer = log_path.open("a", encoding="utf-8")
        writer.write(fmt.line(at(59, 1)))
        writer.flush()
        await source.poll()
        series = await source.poll()
    finally:
        writer.close()
        await source.aclose()
    assert counts(series) == {at(58, 0): (4, 1), at(59, 0): (2, 1)}
    assert series.unparsed_lines == 0


async def test_every_format_survives_copytruncate(fmt: Format, log_path: Path) -> None:
    source = format_tail(fmt, log_path)
    try:
        await source.poll()
        append(log_path, *(fmt.line(at(58, 0)) for _ in range(3)))
        assert (await source.poll()).requests == 3
        shutil.copyfile(log_path, log_path.with_name("access.log.1"))
        os.truncate(log_path, 0)
        append(log_path, *(fmt.line(at(59, 10), 502) for _ in range(5)))  # past the old offset
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(58, 0): (3, 0), at(59, 10): (5, 5)}


async def test_every_format_reads_back(
    fmt: Format, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "_PROBE_BYTES", 4096)  # many probes in a small file
    start = NOW - timedelta(seconds=1800)
    append(log_path, "not a log line\n")
    append(
        log_path,
        *(fmt.line(start + timedelta(seconds=i), 500 if i % 7 == 0 else 200) for i in range(1801)),
    )
    assert log_path.stat().st_size > 4 * access_log._PROBE_BYTES
    source = format_tail(fmt, log_path, read_back=60)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    since = NOW - timedelta(seconds=60)
    assert series.requests == 61
    assert series.errors_5xx == sum(1 for i in range(1740, 1801) if i % 7 == 0)
    assert (series.first_ts, series.last_ts) == (since, NOW)


# -- what each format must not get wrong --------------------------------------------------------


async def test_haproxy_reads_its_zone_and_aborted_requests(log_path: Path) -> None:
    paris = ZoneInfo("Europe/Paris")
    source = format_tail(FORMATS["haproxy"], log_path, timezone="Europe/Paris")
    try:
        await source.poll()
        local = at(59, 0).astimezone(paris)  # 07:59 in Paris is 06:59 UTC
        aborted = (
            f"203.0.113.7:33317 [{_clf(local)}.100] http-in static/srv1 10/0/-1/-1/+109 -1 0 "
            f'- - CD-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"\n'
        )
        # A request line made to look like a second entry, raw (no syslog header) like
        # `log stdout format raw` writes it.
        fake = f"x [{_clf(local)}.1] a b 1/1/1/1/1 500 1 - - ---- 0/0/0/0/0 0/0"
        append(
            log_path,
            haproxy_line(local, 503),
            aborted,
            haproxy_line(local, 200, path=fake.replace(" ", "%20")).replace("%20", " "),
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (3, 1)}
    assert series.unparsed_lines == 0


async def test_caddy_counts_access_entries_only(log_path: Path) -> None:
    source = format_tail(FORMATS["caddy"], log_path)
    other = {
        "level": "error",
        "ts": at(59, 0).timestamp(),
        "logger": "http.handlers.reverse_proxy",
        "msg": "aborting with incomplete response",
        "status": 502,
    }
    iso = json.loads(caddy_line(at(59, 1), 500))
    iso["ts"] = at(59, 1).isoformat().replace("+00:00", "Z")  # encoder time_format iso8601
    crafted = json.loads(caddy_line(at(59, 2)))
    crafted["request"]["uri"] = '/x","status":500,"ts":1'
    crafted["request"]["headers"]["X-Status"] = ['"status":503']
    try:
        await source.poll()
        append(log_path, json.dumps(other) + "\n", json.dumps(iso) + "\n")
        append(log_path, json.dumps(crafted) + "\n")
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (2, 1)}
    assert series.unparsed_lines == 1  # the reverse_proxy entry is not a request


async def test_nginx_json_custom_keys_and_escaped_values(log_path: Path) -> None:
    source = format_tail(FORMATS["nginx_json"], log_path, time_key="ts", status_key="code")
    try:
        await source.poll()
        append(
            log_path,
            # $time_local under a key of its own; the escaped request mentions other keys.
            '{"ts":"21/Nov/2026:07:59:00 +0100","code":"503",'
            '"request":"GET /?\\"code\\":200,\\"ts\\":\\"x\\" HTTP/1.1"}\n',
            '{"ts":"2026-11-21T06:59:01+00:00","code":200}\n',
            '{"ts":"2026-11-21T06:59:02+00:00","code":"-"}\n',  # no status: unparsed
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (2, 1)}
    assert series.unparsed_lines == 1


async def test_envoy_no_response_is_a_request_not_a_5xx(log_path: Path) -> None:
    source = format_tail(FORMATS["envoy"], log_path)
    try:
        await source.poll()
        append(
            log_path,
            envoy_line(at(59, 0), 503),
            envoy_line(at(59, 1)).replace('" 200 -', '" 0 DC'),  # client went away
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {at(59, 0): (2, 1)}


async def test_regex_without_time_counts_when_read(log_path: Path) -> None:
    clock = Clock()
    source = format_tail(
        FORMATS["regex"],
        log_path,
        clock=clock,
        pattern=r" status=(?P<status>\d+)\b",
        time_format="",
    )
    try:
        await source.poll()
        append(
            log_path,
            "GET /a status=200\n",
            "GET /b status=503\n",
            "GET /c status=700\n",  # not an HTTP status
            "GET /d status=2000\n",
        )
        series = await source.poll()
    finally:
        await source.aclose()
    assert counts(series) == {NOW.replace(second=0): (2, 1)}
    assert series.unparsed_lines == 2
    assert series.first_ts == series.last_ts == NOW


# -- config ---------------------------------------------------------------------------------------


def test_each_format_kind_loads_from_toml(tmp_path: Path) -> None:
    config = parse(
        f"""
[[errors]]
name = "nginx"
path = "{tmp_path}/access.log"

[[errors]]
name = "nginx-json"
kind = "nginx_json"
path = "{tmp_path}/json.log"
time_key = "msec"

[[errors]]
name = "lb"
kind = "haproxy"
path = "{tmp_path}/haproxy.log"
timezone = "Europe/Paris"

[[errors]]
name = "caddy"
kind = "caddy"
path = "{tmp_path}/caddy.log"

[[errors]]
name = "mesh"
kind = "envoy"
path = "{tmp_path}/envoy.log"

[[errors]]
name = "app"
kind = "regex"
path = "{tmp_path}/app.log"
pattern = '{APP_PATTERN}'
time_format = "%Y-%m-%d %H:%M:%S"
timezone = "local"
read_back = 600
""",
        env={},
    )
    kinds = [type(c).kind for c in config.errors]
    assert kinds == ["nginx_combined", "nginx_json", "haproxy", "caddy", "envoy", "regex"]
    for cfg in config.errors:
        source = build_source(cfg)
        assert isinstance(source, AccessLogTail) and source.kind == type(cfg).kind


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ('kind = "regex"\npattern = "(\\\\d+"', "pattern", "not a valid regular expression"),
        ('kind = "regex"\npattern = "(?P<code>\\\\d+)"', "pattern", "(?P<status>...)"),
        ('kind = "regex"', "pattern", "missing required key"),
        (
            'kind = "regex"\npattern = "(?P<status>\\\\d+)"\ntime_format = "%H"',
            "time_format",
            "no (?P<time>...) group",
        ),
        ('kind = "regex"\npattern = "(?P<status>\\\\d+)"\nread_back = 60', "read_back", "time"),
        ('kind = "haproxy"\ntimezone = "Mars/Olympus"', "timezone", "unknown time zone"),
        ('kind = "nginx_json"\ntime_key = \'a"b\'', "time_key", "JSON key"),
        ('kind = "caddy"\ntimezone = "UTC"', "timezone", "unknown key"),
        ('kind = "apache"', "kind", "unknown kind 'apache'; one of: caddy, envoy, haproxy"),
    ],
)
def test_format_config_errors_name_the_key(body: str, key: str, words: str) -> None:
    text = f'[[errors]]\nname = "edge"\npath = "/var/log/x.log"\n{body}\n'
    with pytest.raises(ConfigError) as info:
        parse(text, Path("cockpit.toml"), env={})
    message = str(info.value)
    assert message.startswith("cockpit.toml:") and f": errors[0].{key}: " in message, message
    assert words in message


def test_cockpit_check_json_for_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first, last = now - timedelta(seconds=300), now - timedelta(seconds=10)
    blocks = []
    for name, fmt in FORMATS.items():
        path = tmp_path / f"{name}.log"
        append(
            path,
            fmt.line(now - timedelta(seconds=3000), 500),  # older than read_back
            fmt.line(first, 502),
            "garbage\n",
            fmt.line(first + timedelta(seconds=100)),
            fmt.line(last, 200),
        )
        options = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fmt.options.items())
        blocks.append(
            f'[[errors]]\nname = "{name}"\nkind = "{fmt.config.kind}"\npath = "{path}"\n'
            f"read_back = 600\n{options}"
        )
    config = tmp_path / "cockpit.toml"
    config.write_text("\n".join(blocks))
    assert main(["--config", str(config), "check", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in rows] == list(FORMATS)
    for row in rows:
        assert row["ok"] is True and row["error"] == "", row
        assert row["kind"] == FORMATS[row["source"]].config.kind
        assert (row["requests"], row["errors_5xx"], row["unparsed_lines"]) == (3, 1, 1), row
        assert row["ratio"] == round(1 / 3, 4)
        assert row["first_ts"] == iso_utc(first) and row["last_ts"] == iso_utc(last), row
