"""Where the 5xx went: each access-log format gives the route of every 5xx line, path ids
folded, checked against what a real nginx logged (read the plain way: split on quotes)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import httpx
from nginx_servers import Nginx, running_nginx, wait_for_lines

from cockpit.config.errors import (
    AccessLogBase,
    AccessLogConfig,
    EnvoyLogConfig,
    NginxJsonLogConfig,
)
from cockpit.model import Route, RouteErrors
from cockpit.sources.logs import formats as log_formats
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.sources.logs.routes import MAX_ROUTES, OTHER, RouteCounts, normalise_path, route

UUID = "7f1d8a2c-9b3e-4c5d-8e6f-0a1b2c3d4e5f"


def test_paths_fold_ids_and_drop_the_query() -> None:
    assert normalise_path("/files/8812/report.pdf?dl=1#top") == "/files/{id}/report.pdf"
    assert normalise_path(f"/users/{UUID}/avatar") == "/users/{id}/avatar"
    assert normalise_path("/blobs/3f786850e387550fdab836ed7e6dc881de23001b") == "/blobs/{id}"
    assert normalise_path("/api/v2/health") == "/api/v2/health"  # "v2" and words stay
    assert normalise_path("/deadbeefcafe/x") == "/deadbeefcafe/x"  # a short hex word stays
    assert normalise_path("http://example.com/a/12?q") == "/a/{id}"  # a proxy's absolute URI


def test_a_bucket_keeps_a_bounded_number_of_routes() -> None:
    counts = RouteCounts()
    for i in range(MAX_ROUTES * 10):
        counts.add(route("GET", f"/scan/word{i}"), 503)
    counts.add(route("GET", "/scan/word0"), 503, 50)
    assert len(counts.counts) == MAX_ROUTES + 1  # the rest under OTHER
    most = counts.most()
    assert most[0] == RouteErrors(Route("GET", "/scan/word0"), 503, 51)
    assert most[-1].route == OTHER
    assert sum(r.count for r in most) == MAX_ROUTES * 10 + 50


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()}


def _drive(nginx: Nginx) -> Counter[tuple[str, str, int]]:
    """5xx on three routes (one with a `[` in its Basic auth user), 2xx around them."""
    asked: Counter[tuple[str, str, int]] = Counter()
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        for i in range(60):
            if i % 3 == 0:
                status, path, want = 503, f"/status/503/files/{1000 + i}?dl=1", "files"
            elif i % 5 == 1:
                status, path, want = 502, f"/status/502/users/{UUID}/avatar", "users"
            elif i % 7 == 2:
                status, path, want = 500, "/status/500/search", "search"
            else:
                status, path, want = 200, f"/ok/{i}", ""
            headers = _auth("ev[il] user") if i % 4 == 0 else {}
            method = "POST" if want == "search" else "GET"
            response = client.request(method, path, headers=headers)
            assert response.status_code == (status if method == "GET" else 501)
            if want:
                asked[(method, want, response.status_code)] += 1
    return asked


def _truth(lines: list[str]) -> Counter[tuple[Route, int]]:
    """The routes of nginx's own 5xx lines: request = the first quoted field."""
    out: Counter[tuple[Route, int]] = Counter()
    for line in lines:
        if line.startswith("{"):
            entry = json.loads(line)
            request, status = entry["request"], int(entry["status"])
        else:
            fields = line.split('"')
            request, status = fields[1], int(fields[2].split()[0])
        if status >= 500:
            method, target, _ = request.split(" ")
            out[(Route(method, normalise_path(target)), status)] += 1
    return out


def _tail(cfg_type: type[AccessLogBase], path: Path) -> AccessLogTail:
    cfg = cfg_type(name="edge", path=path, bucket_seconds=10, window=600, read_back=600)  # type: ignore[arg-type]
    return AccessLogTail(cfg)


async def test_routes_of_5xx_equal_what_nginx_logged(nginx: Nginx) -> None:
    asked = _drive(nginx)
    combined = wait_for_lines(60, nginx.access_log)
    json_lines = wait_for_lines(60, nginx.json_log)
    assert any("[il]" in line for line in combined)  # the user with `[` was logged as sent
    for cfg_type, lines, path in (
        (AccessLogConfig, combined, nginx.access_log),
        (NginxJsonLogConfig, json_lines, nginx.json_log),
    ):
        source = _tail(cfg_type, path)
        try:
            series = await source.poll()
        finally:
            await source.aclose()
        got: Counter[tuple[Route, int]] = Counter()
        for bucket in series.buckets:
            assert sum(r.count for r in bucket.routes_5xx) == bucket.errors_5xx
            counts = [r.count for r in bucket.routes_5xx]
            assert counts == sorted(counts, reverse=True)  # most first
            for r in bucket.routes_5xx:
                got[(r.route, r.status)] += r.count
        assert series.routes_known
        assert (series.requests, series.unparsed_lines) == (60, 0), cfg_type.kind
        assert got == _truth(lines), cfg_type.kind
        assert got[(Route("GET", "/status/{id}/files/{id}"), 503)] == asked[("GET", "files", 503)]
        assert (
            got[(Route("GET", "/status/{id}/users/{id}/avatar"), 502)]
            == asked[("GET", "users", 502)]
        )


def _route(fmt: log_formats.LogFormat, line: str) -> tuple[Route, int] | None:
    assert fmt.route_of is not None
    got = fmt.route_of(line.encode())
    return None if got is None else (got[2], got[1])


def test_every_format_names_the_route() -> None:
    haproxy = (
        "haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 "
        '10/0/30/69/109 503 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index/12.html HTTP/1.1"'
    )
    assert _route(log_formats.haproxy(), haproxy) == (
        Route("GET", "/index/12.html", upstream="static"),
        503,
    )
    envoy = (
        '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations/77 HTTP/2" 504 - 154 0 226 100 '
        '"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" '
        '"tcp://10.0.2.1:80"'
    )
    assert _route(log_formats.envoy(), envoy) == (
        Route("POST", "/api/v1/locations/{id}", host="locations"),
        504,
    )
    caddy = (
        '{"level":"error","ts":1732176902.5,"logger":"http.log.access.log0","msg":"handled",'
        '"request":{"method":"PUT","host":"files.example.com","uri":"/dav/9/a.txt?x=1"},'
        '"status":502}'
    )
    assert _route(log_formats.caddy(), caddy) == (
        Route("PUT", "/dav/{id}/a.txt", host="files.example.com"),
        502,
    )
    custom = log_formats.custom(r"^(?P<method>\S+) (?P<path>\S+) (?P<status>\d{3})$")
    assert _route(custom, "GET /a/1234 500") == (Route("GET", "/a/{id}"), 500)
    assert _route(custom, "GET /a/1234 200") is None
    assert log_formats.custom(r"(?P<status>\d{3})").route_of is None  # tells no route


async def test_common_log_without_offset_and_envoy_default(tmp_path: Path) -> None:
    """Formats with no Debian server to run: the lines their docs give."""
    from datetime import UTC, datetime

    common = tmp_path / "common.log"
    common.write_text(
        '127.0.0.1 - frank [10/Oct/2000:13:55:36] "GET /apache_pb.gif HTTP/1.0" 200 2326\n'
        '127.0.0.1 - - [10/Oct/2000:13:55:37] "GET /files/7 HTTP/1.0" 502 12\n'
    )
    envoy = tmp_path / "envoy.log"
    envoy.write_text(
        '[2000-10-10T13:55:36.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 '
        '"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" '
        '"tcp://10.0.2.1:80"\n'
        '[2000-10-10T13:55:37.000Z] "GET /x HTTP/1.1" 0 DC 0 0 5 - "-" "curl/8" "id" "h" "-"\n'
        '[2000-10-10T13:55:38.000Z] "GET /y/12 HTTP/1.1" 503 UF 0 91 1 - "-" "curl/8" "id" '
        '"files" "tcp://10.0.2.9:80"\n'
    )
    at = datetime(2000, 10, 10, 13, 56, tzinfo=UTC)
    got = {}
    for cfg_type, path in ((AccessLogConfig, common), (EnvoyLogConfig, envoy)):
        cfg = cfg_type(name="e", path=path, bucket_seconds=10, window=600, read_back=600)  # type: ignore[arg-type]
        source = AccessLogTail(cfg, clock=lambda: at)
        try:
            got[cfg_type.kind] = await source.poll()
        finally:
            await source.aclose()
    common_series, envoy_series = got["nginx_combined"], got["envoy"]
    assert (common_series.requests, common_series.errors_5xx) == (2, 1)
    assert common_series.unparsed_lines == 0
    assert common_series.first_ts == datetime(2000, 10, 10, 13, 55, 36, tzinfo=UTC)  # as UTC
    assert (envoy_series.requests, envoy_series.errors_5xx, envoy_series.unparsed_lines) == (
        3,
        1,
        0,
    )
    (route,) = [r for b in envoy_series.buckets for r in b.routes_5xx]
    assert route == RouteErrors(Route("GET", "/y/{id}", host="files"), 503, 1)


def _default_escape_json(prefix: Path, port: int, upstream: int) -> str:
    # A JSON-shaped format as many write it, without escape=json: nginx then escapes '"', '\'
    # and bytes outside printable ASCII as \xHH, which is not JSON.
    return f"""log_format json_default '{{"time_iso8601":"$time_iso8601","status":"$status",'
        '"request":"$request","remote_user":"$remote_user"}}';
    server {{
        listen 127.0.0.1:{port};
        access_log {prefix}/logs/default.json json_default;
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}"""


def test_a_json_log_without_escape_json_still_names_the_route(tmp_path: Path) -> None:
    import socket

    with running_nginx(tmp_path, server=_default_escape_json) as nginx:
        user = base64.b64encode(b'ev"il:pw').decode()
        request = (
            f'GET /status/503/files/12/a"b\\c HTTP/1.1\r\nHost: x\r\n'
            f"Authorization: Basic {user}\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as conn:
            conn.sendall(request.encode())
            assert conn.recv(64).startswith(b"HTTP/1.1 503")
        [line] = wait_for_lines(1, nginx.prefix / "logs" / "default.json")
    assert "\\x22" in line  # what nginx wrote: not JSON
    assert _route(log_formats.nginx_json(), line) == (
        Route("GET", '/status/{id}/files/{id}/a"b\\c'),
        503,
    )
