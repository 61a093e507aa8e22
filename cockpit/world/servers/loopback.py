"""Threaded HTTP servers on 127.0.0.1 that start on a free port and stop without leftovers.

Every server binds port 0 and reports the port the kernel chose, so two worlds (or a world and
a test) never race for a port. Stopping closes the listening socket, wakes every handler thread
still waiting on a keep-alive connection and joins it, so nothing outlives the world.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("cockpit.world")

_WAKE_TIMEOUT = 5.0  # seconds stop() waits for its wake-up call before forcing the issue


class LoopbackServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1:<free port> with a clean, complete stop()."""

    # Handler threads are joined by server_close() instead of being abandoned as daemons.
    daemon_threads = False
    block_on_close = True
    # handle_request() sleeps in the kernel until a connection arrives: no wake-ups while
    # idle. stop() wakes it with one connection of its own.
    timeout = None

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str):
        super().__init__(("127.0.0.1", 0), handler)
        self.name = name
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name=f"world-{self.name}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            self.handle_request()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            # The wake-up call: accepted, handed to a handler that reads end of file, done.
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                pass
            self._thread.join(_WAKE_TIMEOUT)
            if self._thread.is_alive():
                # The call did not get through (a full backlog?): on Linux, shutting the
                # listening socket down wakes the select() it sleeps in.
                with contextlib.suppress(OSError):
                    self.socket.shutdown(socket.SHUT_RDWR)
                self._thread.join()
            self._thread = None
        # Idle keep-alive connections would keep their handler threads reading forever.
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr, which may be the terminal the TUI draws on.
        log.debug(
            "%s: error while handling a request from %s", self.name, client_address, exc_info=True
        )


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler that never writes to stderr and always sends a Content-Length."""

    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections end after this many seconds of silence.
    timeout = 30
    # Headers and body leave in separate writes: with Nagle, the body would wait for the
    # client's delayed ACK (~40 ms per request on a kept-alive connection).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def before_send(self, status: int, size: int) -> None:
        """Called once per response, just before it is written (hook for access logs)."""

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.before_send(status, 0 if self.command == "HEAD" else len(body))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_body(status, body, "application/json", headers, close=close)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Used by the stdlib for malformed requests and unknown methods: answer in JSON like
        # every other response, and close, since the request stream may be out of step.
        detail = message or HTTPStatus(code).phrase
        self.send_json(code, {"detail": detail}, close=True)
