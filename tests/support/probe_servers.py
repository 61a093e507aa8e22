"""Real servers on 127.0.0.1 for the probe tests: TCP banner, TLS, HTTPS, FTP/FTPS (pyftpdlib),
SFTP (asyncssh) and WebDAV (wsgidav on cheroot), plus certificates made with `cryptography`.

Each server runs on threads of its own, so sync tests (the `cockpit check` command line, which
runs its own event loop) and async tests use them alike. Each one counts the sessions it holds
and can refuse a second simultaneous session, the bug that single-connection monitors miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BIG = 50 * 1024 * 1024
GATHER_GIVE_UP = 3.0  # how long a held session waits for its siblings; only reached when broken


# -- session accounting ------------------------------------------------------------------------


class Sessions:
    """Sessions held at once; refuses a second one when `one_at_a_time`."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.one_at_a_time = False
        self.active = 0
        self.peak = 0
        self.total = 0
        self.refused = 0

    def enter(self) -> bool:
        """Count a new session in; False when it must be refused."""
        with self.cond:
            if self.one_at_a_time and self.active >= 1:
                self.refused += 1
                self.cond.notify_all()
                return False
            self.active += 1
            self.total += 1
            self.peak = max(self.peak, self.active)
            self.cond.notify_all()
            return True

    def leave(self) -> None:
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.active == 0, timeout)


# -- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path  # trust this (ca_file) to verify the others
    cert: Path  # valid for 127.0.0.1 and localhost, 30 days left
    key: Path
    expired_cert: Path  # same name, expired yesterday
    expired_key: Path
    combined: Path  # cert + key in one file (pyftpdlib)
    not_after: dt.datetime


def make_certs(directory: Path) -> Certs:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("cockpit test CA"))
        .issuer_name(name("cockpit test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        key: ec.EllipticCurvePrivateKey, start: dt.datetime, end: dt.datetime
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(name("localhost"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )

    key = ec.generate_private_key(ec.SECP256R1())
    not_after = (now + dt.timedelta(days=30)).replace(microsecond=0)
    good = leaf(key, now - dt.timedelta(days=1), not_after)
    expired = leaf(key, now - dt.timedelta(days=10), now - dt.timedelta(days=1))
    pem = serialization.Encoding.PEM
    paths = {
        "ca": (directory / "ca.pem", ca.public_bytes(pem)),
        "cert": (directory / "cert.pem", good.public_bytes(pem)),
        "key": (directory / "key.pem", key_pem(key)),
        "expired_cert": (directory / "expired.pem", expired.public_bytes(pem)),
        "combined": (directory / "combined.pem", good.public_bytes(pem) + key_pem(key)),
    }
    for path, data in paths.values():
        path.write_bytes(data)
    return Certs(
        ca=paths["ca"][0],
        cert=paths["cert"][0],
        key=paths["key"][0],
        expired_cert=paths["expired_cert"][0],
        expired_key=paths["key"][0],
        combined=paths["combined"][0],
        not_after=not_after,
    )


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# -- threads -----------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        yield bound.getsockname()[1]


# -- TCP banner --------------------------------------------------------------------------------


class BannerServer(socketserver.ThreadingTCPServer):
    """Sends a banner, answers "PING" with "PONG", holds the session until the client leaves.

    With `big`, sends 50 MB instead and records how much got out before the client hung up.
    """

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, banner: bytes = b"220 cockpit-test ready\r\n") -> None:
        super().__init__(("127.0.0.1", 0), _BannerHandler)
        self.banner = banner
        self.sessions = Sessions()
        self.big = False
        self.big_sent = 0
        self.big_done = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _BannerHandler(socketserver.BaseRequestHandler):
    server: BannerServer

    def handle(self) -> None:
        srv = self.server
        sock: socket.socket = self.request
        if not srv.sessions.enter():
            with contextlib.suppress(OSError):
                sock.sendall(b"421 busy: one session at a time\r\n")
            return
        try:
            if srv.big:
                self._flood(sock)
                return
            sock.sendall(srv.banner)
            sock.settimeout(10)
            while True:
                data = sock.recv(1024)
                if not data:
                    return
                if b"PING" in data:
                    sock.sendall(b"PONG\r\n")
        except OSError:
            return
        finally:
            srv.sessions.leave()

    def _flood(self, sock: socket.socket) -> None:
        srv = self.server
        chunk = b"x" * 65536
        try:
            while srv.big_sent < BIG:
                sock.sendall(chunk)
                srv.big_sent += len(chunk)
        except OSError:
            pass
        finally:
            srv.big_done.set()


# -- TLS ---------------------------------------------------------------------------------------


class TlsServer(socketserver.ThreadingTCPServer):
    """Completes a TLS handshake and holds the session until the client leaves. A refused
    second session is cut before its handshake."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _TlsHandler)
        self.context = server_context(cert, key)
        self.sessions = Sessions()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _TlsHandler(socketserver.BaseRequestHandler):
    server: TlsServer

    def handle(self) -> None:
        srv = self.server
        if not srv.sessions.enter():
            return  # closed before any handshake
        try:
            with srv.context.wrap_socket(self.request, server_side=True) as tls:
                tls.settimeout(10)
                while tls.recv(1024):
                    pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            srv.sessions.leave()


# -- HTTPS -------------------------------------------------------------------------------------


class HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _OkHandler)
        self.socket = server_context(cert, key).wrap_socket(self.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}/"


class _OkHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# -- FTP / FTPS (pyftpdlib) ----------------------------------------------------------------------


class FtpServer:
    """pyftpdlib on its own thread. User `alice` / `wonderland` and anonymous read access to
    `root`. `certs` turns on explicit FTPS (AUTH TLS)."""

    USER = "alice"
    PASSWORD = "wonderland"

    def __init__(self, root: Path, certs: Certs | None = None) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer as _Server

        quiet = logging.getLogger("pyftpdlib")
        quiet.setLevel(logging.CRITICAL)
        if not quiet.handlers:  # else pyftpdlib installs a stderr handler of its own
            quiet.addHandler(logging.NullHandler())
        self.root = root
        self.sessions = Sessions()
        self.incomplete_sends = 0
        self.complete_sends = 0
        self.send_finished = threading.Event()
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.USER, self.PASSWORD, str(root), perm="elr")
        authorizer.add_anonymous(str(root))
        base: type = FTPHandler
        if certs is not None:
            from pyftpdlib.handlers import TLS_FTPHandler

            base = TLS_FTPHandler
        state = self

        class Handler(base):  # type: ignore[misc, valid-type]
            counted = False

            def handle(self) -> None:
                if not state.sessions.enter():
                    self.respond("421 Too many sessions")
                    self.close_when_done()
                    return
                self.counted = True
                super().handle()

            def close(self) -> None:
                if self.counted:
                    self.counted = False
                    state.sessions.leave()
                super().close()

            def on_file_sent(self, file: str) -> None:
                state.complete_sends += 1
                state.send_finished.set()

            def on_incomplete_file_sent(self, file: str) -> None:
                state.incomplete_sends += 1
                state.send_finished.set()

        Handler.authorizer = authorizer
        Handler.passive_ports = None
        if certs is not None:
            Handler.certfile = str(certs.combined)
            Handler.tls_control_required = True
            Handler.tls_data_required = True
        # An IOLoop of its own: the default is one per process, and two servers on two
        # threads driving one loop corrupt each other's TLS state.
        self._server = _Server(("127.0.0.1", 0), Handler, ioloop=IOLoop())
        self._server.max_cons = 0  # sessions are limited by `Sessions`, not by socket count
        self.port = int(self._server.address[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self._server.close_all()

    def __enter__(self) -> FtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- SFTP (asyncssh) -----------------------------------------------------------------------------


class SftpServer:
    """asyncssh on its own thread and event loop; user `alice` / `wonderland`, or alice with
    the private key `client_key`; SFTP chrooted to `root`. Counts the bytes it served from
    files, to show a bounded read stayed bounded."""

    USER = "alice"
    PASSWORD = "wonderland"

    def __init__(self, root: Path) -> None:
        import asyncssh

        self.root = root
        self.sessions = Sessions()
        self.bytes_read = 0
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._acceptor: Any = None
        self.port = 0

    def known_hosts_line(self, key: Any = None) -> str:
        public = (key or self.host_key).export_public_key("openssh").decode().strip()
        return f"[127.0.0.1]:{self.port} {public}\n"

    async def _start(self) -> None:
        import asyncssh

        state = self

        class Server(asyncssh.SSHServer):
            def __init__(self) -> None:
                self.counted = False

            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                self.conn = conn

            def begin_auth(self, username: str) -> bool:
                if not state.sessions.enter():
                    self.conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, "Too many sessions")
                    return True
                self.counted = True
                return True

            def connection_lost(self, exc: Exception | None) -> None:
                if self.counted:
                    self.counted = False
                    state.sessions.leave()

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == state.USER and password == state.PASSWORD

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                mine = state.client_key.export_public_key("openssh")
                return username == state.USER and key.export_public_key("openssh") == mine

        class Files(asyncssh.SFTPServer):
            def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
                super().__init__(chan, chroot=str(state.root).encode())

            def read(self, file_obj: object, offset: int, size: int) -> bytes:
                data = super().read(file_obj, offset, size)
                assert isinstance(data, bytes)
                state.bytes_read += len(data)
                return data

        self._acceptor = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=Server,
            server_host_keys=[self.host_key],
            sftp_factory=Files,
            allow_scp=False,
        )
        self.port = int(self._acceptor.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        self._acceptor.close()
        await self._acceptor.wait_closed()

    def __enter__(self) -> SftpServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


# -- WebDAV (wsgidav on cheroot) -----------------------------------------------------------------


class DavServer:
    """wsgidav on cheroot, Basic auth `alice` / `wonderland`, serving `root` at /dav/.

    With `sessions.one_at_a_time`, a request that arrives while another is in flight gets 503,
    and a request in flight waits (bounded) until `gather` requests have arrived, so N
    simultaneous sessions meet deterministically. Counts the body bytes it sent.
    """

    USER = "alice"
    PASSWORD = "wonderland"

    def __init__(self, root: Path, certs: Certs | None = None) -> None:
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp

        logging.getLogger("wsgidav").setLevel(logging.CRITICAL)
        self.sessions = Sessions()
        self.gather = 1
        self.arrived = 0
        self.bytes_sent = 0
        dav = WsgiDAVApp(
            {
                "host": "127.0.0.1",
                "port": 0,
                "provider_mapping": {"/dav": str(root)},
                "simple_dc": {"user_mapping": {"*": {self.USER: {"password": self.PASSWORD}}}},
                "http_authenticator": {
                    "accept_basic": True,
                    "accept_digest": False,
                    "default_to_digest": False,
                },
                "verbose": 0,
                "logging": {"enable": False, "enable_loggers": []},
                "lock_storage": True,
                "property_manager": True,
            }
        )
        self._server = wsgi.Server(("127.0.0.1", 0), self._app(dav), numthreads=16)
        if certs is not None:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            self._server.ssl_adapter = BuiltinSSLAdapter(str(certs.cert), str(certs.key))
        self._server.prepare()
        self.port = int(self._server.bind_addr[1])
        self.scheme = "https" if certs else "http"
        self._thread = threading.Thread(target=self._server.serve, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/dav/"

    def reset(self) -> None:
        with self.sessions.cond:
            self.arrived = 0

    def _app(self, dav: Callable[..., Any]) -> Callable[..., Any]:
        state = self
        sessions = self.sessions

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
            with sessions.cond:
                state.arrived += 1
                sessions.cond.notify_all()
            if not sessions.enter():
                start_response("503 Service Unavailable", [("Content-Length", "19")])
                yield b"too many sessions\r\n"
                return
            try:
                with sessions.cond:
                    sessions.cond.wait_for(
                        lambda: state.arrived >= state.gather, timeout=GATHER_GIVE_UP
                    )
                for chunk in dav(environ, start_response):
                    state.bytes_sent += len(chunk)
                    yield chunk
            finally:
                sessions.leave()

        return app

    def __enter__(self) -> DavServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
        self._thread.join(timeout=5)


# -- driving probes ------------------------------------------------------------------------------


async def poll_once(cfg: Any) -> Any:
    """Build the probe's source the way the cockpit does, run one round, release it."""
    from cockpit.sources.registry import build_source

    source = build_source(cfg)
    try:
        return await source.poll()
    finally:
        await source.aclose()


def secret(value: str) -> Any:
    from cockpit.config.base import Secret

    return Secret(value, "env:TEST_PASSWORD")
