"""The drill world's service, "files-web": a small HTTP file service with the incident's bug.

    GET /healthz        200 always: a single-connection check that stays green
    GET /session        opens a session, holds it briefly, 200 {"session": "ok"}
    GET /files/<path>   200, a small body
    GET /report         500 on a bad date range (the default): reported to Sentry

The bug: while `current` points at a bad release, a session that starts while the same user
already has one open fails with 503 {"error": "session table conflict"}. That path is not
reported to Sentry, as in the incident. Behaviour follows the `current` symlink, so a real
rollback really fixes it. Every request is written to the nginx-style access log.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import sentry_sdk

from cockpit.timeutil import utcnow
from cockpit.world.accesslog import AccessLog, combined_line
from cockpit.world.loopback import LoopbackServer, QuietHandler
from cockpit.world.releases import ReleaseRoot

SESSION_HOLD = 0.15  # seconds a session stays open, so simultaneous sessions overlap
_RELEASE_READ_EVERY = 0.1  # seconds; bounds how often requests touch the filesystem
USER_HEADER = "X-Files-User"
ANONYMOUS = "anonymous"


class ReleaseWatcher:
    """The version `current` points to, re-read at most every ~100 ms."""

    def __init__(self, releases: ReleaseRoot):
        self._releases = releases
        self._lock = threading.Lock()
        self._version: str | None = None
        self._read_at = float("-inf")

    def version(self) -> str | None:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= _RELEASE_READ_EVERY:
                self._version = self._releases.current_version()
                self._read_at = now
            return self._version

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


class SessionTable:
    """Open sessions per user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def open(self, user: str, *, exclusive: bool) -> bool:
        """Open a session; with `exclusive`, refuse while the user already has one open."""
        with self._lock:
            if exclusive and self._open.get(user, 0) > 0:
                return False
            self._open[user] = self._open.get(user, 0) + 1
            return True

    def close(self, user: str) -> None:
        with self._lock:
            left = self._open.get(user, 0) - 1
            if left > 0:
                self._open[user] = left
            else:
                self._open.pop(user, None)

    def open_count(self) -> int:
        with self._lock:
            return sum(self._open.values())


def build_report(query: str) -> dict[str, str]:
    """The /report endpoint's work. Its default range is inverted: that is the unrelated bug."""
    filters = parse_qs(query)
    start = filters.get("from", ["2026-11-30"])[-1]
    end = filters.get("to", ["2026-11-01"])[-1]
    return {"from": start, "to": end, **_check_range(start, end)}


def _check_range(start: str, end: str) -> dict[str, str]:
    if end < start:
        raise ValueError("invalid date range in report filter")
    return {"status": "ready"}


class FilesWebService:
    def __init__(
        self,
        *,
        name: str,
        releases: ReleaseRoot,
        access_log: AccessLog,
        bad_versions: frozenset[str],
        sentry_client: sentry_sdk.Client | None = None,
        session_hold: float = SESSION_HOLD,
    ):
        self.name = name
        self.releases = ReleaseWatcher(releases)
        self.access_log = access_log
        self.bad_versions = bad_versions
        self.sessions = SessionTable()
        self.session_hold = session_hold
        self._sentry = sentry_client
        handler = type("FilesWebHandler", (_ServiceHandler,), {"app": self})
        self._server = LoopbackServer(handler, name)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def stopping(self) -> threading.Event:
        return self._server.stopping

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def running_bad_release(self) -> bool:
        return self.releases.version() in self.bad_versions

    def report_exception(self, error: BaseException, *, user: str, transaction: str) -> None:
        if self._sentry is None:
            return
        release = f"{self.name}@{self.releases.version()}"

        def stamp_release(event: Any, hint: Any) -> Any:
            event["release"] = release  # the release running now, not the one at start
            return event

        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(self._sentry)
            scope.set_user({"id": user})
            scope.set_transaction_name(transaction)
            scope.set_tag("service", self.name)
            scope.add_event_processor(stamp_release)
            sentry_sdk.capture_exception(error)


class _ServiceHandler(QuietHandler):
    app: ClassVar[FilesWebService]
    server_version = "files-web/1.0"

    def before_send(self, status: int, size: int) -> None:
        # A request line the stdlib could not parse leaves no headers behind.
        headers = getattr(self, "headers", None)
        self.app.access_log.write(
            combined_line(
                remote_addr=self.client_address[0],
                when=utcnow(),
                request_line=self.requestline,
                status=status,
                body_bytes=size,
                referer=headers.get("Referer") if headers else None,
                user_agent=headers.get("User-Agent") if headers else None,
            )
        )

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        user = params.get("user", [""])[-1] or self.headers.get(USER_HEADER) or ANONYMOUS
        if url.path == "/healthz":
            version = self.app.releases.version()
            self.send_json(200, {"status": "ok", "service": self.app.name, "version": version})
        elif url.path == "/session":
            self._session(user)
        elif url.path == "/files" or url.path.startswith("/files/"):
            self._file(url.path)
        elif url.path == "/report":
            self._report(user, url.query)
        elif url.path == "/":
            self.send_body(200, f"{self.app.name}\n".encode(), "text/plain; charset=utf-8")
        else:
            self.send_json(404, {"error": "not found"})

    do_HEAD = do_GET

    def _session(self, user: str) -> None:
        app = self.app
        # The bad release reuses one pooled handle per user: a second simultaneous session
        # collides with the first. Deliberately not reported to Sentry, as in the incident.
        if not app.sessions.open(user, exclusive=app.running_bad_release()):
            self.send_json(503, {"error": "session table conflict"})
            return
        try:
            app.stopping.wait(app.session_hold)
        finally:
            app.sessions.close(user)
        self.send_json(200, {"session": "ok"})

    def _file(self, path: str) -> None:
        name = path[len("/files") :].lstrip("/") or "."
        digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
        size = int(digest[:6], 16) % 100_000
        self.send_json(200, {"path": name, "size": size, "etag": digest[:16]})

    def _report(self, user: str, query: str) -> None:
        try:
            report = build_report(query)
        except ValueError as exc:
            self.app.report_exception(exc, user=user, transaction="/report")
            self.send_json(500, {"error": "internal server error"})
            return
        self.send_json(200, report)
