"""The drill world's service, "files-web": a small HTTP file service with the incident's bug.

    GET /healthz        200 while the database is reachable: a single-connection check that
                        stays green through the session bug
    GET /session        opens a session, holds it briefly, 200 {"session": "ok"}
    GET /files/<path>   200, a small body
    GET /report         500 on a bad date range (the default): reported to Sentry
    GET /download?files=a,b   one file: 200, that file; more: 200, a ZIP of them (the
                        multi-file path; `zip_check` may refuse it: 500, reported)

The bug: while `current` points at a bad release, a session that starts while the same user
already has one open fails with 503 {"error": "session table conflict"}. That path is not
reported to Sentry, as in the incident. Behaviour follows the `current` symlink, so a real
rollback really fixes it. Database faults (see database.py) answer 503 and are reported.
The client class (`client=mobile` or a mobile User-Agent) matters only to lingering failures.
Every request is written to the nginx-style access log.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from cockpit.timeutil import utcnow
from cockpit.world.accesslog import AccessLog, combined_line
from cockpit.world.backend import SESSION_LIMIT, FilesBackend, Refused, client_class
from cockpit.world.servers.loopback import LoopbackServer, QuietHandler

SESSION_HOLD = 0.15  # seconds a session stays open, so simultaneous sessions overlap
USER_HEADER = "X-Files-User"
ANONYMOUS = "anonymous"


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


class ZipRefused(Exception):
    """The ZIP builder could not fetch a file. Constant text per cause: one Sentry issue."""


class FilesWebService:
    def __init__(
        self,
        *,
        backend: FilesBackend,
        access_log: AccessLog,
        zip_check: Callable[[], None] | None = None,
    ):
        self.backend = backend
        self.zip_check = zip_check  # raises ZipRefused when the ZIP path cannot work
        self.name = backend.name
        self.access_log = access_log
        handler = type("FilesWebHandler", (_ServiceHandler,), {"app": self})
        self._server = LoopbackServer(handler, self.name)

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
        client = client_class(params.get("client", [""])[-1], self.headers.get("User-Agent"))
        try:
            if url.path == "/healthz":
                self._health()
            elif url.path == "/session":
                self._session(user, client)
            elif url.path == "/files" or url.path.startswith("/files/"):
                self.app.backend.query(user=user, client=client, transaction="/files")
                self._file(url.path)
            elif url.path == "/download":
                self.app.backend.query(user=user, client=client, transaction="/download")
                self._download(user, params.get("files", [""])[-1])
            elif url.path == "/report":
                self.app.backend.query(user=user, client=client, transaction="/report")
                self._report(user, url.query)
            elif url.path == "/":
                self.send_body(200, f"{self.app.name}\n".encode(), "text/plain; charset=utf-8")
            else:
                self.send_json(404, {"error": "not found"})
        except Refused as refused:
            self.send_json(refused.status, {"error": refused.reason})

    do_HEAD = do_GET

    def _health(self) -> None:
        backend = self.app.backend
        if not backend.database.reachable():
            self.send_json(503, {"status": "database unreachable", "service": self.app.name})
            return
        version = backend.releases.version()
        self.send_json(200, {"status": "ok", "service": self.app.name, "version": version})

    def _session(self, user: str, client: str) -> None:
        backend = self.app.backend
        try:
            lease = backend.open_session(user, client=client, transaction="/session")
        except Refused as refused:
            # The body names the bug's symptom as the service's own code would.
            reason = "session table conflict" if refused.reason == SESSION_LIMIT else refused.reason
            self.send_json(refused.status, {"error": reason})
            return
        with lease:
            self.app.stopping.wait(backend.session_hold)
        self.send_json(200, {"session": "ok"})

    def _file(self, path: str) -> None:
        name = path[len("/files") :].lstrip("/") or "."
        digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
        size = int(digest[:6], 16) % 100_000
        self.send_json(200, {"path": name, "size": size, "etag": digest[:16]})

    def _download(self, user: str, files: str) -> None:
        names = [n for n in files.split(",") if n]
        if len(names) <= 1:
            self._file("/files/" + (names[0] if names else ""))
            return
        # More than one file: the ZIP builder fetches each from the file service's origin.
        check = self.app.zip_check
        try:
            if check is not None:
                check()
        except ZipRefused as exc:
            self.app.backend.report_exception(exc, user=user, transaction="/download")
            self.send_json(500, {"error": "could not build the ZIP archive"})
            return
        entries = [{"path": n, "etag": hashlib.sha256(n.encode()).hexdigest()[:16]} for n in names]
        self.send_json(200, {"archive": "download.zip", "entries": entries})

    def _report(self, user: str, query: str) -> None:
        try:
            report = build_report(query)
        except ValueError as exc:
            self.app.backend.report_exception(exc, user=user, transaction="/report")
            self.send_json(500, {"error": "internal server error"})
            return
        self.send_json(200, report)
