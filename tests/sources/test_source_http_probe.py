"""HttpProbe against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from probe_servers import Certs, HttpsServer
from programs import program
from servers import serving

from cockpit.config import HttpProbeConfig
from cockpit.model import Category
from cockpit.sources.probes.http import HttpProbe
from cockpit.term.textsafe import redact_url

BIG_BODY = 50 * 1024 * 1024
# How long a held request waits for its siblings; only reached when the probe is broken.
GATHER_GIVE_UP = 3.0


class Target(ThreadingHTTPServer):
    """Counts connections and requests in flight; can refuse a second simultaneous session."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.cond = threading.Condition()
        self.one_session_at_a_time = False
        self.gather = 1  # hold each "/" request until this many have arrived
        self.arrived = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.client_ports: list[int] = []
        self.big_done = threading.Event()
        self.big_sent = 0
        self.big_aborted = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive possible, so connection reuse would show
    server: Target

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.cond:
            self.server.connections += 1

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            self.sessions()
        elif self.path.startswith("/status/"):
            self.reply(int(self.path.rsplit("/", 1)[1]), b"nope")
        elif self.path == "/text":
            self.reply(200, b"<html>files-web status: all systems healthy</html>")
        elif self.path == "/big":
            self.big()
        else:
            self.reply(404, b"not found")

    def sessions(self) -> None:
        srv = self.server
        with srv.cond:
            srv.arrived += 1
            srv.client_ports.append(self.client_address[1])
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            srv.cond.notify_all()
            busy = srv.one_session_at_a_time and srv.in_flight > 1
            if not busy:
                srv.cond.wait_for(lambda: srv.arrived >= srv.gather, timeout=GATHER_GIVE_UP)
        try:
            if busy:
                self.reply(503, b"busy: one session at a time")
            else:
                self.reply(200, b"ok")
        finally:
            with srv.cond:
                srv.in_flight -= 1

    def big(self) -> None:
        srv = self.server
        self.send_response(200)
        self.send_header("Content-Length", str(BIG_BODY))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while srv.big_sent < BIG_BODY:
                self.wfile.write(chunk)
                srv.big_sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            srv.big_aborted = True
            self.close_connection = True
        finally:
            srv.big_done.set()


@pytest.fixture
def target() -> Iterator[Target]:
    with serving(Target()) as server:
        yield server


def probe(url: str, **options: object) -> HttpProbe:
    options.setdefault("timeout", 5.0)
    return HttpProbe(HttpProbeConfig(name="web", url=url, **options))  # type: ignore[arg-type]


async def test_single_session_passes(target: Target) -> None:
    target.one_session_at_a_time = True
    source = probe(target.url + "/")
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.ok
    assert (result.sessions_ok, result.concurrency) == (1, 1)
    assert result.error == ""
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.target == target.url + "/"
    assert result.at.tzinfo is not None
    assert (source.category, source.kind, source.name) == (Category.PROBE, "http", "web")


async def test_four_sessions_are_in_flight_together(target: Target) -> None:
    target.gather = 4
    source = probe(target.url + "/", concurrency=4)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.ok, result.error
    assert result.sessions_ok == 4
    assert target.max_in_flight == 4
    assert target.connections == 4


async def test_second_simultaneous_session_failing_fails_the_probe(target: Target) -> None:
    target.one_session_at_a_time = True
    target.gather = 4
    source = probe(target.url + "/", concurrency=4)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert not result.ok
    assert result.sessions_ok == 1
    assert result.error == "3/4 sessions failed: HTTP 503"
    assert result.latency_ms is not None  # the one session that worked


async def test_every_session_is_a_fresh_connection(target: Target) -> None:
    target.gather = 2
    source = probe(target.url + "/", concurrency=2)
    try:
        first = await source.poll()
        with target.cond:
            target.arrived = 0
        second = await source.poll()
    finally:
        await source.aclose()
    assert first.ok and second.ok
    assert target.connections == 4
    assert len(set(target.client_ports)) == 4


async def test_connection_refused_is_a_result() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        source = probe(f"http://127.0.0.1:{bound.getsockname()[1]}/", concurrency=2)
        try:
            result = await source.poll()
        finally:
            await source.aclose()
    assert not result.ok
    assert result.sessions_ok == 0
    assert result.latency_ms is None
    assert result.error == "2/2 sessions failed: connection refused"


async def test_silent_server_fails_within_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        source = probe(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.5)
        try:
            result = await source.poll()
        finally:
            await source.aclose()
    assert not result.ok
    assert result.error == "no response within 0.5s"


async def test_large_body_is_not_read_whole(target: Target) -> None:
    source = probe(target.url + "/big", max_body_bytes=256 * 1024)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.ok, result.error
    assert target.big_done.wait(timeout=10)
    assert target.big_aborted
    assert target.big_sent < BIG_BODY


async def test_wrong_status(target: Target) -> None:
    source = probe(target.url + "/status/500")
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert not result.ok
    assert result.error == "HTTP 500"
    assert result.latency_ms is None

    source = probe(target.url + "/status/503", expect_status=503)
    try:
        assert (await source.poll()).ok
    finally:
        await source.aclose()


async def test_body_contains(target: Target) -> None:
    present = probe(target.url + "/text", body_contains="all systems healthy")
    absent = probe(target.url + "/text", body_contains="database: ok")
    try:
        assert (await present.poll()).ok
        result = await absent.poll()
    finally:
        await present.aclose()
        await absent.aclose()
    assert not result.ok
    assert result.error == "body lacks 'database: ok'"


def test_credentials_in_url_are_not_shown() -> None:
    source = probe("https://probe:s3cret@example.com:8443/health?x=1")
    assert source.target == "https://example.com:8443/health?x=1"
    assert redact_url("http://example.com/") == "http://example.com/"


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[str]:
    program("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x"]
    subprocess.run(
        ["openssl", *request, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = Target()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield f"https://127.0.0.1:{server.server_address[1]}/text"


async def test_tls_verification_follows_config(tls_target: str) -> None:
    strict = probe(tls_target)
    lax = probe(tls_target, verify_tls=False)
    try:
        rejected = await strict.poll()
        accepted = await lax.poll()
    finally:
        await strict.aclose()
        await lax.aclose()
    assert not rejected.ok
    assert rejected.error.startswith("TLS certificate rejected")
    assert accepted.ok, accepted.error


async def test_https_expired_certificate_is_rejected(certs: Certs) -> None:
    with serving(HttpsServer(certs.expired_cert, certs.expired_key)) as server:
        source = probe(server.url, ca_file=certs.ca)
        try:
            result = await source.poll()
        finally:
            await source.aclose()
    assert not result.ok
    assert result.error == "TLS certificate rejected: certificate has expired"


async def test_https_conditions_on_body_and_certificate(certs: Certs) -> None:
    conditions = ("[BODY].status == UP", "[CERTIFICATE_EXPIRATION] > 72h")
    with serving(HttpsServer(certs.cert, certs.key)) as server:
        good = probe(server.url, ca_file=certs.ca, conditions=conditions, concurrency=2)
        stale = probe(server.url, ca_file=certs.ca, conditions=("[BODY].status == DOWN",))
        try:
            passed = await good.poll()
            failed = await stale.poll()
        finally:
            await good.aclose()
            await stale.aclose()
    assert passed.ok, passed.error
    assert failed.error == "[BODY].status == DOWN (got 'UP')"


async def test_status_condition_replaces_expect_status(target: Target) -> None:
    source = probe(target.url + "/status/503", conditions=("[STATUS] >= 500",))
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.ok, result.error
