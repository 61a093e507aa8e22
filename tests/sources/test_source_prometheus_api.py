"""What the Prometheus sources do with answers a real Prometheus rarely gives: auth failures,
redirects, garbage, huge or missing answers. A small HTTP server on 127.0.0.1 plays the API.
Also: both Prometheus kinds load from TOML, and their config errors name the key."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from servers import serving

from cockpit.config import ConfigError, Secret, parse
from cockpit.config.prometheus import PrometheusErrorsConfig, PrometheusProbesConfig
from cockpit.sources.base import SourceError
from cockpit.sources.prometheus import api as prometheus_api
from cockpit.sources.prometheus.errors import PrometheusErrors
from cockpit.sources.prometheus.probes import PrometheusProbes
from cockpit.sources.registry import build_source

TOKEN = "prom-t0ken-never-shown"
NOW = datetime(2026, 11, 21, 7, 0, 5, tzinfo=UTC)

Reply = Callable[[str, dict[str, list[str]], dict[str, str]], tuple[int, dict[str, str], bytes]]


class FakeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True
    reply: Reply
    seen: list[tuple[str, dict[str, list[str]], dict[str, str]]]
    release: threading.Event


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((parts.path, query, headers))
        status, extra, body = self.server.reply(parts.path, query, headers)
        if status == 0:  # hang until the test is over
            self.server.release.wait(10)
            return
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi(("127.0.0.1", 0), _Handler)
    server.seen = []
    server.release = threading.Event()
    with serving(server):
        try:
            yield server
        finally:
            server.release.set()


def url(server: FakeApi) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def ok(data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"status": "success", "data": data}).encode()
    return 200, {"Content-Type": "application/json"}, body


def matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> dict[str, Any]:
    return {
        "resultType": "matrix",
        "result": [{"metric": m, "values": [[t, v] for t, v in points]} for m, points in series],
    }


def errors_source(server: FakeApi | str, **options: object) -> PrometheusErrors:
    base = server if isinstance(server, str) else url(server)
    settings: dict[str, object] = {
        "errors_query": "sum(rate(errors[1m]))",
        "window": 60,
        "step": 10,
        "token": Secret(TOKEN, "env:PROM_TOKEN"),
        "timeout": 2.0,
        **options,
    }
    cfg = PrometheusErrorsConfig(name="prom", base_url=base, **settings)  # type: ignore[arg-type]
    return PrometheusErrors(cfg, clock=lambda: NOW)


async def failure(source: PrometheusErrors | PrometheusProbes) -> str:
    try:
        with pytest.raises(SourceError) as caught:
            await source.poll()
    finally:
        await source.aclose()
    message = str(caught.value)
    assert TOKEN not in message
    return message


async def test_range_query_asks_bucket_ends_with_the_token(api: FakeApi) -> None:
    end = NOW.timestamp() // 10 * 10 + 10  # the newest bucket [07:00:00, 07:00:10) ends here
    api.reply = lambda path, q, h: ok(
        matrix(
            # Two series are summed; a point outside the window is ignored; NaN is counted.
            ({"code": "500"}, [(end - 50, "1.5"), (end - 10, "0.26"), (end, "NaN")]),
            ({"code": "503"}, [(end - 50, "0.5"), (end + 600, "9")]),
        )
    )
    source = errors_source(api, headers={"X-Scope-OrgID": "files"})
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    path, query, headers = api.seen[0]
    assert path == "/api/v1/query_range"
    assert query["query"] == ["sum(rate(errors[1m]))"]
    assert (float(query["start"][0]), float(query["end"][0]), query["step"]) == (
        end - 50,
        end,
        ["10"],
    )
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-scope-orgid"] == "files"
    assert [(b.requests, b.errors_5xx) for b in series.buckets] == [
        (20, 20),  # (1.5 + 0.5) per second x 10 s
        (0, 0),
        (0, 0),
        (0, 0),
        (3, 3),  # 2.6 rounds to 3
        (0, 0),
    ]
    assert series.buckets[-1].start == datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
    assert series.unparsed_lines == 1
    assert series.first_ts == datetime.fromtimestamp(end - 50, UTC)
    assert series.last_ts == datetime.fromtimestamp(end - 10, UTC)


async def test_requests_never_fewer_than_errors(api: FakeApi) -> None:
    end = NOW.timestamp() // 10 * 10 + 10

    def reply(path: str, q: dict[str, list[str]], h: dict[str, str]) -> Any:
        value = "0.36" if q["query"][0] == "errors" else "0.34"  # 3.6 -> 4 errors, 3.4 -> 3
        return ok(matrix(({}, [(end, value)])))

    api.reply = reply
    source = errors_source(api, errors_query="errors", requests_query="requests")
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert (series.buckets[-1].requests, series.buckets[-1].errors_5xx) == (4, 4)


@pytest.mark.parametrize(
    ("status", "headers", "body", "words"),
    [
        (401, {}, b"Unauthorized", "HTTP 401 (token rejected or missing)"),
        (302, {"Location": "http://elsewhere.example/"}, b"", "HTTP 302 redirect"),
        (200, {}, b"<html>login</html>", "HTTP 200, not a Prometheus API answer"),
        (502, {}, b"Bad Gateway", "HTTP 502, not a Prometheus API answer"),
        (
            422,
            {},
            b'{"status":"error","errorType":"execution","error":"\\u001b[31mboom"}',
            "query refused (execution): \ufffdboom",
        ),
        (200, {}, b'{"status":"success","data":{"resultType":"vector","result":[]}}', "matrix"),
    ],
)
async def test_bad_answers_say_why_without_the_token(
    api: FakeApi, status: int, headers: dict[str, str], body: bytes, words: str
) -> None:
    api.reply = lambda path, q, h: (status, headers, body)
    message = await failure(errors_source(api))
    assert message.startswith(f"127.0.0.1:{api.server_address[1]}: ")
    assert words in message
    assert "\x1b" not in message
    assert len(api.seen) == 1  # the redirect was not followed


async def test_an_answer_too_large_is_refused(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prometheus_api, "MAX_ANSWER_BYTES", 1000)
    api.reply = lambda path, q, h: ok(matrix(*(({"i": str(i)}, [(1.0, "1")]) for i in range(100))))
    assert "answer larger than" in await failure(errors_source(api))


async def test_no_answer_within_the_timeout(api: FakeApi) -> None:
    api.reply = lambda path, q, h: (0, {}, b"")
    message = await failure(errors_source(api, timeout=0.5))
    assert message == f"no answer from 127.0.0.1:{api.server_address[1]} within 0.5s"


async def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        message = await failure(errors_source(f"http://127.0.0.1:{port}"))
    assert message == f"cannot connect to 127.0.0.1:{port}: connection refused"


async def test_probe_source_reads_three_instant_queries(api: FakeApi) -> None:
    def reply(path: str, q: dict[str, list[str]], h: dict[str, str]) -> Any:
        query = q["query"][0]
        labels = {"instance": "https://user:pw@x.example/\x1b[2J", "region": "eu-west"}
        value = {"probe_success": "1", "probe_duration_seconds": "0.5"}.get(
            query.split("{")[0], "1795245600.5"
        )
        return ok({"resultType": "vector", "result": [{"metric": labels, "value": [1.0, value]}]})

    api.reply = reply
    cfg = PrometheusProbesConfig(
        name="bb", base_url=url(api), location_label="region", selector='module="http_2xx"'
    )
    source = PrometheusProbes(cfg, clock=lambda: NOW)
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    assert sorted(q["query"][0] for _, q, _ in api.seen) == [
        'probe_duration_seconds{module="http_2xx"}',
        'probe_success{module="http_2xx"}',
        'timestamp(probe_success{module="http_2xx"})',
    ]
    assert {q["time"][0] for _, q, _ in api.seen} == {f"{NOW.timestamp():.3f}"}
    (result,) = reading.results
    # Label values are untrusted: controls stripped, credentials in a URL left out.
    assert result.name == "bb:https://x.example/\ufffd@eu-west"
    assert result.target == "https://x.example/\ufffd"
    assert (result.ok, result.latency_ms) == (True, 500.0)
    assert result.at == datetime.fromtimestamp(1795245600.5, UTC)


# -- config --------------------------------------------------------------------------------------


def test_both_kinds_load_from_toml(tmp_path: Path) -> None:
    (tmp_path / "prom.token").write_text(TOKEN + "\n")
    config = parse(
        """
[[errors]]
name = "edge-prom"
kind = "prometheus"
base_url = "https://prometheus.example:9090/prom/"
token_file = "prom.token"
errors_query = 'sum(rate(http_requests_total{code=~"5.."}[1m]))'
requests_query = "sum(rate(http_requests_total[1m]))"
points = 90

[[probes]]
name = "blackbox"
kind = "prometheus"
base_url = "http://prometheus.example:9090"
headers = { "X-Scope-OrgID" = "files" }
selector = 'job="blackbox"'
location_label = "region"
""",
        tmp_path / "cockpit.toml",
        env={},
    )
    (errors,) = config.errors
    assert isinstance(errors, PrometheusErrorsConfig)
    assert errors.token == Secret(TOKEN, "x") and TOKEN not in repr(errors)
    assert (errors.window, errors.step_seconds, errors.bucket_count) == (1800, 20, 90)
    (probes,) = config.probes
    assert isinstance(probes, PrometheusProbesConfig)
    assert probes.headers == {"X-Scope-OrgID": "files"} and probes.token is None
    sources = [build_source(c) for c in (errors, probes)]
    assert [type(s) for s in sources] == [PrometheusErrors, PrometheusProbes]
    assert sources[0].target == "https://prometheus.example:9090/prom/api/v1/query_range"
    assert sources[1].target == "http://prometheus.example:9090/api/v1/query"
    assert [(s.kind, s.category.value) for s in sources] == [
        ("prometheus", "errors"),
        ("prometheus", "probe"),
    ]
    with pytest.raises(ConfigError, match=r":5: errors\[0\]\.base_url: credentials are not"):
        parse(
            '[[errors]]\nname = "p"\nkind = "prometheus"\nerrors_query = "q"\n'
            'base_url = "https://user:pw@prometheus.example:9090/"\n',
            env={},
        )


def test_default_step_is_window_over_sixty_points() -> None:
    cfg = PrometheusErrorsConfig(name="p", base_url="http://x", errors_query="q")
    assert (cfg.step_seconds, cfg.bucket_count) == (30, 60)
    cfg = PrometheusErrorsConfig(
        name="p", base_url="http://x", errors_query="q", window=100, step=30
    )
    assert (cfg.step_seconds, cfg.bucket_count) == (30, 4)


ERRORS_HEAD = '[[errors]]\nname = "p"\nkind = "prometheus"\nbase_url = "http://x:9090"\n'
PROBES_HEAD = '[[probes]]\nname = "p"\nkind = "prometheus"\nbase_url = "http://x:9090"\n'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (ERRORS_HEAD, "errors[0].errors_query", "missing required key"),
        (ERRORS_HEAD + 'errors_query = " "', "errors[0].errors_query", "must not be empty"),
        (ERRORS_HEAD + 'errors_query = "q"\nstep = 10\npoints = 5', "errors[0].points", "not both"),
        (ERRORS_HEAD + 'errors_query = "q"\npoints = 0', "errors[0].points", "between 1 and"),
        (ERRORS_HEAD + 'errors_query = "q"\nstep = 0', "errors[0].step", "at least 1"),
        (
            ERRORS_HEAD + 'errors_query = "q"\nstep = 1\nwindow = 86400',
            "errors[0].step",
            "at most 11000",
        ),
        (ERRORS_HEAD + 'errors_query = "q"\ntoken = "abc"', "errors[0].token", "token_env"),
        (
            ERRORS_HEAD.replace("http://x:9090", "x:9090") + 'errors_query = "q"',
            "errors[0].base_url",
            "http:// or https://",
        ),
        (
            PROBES_HEAD + 'headers = { Authorization = "Bearer x" }',
            "probes[0].headers.Authorization",
            "token_env or token_file",
        ),
        (PROBES_HEAD + 'location_label = "re-gion"', "probes[0].location_label", "label name"),
        (PROBES_HEAD + "selector = '{job=\"x\"}'", "probes[0].selector", "without braces"),
        (PROBES_HEAD + "failure_threshold = 0", "probes[0].failure_threshold", "at least 1"),
    ],
)
def test_config_errors_name_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, Path("cockpit.toml"), env={})
    message = str(info.value)
    assert message.startswith("cockpit.toml:") and f": {key}: " in message, message
    assert words in message


async def test_the_step_follows_the_graph_width_unless_configured(api: FakeApi) -> None:
    api.reply = lambda path, q, h: ok(matrix())
    auto = errors_source(api, step=None, window=1800)
    auto.fit_width(36)  # the graph's columns at 80x24
    try:
        series = await auto.poll()
    finally:
        await auto.aclose()
    assert api.seen[-1][1]["step"] == ["50"] and len(series.buckets) == 36
    fixed = errors_source(api, window=1800)  # step = 10 in the config
    fixed.fit_width(36)
    assert fixed.step == 10 and fixed.count == 180
    await fixed.aclose()
