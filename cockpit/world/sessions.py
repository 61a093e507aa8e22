"""Open sessions per user, shared by every protocol the world speaks (HTTP, FTP, SFTP, WebDAV).

The Files.com bug lives here: with `exclusive`, a user who already holds a session cannot open
another. A session counts as open until it is closed and, at the earliest, `min_hold` seconds
after it opened: the server releases its handle lazily, so sessions a client opens "at once"
overlap even when each one is over in a few milliseconds.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType


class Lease:
    """One open session; close() is idempotent."""

    def __init__(self, tracker: SessionTracker, user: str, opened: float):
        self.user = user
        self.opened = opened
        self.closed: float | None = None
        self._tracker = tracker

    def open_at(self, now: float) -> bool:
        end = self.opened + self._tracker.min_hold
        return self.closed is None or now < max(self.closed, end)

    def close(self) -> None:
        self._tracker._close(self)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SessionTracker:
    def __init__(self, min_hold: float = 0.0):
        self.min_hold = min_hold
        self._lock = threading.Lock()
        self._leases: dict[str, list[Lease]] = {}

    def open(self, user: str, *, exclusive: bool) -> Lease | None:
        """A new session, or None when `exclusive` and the user already has one open."""
        with self._lock:
            now = time.monotonic()
            held = self._live(user, now)
            if exclusive and held:
                return None
            lease = Lease(self, user, now)
            held.append(lease)
            self._leases[user] = held
            return lease

    def open_count(self, user: str | None = None) -> int:
        with self._lock:
            now = time.monotonic()
            users = [user] if user is not None else list(self._leases)
            return sum(len(self._live(name, now)) for name in users)

    def _live(self, user: str, now: float) -> list[Lease]:
        live = [lease for lease in self._leases.get(user, ()) if lease.open_at(now)]
        if live:
            self._leases[user] = live
        else:
            self._leases.pop(user, None)
        return live

    def _close(self, lease: Lease) -> None:
        with self._lock:
            if lease.closed is None:
                lease.closed = time.monotonic()
            self._live(lease.user, lease.closed)
