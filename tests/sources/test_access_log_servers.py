"""Each format as its server writes it, against the real server: HAProxy `httplog`,
`httpslog` and `httplog clf`; Caddy's time formats and its status 0 for an aborted request;
Apache's escapes in %r; nginx `escape=json` in a combined-shaped format. Each line the server
logged is counted once, 5xx under their route, none left unparsed."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nginx_servers import Nginx, proxy_server, running_nginx
from nginx_servers import wait_for_lines as wait_for_nginx
from proxy_servers import running_apache, running_caddy, running_haproxy, wait_for_lines

from cockpit.cli import main
from cockpit.config.errors import (
    AccessLogBase,
    AccessLogConfig,
    CaddyLogConfig,
    HaproxyLogConfig,
)
from cockpit.model import ErrorSeries
from cockpit.sources.base import SourceError
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.sources.logs.formats import nginx_combined
from cockpit.sources.logs.health import why_unread

ASKED = (200, 503, 404, 502, 200, 500)


def tail(cfg_type: type[AccessLogBase], path: Path, **options: object) -> AccessLogTail:
    cfg = cfg_type(name="edge", path=path, bucket_seconds=10, window=600, read_back=600, **options)  # type: ignore[arg-type]
    return AccessLogTail(cfg)


def drive(url: str, count: int = 12) -> int:
    """`count` requests, statuses from ASKED; returns the 5xx asked for."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(count):
            status = ASKED[i % len(ASKED)]
            assert client.get(f"/status/{status}/{1000 + i}?q=1").status_code == status
    return sum(1 for i in range(count) if ASKED[i % len(ASKED)] >= 500)


async def read(source: AccessLogTail) -> ErrorSeries:
    try:
        return await source.poll()
    finally:
        await source.aclose()


def routes(series: ErrorSeries) -> set[tuple[str, str, int]]:
    return {
        (str(r.route.method), str(r.route.path), r.status)
        for b in series.buckets
        for r in b.routes_5xx
    }


FIVES = {("GET", "/status/{id}/{id}", s) for s in (500, 502, 503)}


@pytest.mark.parametrize("option", ["option httplog", "option httpslog", "option httplog clf"])
async def test_haproxy_log_options(tmp_path: Path, option: str) -> None:
    with running_haproxy(tmp_path, option) as proxy:
        errors = drive(proxy.url)
        # The readiness check's connection is logged too (<BADREQ>, 400): a request.
        lines = wait_for_lines(proxy.log, 13)
    assert len(lines) == 13, lines
    series = await read(tail(HaproxyLogConfig, proxy.log))
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (13, errors, 0)
    assert routes(series) == FIVES
    upstreams = {str(r.route.upstream) for b in series.buckets for r in b.routes_5xx}
    assert upstreams == {"app"}


def access_lines(log: Path, count: int) -> list[str]:
    return [line for line in wait_for_lines(log, count) if "http.log.access" in line]


def caddy_traffic(url: str, log: Path, aborted: bool) -> tuple[int, int, list[str]]:
    """(5xx asked, requests made, access lines logged)."""
    errors = drive(url, 6)
    if aborted:
        # Given up before the answer: Caddy logs "status": 0, a request and not a 5xx.
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{url}/slow/1", timeout=0.2)
    count = 7 if aborted else 6
    deadline = time.monotonic() + 10
    lines = access_lines(log, count)
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.05)  # the aborted one is logged when the upstream answers, 1 s on
        lines = access_lines(log, count)
    return errors, count, lines


@pytest.mark.parametrize(
    "time_format",
    ["", "wall", "wall_milli", "wall_nano", "iso8601", "rfc3339_nano", "unix_nano", "common_log"],
)
async def test_caddy_time_formats_and_aborted_requests(tmp_path: Path, time_format: str) -> None:
    encoder = "json" + (
        f" {{\n            time_format {time_format}\n        }}" if time_format else ""
    )
    started = time.time()
    with running_caddy(tmp_path, encoder) as proxy:
        errors, count, lines = caddy_traffic(proxy.url, proxy.log, aborted=not time_format)
    if not time_format:
        assert any('"status":0' in line for line in lines)
    series = await read(tail(CaddyLogConfig, proxy.log))
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (count, errors, 0)
    assert series.first_ts is not None and series.last_ts is not None
    assert started - 1 <= series.first_ts.timestamp() <= series.last_ts.timestamp() <= time.time()
    assert routes(series) == FIVES


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(64)


async def test_apache_escapes_in_the_request(tmp_path: Path) -> None:
    with running_apache(tmp_path) as proxy:
        errors = drive(proxy.url)
        # A raw '"' and '\' in the target: Apache logs them as \" and \\, still a 503.
        answer = raw_request(
            proxy.port,
            b'GET /status/503/a"b\\c" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        )
        assert answer.startswith(b"HTTP/1.1 503")
        raw_request(proxy.port, b"GET /status/200/\xc3\xa9\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        lines = wait_for_lines(proxy.log, 14)
    assert any('a\\"b\\\\c\\"' in line for line in lines) and any("\\xc3" in line for line in lines)
    series = await read(tail(AccessLogConfig, proxy.log))
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (14, errors + 1, 0)
    assert routes(series) == FIVES | {("GET", '/status/{id}/a\\"b\\\\c\\"', 503)}


def escaped_server(prefix: Path, port: int, upstream: int) -> str:
    # The combined layout with escape=json: '"' in a field is written \" (not \x22).
    formats = (
        "log_format combined_json escape=json '$remote_addr - $remote_user [$time_local] "
        '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"\';\n'
        f"    access_log {prefix}/logs/escaped.log combined_json;\n    "
    )
    return formats + proxy_server(prefix, port, upstream)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    with running_nginx(tmp_path, escaped_server) as server:
        yield server


def drive_with_agent(url: str) -> None:
    agent = 'x" 500 1 "y" [21/Nov/2026:06:59:00 +0000] "GET / HTTP/1.1" 503 1 "z'
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(12):
            status = ASKED[i % len(ASKED)]
            response = client.get(f"/status/{status}/{i}", headers={"User-Agent": agent})
            assert response.status_code == status


async def test_nginx_escape_json_in_the_combined_layout(nginx: Nginx) -> None:
    log = nginx.access_log.with_name("escaped.log")
    drive_with_agent(nginx.url)
    lines = wait_for_nginx(12, log)
    assert all(re.search(r'x\\" 500', line) for line in lines)
    series = await read(tail(AccessLogConfig, log))
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (12, 6, 0)
    assert routes(series) == FIVES


def test_check_json_names_a_line_it_could_not_read(
    nginx: Nginx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drive(nginx.url, 24)
    wait_for_nginx(24, nginx.access_log)
    with nginx.access_log.open("a") as log:
        log.write('{"time_iso8601":"2026-12-03T07:00:00+00:00","status":200}\n')
        log.write('127.0.0.1 - - [32/Foo/2026:99:00:00 +0000] "GET / HTTP/1.1" 500 1 "-" "-"\n')
    config = tmp_path / "cockpit.toml"
    config.write_text(f'[[errors]]\nname = "edge"\npath = "{nginx.access_log}"\nread_back = 600\n')
    assert main(["--config", str(config), "check", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["ok"], row["requests"], row["unparsed_lines"]) == (True, 24, 2)
    assert row["unparsed_example"] == {
        "line": '127.0.0.1 - - [32/Foo/2026:99:00:00 +0000] "GET / HTTP/1.1" 500 1 "-" "-"',
        "why": "its time '32/Foo/2026:99:00:00 +0000' does not read as a time",
    }
    json_line = b'{"time_iso8601":"2026-12-03T07:00:00+00:00","status":200}'
    assert why_unread(nginx_combined(), json_line) == (
        'no time and status where nginx_combined has them; kind = "nginx_json" reads 1 of 1 sampled'
    )


# The common log with a time Apache writes without an offset, on a UTC+05:30 host.
NO_OFFSET = '%h %l %u [%{%d/%b/%Y:%H:%M:%S}t] \\"%r\\" %>s %b'


async def test_common_log_without_offset_is_read_in_its_zone(tmp_path: Path) -> None:
    started = time.time()
    with running_apache(tmp_path, NO_OFFSET, timezone="Asia/Kolkata") as proxy:
        errors = drive(proxy.url)
        lines = wait_for_lines(proxy.log, 12)
    assert re.search(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\] ", lines[0]), lines[0]
    series = await read(tail(AccessLogConfig, proxy.log, timezone="Asia/Kolkata"))
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (12, errors, 0)
    assert series.first_ts is not None and series.last_ts is not None
    assert started - 1 <= series.first_ts.timestamp() <= series.last_ts.timestamp() <= time.time()
    # Read as UTC, every line is 5 h 30 min ahead: stale, saying which key to set.
    with pytest.raises(SourceError, match=r"5 h 30 min ahead of this clock.*set timezone"):
        await read(tail(AccessLogConfig, proxy.log))
