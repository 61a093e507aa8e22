"""The service's WebDAV front end: wsgidav behind a small gate, served by cheroot in a thread.

The gate plays the part of the service's own front door and of the proxy in front of it:

- Basic authentication against the world's accounts (401 with a challenge otherwise);
- every authenticated request is a session: while the bad release runs, a request of a user
  who already holds one gets 503 (not reported to Sentry); database faults give 503 too;
- every request, whatever its fate, becomes one nginx `combined` line in the access log, so
  WebDAV 5xx show up there as they would at a proxy.

wsgidav itself serves the files tree anonymously: the gate already decided who may come in.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

from cockpit.timeutil import utcnow
from cockpit.world.accesslog import AccessLog, combined_line
from cockpit.world.accounts import Accounts
from cockpit.world.backend import FilesBackend, Refused, client_class

log = logging.getLogger("cockpit.world")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REALM = "files-web"
_STOP_TIMEOUT = 5.0


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class _Gate:
    def __init__(
        self, inner: WsgiApp, *, backend: FilesBackend, accounts: Accounts, access_log: AccessLog
    ):
        self._inner = inner
        self._backend = backend
        self._accounts = accounts
        self._access_log = access_log

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        credentials = _basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        user = credentials[0] if credentials else None
        if credentials is None or not self._accounts.check(*credentials):
            status, headers, body = _answer(
                401, "authentication required", [("WWW-Authenticate", f'Basic realm="{REALM}"')]
            )
            user = None
        else:
            status, headers, body = self._serve(environ, credentials[0])
        self._log(environ, status, len(body), user)
        start_response(status, headers)
        return [body]

    def _serve(
        self, environ: dict[str, Any], user: str
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        client = client_class(query.get("client", [""])[-1], environ.get("HTTP_USER_AGENT"))
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            lease = self._backend.open_session(user, client=client, transaction=f"dav {method}")
        except Refused as refused:
            return _answer(refused.status, refused.reason, [("Retry-After", "1")])
        with lease:
            return _collect(self._inner, environ)

    def _log(self, environ: dict[str, Any], status: str, size: int, user: str | None) -> None:
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        request_line = f"{environ.get('REQUEST_METHOD', '-')} {target} "
        request_line += environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        self._access_log.write(
            combined_line(
                remote_addr=environ.get("REMOTE_ADDR", "-"),
                when=utcnow(),
                request_line=request_line,
                status=int(status.split(" ", 1)[0]),
                body_bytes=0 if environ.get("REQUEST_METHOD") == "HEAD" else size,
                referer=environ.get("HTTP_REFERER"),
                user_agent=environ.get("HTTP_USER_AGENT"),
                remote_user=user,
            )
        )


def _answer(
    code: int, message: str, headers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]], bytes]:
    phrases = {401: "Unauthorized", 503: "Service Unavailable"}
    body = json.dumps({"error": message}).encode()
    return (
        f"{code} {phrases.get(code, 'Error')}",
        [*headers, ("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        body,
    )


def _collect(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the inner app to the end: the files are small, and the log wants the real size."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [(status, list(headers))]

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[0]
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


def _quiet_wsgidav() -> None:
    # wsgidav logs its configuration advice as warnings at every start; without a handler of
    # the world's own they would reach stderr through logging's last resort.
    logging.getLogger("wsgidav").setLevel(logging.ERROR)


class _QuietServer(wsgi.Server):
    listener: socket.socket | None = None

    def bind(self, family: int, type: int, proto: int = 0) -> socket.socket:
        # Serve on the socket the world bound before it wrote the config.
        if self.listener is None:
            bound: socket.socket = super().bind(family, type, proto)
            return bound
        self.socket = self.listener
        self.bind_addr = self.listener.getsockname()[:2]
        return self.listener

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        # The default writes to stderr, which may be the terminal the cockpit draws on.
        log.debug("webdav: %s", msg, exc_info=traceback)


class WebDavFrontend:
    def __init__(
        self,
        *,
        backend: FilesBackend,
        accounts: Accounts,
        root: Path,
        access_log: AccessLog,
        listener: socket.socket,
    ):
        _quiet_wsgidav()
        dav = WsgiDAVApp(
            {
                "provider_mapping": {"/": {"root": str(root), "readonly": True}},
                "simple_dc": {"user_mapping": {"*": True}},
                "http_authenticator": {"accept_digest": False, "default_to_digest": False},
                "dir_browser": {"enable": False},
                "verbose": 1,
                "logging": {"enable": False},
                "suppress_version_info": True,
            }
        )
        gate = _Gate(dav, backend=backend, accounts=accounts, access_log=access_log)
        self._server = _QuietServer(
            listener.getsockname()[:2],
            gate,
            numthreads=8,
            server_name="files-web-dav",
            shutdown_timeout=2,
        )
        self._server.listener = listener
        self._server.prepare()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="world-webdav", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.serve()
        except Exception:
            log.exception("the WebDAV server stopped on an error")

    def stop(self) -> None:
        # cheroot's stop() waits for its selector loop to notice, which sleeps up to half a
        # second between looks; connections knocking meanwhile wake it at once.
        stopped = threading.Event()
        address = ("127.0.0.1", self.port)

        def knock() -> None:
            while not stopped.wait(0.02):
                with contextlib.suppress(OSError), socket.create_connection(address, 0.5):
                    pass

        knocker = threading.Thread(target=knock, name="world-webdav-stop", daemon=True)
        knocker.start()
        try:
            with contextlib.suppress(OSError):
                self._server.stop()
        finally:
            stopped.set()
            knocker.join()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
