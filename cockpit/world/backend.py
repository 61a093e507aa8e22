"""What every protocol of the service shares: the release it runs, the session table with the
Files.com bug, the metadata database with its faults, and error reporting to Sentry.

A protocol front end (HTTP, FTP, SFTP, WebDAV) asks `open_session()` when a client starts a
session and `query()` for other metadata reads; both raise `Refused` with what to tell the
client. Database failures are reported to Sentry; the session conflict of the bad release is
not, as in the incident.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import sentry_sdk

from cockpit.world.database import DESKTOP, MOBILE, Database, DatabaseUnavailable
from cockpit.world.releases import ReleaseRoot
from cockpit.world.sessions import Lease, SessionTracker

_RELEASE_READ_EVERY = 0.1  # seconds; bounds how often requests touch the filesystem
_MOBILE_AGENT = re.compile(r"android|iphone|ipad|\bios\b|mobile", re.IGNORECASE)

SESSION_LIMIT = "session limit reached"
DATABASE_DOWN = "metadata database unavailable"


def client_class(client: str | None, user_agent: str | None) -> str:
    """`mobile` or `desktop`: from an explicit `client=` parameter, else the User-Agent."""
    if client:
        return MOBILE if client.strip().lower() == MOBILE else DESKTOP
    return MOBILE if user_agent and _MOBILE_AGENT.search(user_agent) else DESKTOP


class Refused(Exception):
    """The service turns a client away; `reason` is what the client is told."""

    def __init__(self, reason: str, *, status: int = 503):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class GateFailure(Exception):
    """A request fails before it reaches the database (an upstream host is gone, the proxy
    cannot load its feature file): what the client is told, and the error to report."""

    def __init__(self, reason: str, status: int, error: BaseException):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.error = error


# Runs before every metadata read; raises GateFailure.
Gate = Callable[[], None]


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


class FilesBackend:
    def __init__(
        self,
        *,
        name: str,
        releases: ReleaseRoot,
        bad_versions: frozenset[str],
        database: Database,
        stopping: threading.Event,
        sentry_client: sentry_sdk.Client | None = None,
        session_hold: float = 0.0,
        gates: Sequence[Gate] = (),
    ):
        self.name = name
        self.releases = ReleaseWatcher(releases)
        self.bad_versions = bad_versions
        self.database = database
        self.stopping = stopping
        self.session_hold = session_hold
        self.sessions = SessionTracker(min_hold=session_hold)
        self._sentry = sentry_client
        self.gates = tuple(gates)

    def running_bad_release(self) -> bool:
        return self.releases.version() in self.bad_versions

    def query(self, *, user: str, client: str, transaction: str) -> None:
        """One metadata read; raises Refused (and reports to Sentry) when the database fails."""
        for gate in self.gates:
            try:
                gate()
            except GateFailure as failure:
                self.report_exception(failure.error, user=user, transaction=transaction)
                raise Refused(failure.reason, status=failure.status) from failure
        try:
            self.database.query(client, user)
        except DatabaseUnavailable as exc:
            self.report_exception(exc, user=user, transaction=transaction)
            raise Refused(DATABASE_DOWN, status=503) from exc

    def open_session(self, user: str, *, client: str = DESKTOP, transaction: str) -> Lease:
        """A new session for `user`, to be closed by the caller; raises Refused."""
        self.query(user=user, client=client, transaction=transaction)
        # The bad release reuses one pooled handle per user: a second simultaneous session
        # collides with the first. Deliberately not reported to Sentry, as in the incident.
        lease = self.sessions.open(user, exclusive=self.running_bad_release())
        if lease is None:
            raise Refused(SESSION_LIMIT, status=503)
        return lease

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
