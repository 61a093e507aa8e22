"""The service's metadata database, as far as faults are concerned.

Every request that reads metadata (a session, a file, a listing, a report) goes through
`query()`, which is where the database's faults show:

    up            answers at once
    reinstalled   every query fails (Dropbox 2014: a maintenance script reinstalled the active
                  primaries and replicas); a rollback of the service does not bring it back
    failed_over   most queries work; a lingering share keeps failing, by client class
                  (desktop 1 in 20, mobile 1 in 5) until the database is restored
    slow          independent of the above: each query takes `slow_delay` seconds, then answers

The lingering failures are counted, not drawn at random: exactly every n-th query of a user in
a class fails, so the shares are exact for every user (background traffic does not shift a
probe's share) and a test can count on them.
"""

from __future__ import annotations

import threading
from enum import Enum

DESKTOP = "desktop"
MOBILE = "mobile"
# One query in n keeps failing after a failover, per client class.
LINGERING_ONE_IN = {DESKTOP: 20, MOBILE: 5}
SLOW_DELAY = 2.0


class DatabaseState(Enum):
    UP = "up"
    REINSTALLED = "reinstalled"
    FAILED_OVER = "failed_over"


class DatabaseUnavailable(Exception):
    """A query that failed. Messages stay constant so Sentry groups them into one issue each."""


class Database:
    def __init__(self, stopping: threading.Event, *, slow_delay: float = SLOW_DELAY):
        self._stopping = stopping  # a slow query ends early when the world stops
        self.slow_delay = slow_delay
        self._lock = threading.Lock()
        self._state = DatabaseState.UP
        self._slow = False
        self._counts: dict[tuple[str, str], int] = {}

    @property
    def state(self) -> DatabaseState:
        with self._lock:
            return self._state

    @property
    def slow(self) -> bool:
        with self._lock:
            return self._slow

    # -- faults: each returns whether it changed anything --------------------------------------

    def reinstall(self) -> bool:
        return self._set(DatabaseState.REINSTALLED)

    def fail_over(self) -> bool:
        return self._set(DatabaseState.FAILED_OVER)

    def slow_down(self) -> bool:
        with self._lock:
            changed, self._slow = not self._slow, True
            return changed

    def restore(self) -> bool:
        with self._lock:
            changed = self._state is not DatabaseState.UP or self._slow
            self._state, self._slow = DatabaseState.UP, False
            self._counts = {}
            return changed

    def _set(self, state: DatabaseState) -> bool:
        with self._lock:
            changed, self._state = self._state is not state, state
            if changed:
                self._counts = {}
            return changed

    # -- queries ------------------------------------------------------------------------------

    def reachable(self) -> bool:
        """What a health check sees: is there a database to talk to at all?"""
        return self.state is not DatabaseState.REINSTALLED

    def query(self, client: str = DESKTOP, user: str = "") -> None:
        """One metadata query of a user's client of the given class; raises
        DatabaseUnavailable."""
        with self._lock:
            state, slow = self._state, self._slow
            failing = False
            if state is DatabaseState.FAILED_OVER:
                klass = client if client in LINGERING_ONE_IN else DESKTOP
                count = self._counts.get((klass, user), 0) + 1
                self._counts[klass, user] = count
                failing = count % LINGERING_ONE_IN[klass] == 0
        if slow:
            self._stopping.wait(self.slow_delay)
        if state is DatabaseState.REINSTALLED:
            raise DatabaseUnavailable("could not connect to primary db-meta-1: no such database")
        if failing:
            raise DatabaseUnavailable("shard still routed to the reinstalled primary")
