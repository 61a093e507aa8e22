"""The incident store: incidents and timeline events, one facade over its parts.

`IncidentStore` is what callers use; by itself it keeps everything in one SQLite file per host
user (`connection`: opening, WAL, transactions; `migrations`: the schema), and the PostgreSQL
backend (`pg/store.py`) gives it another connection. The queries live with what they are about:
`incidents`, `events`, `notifications`, `corrections`.

Every failure of the file (locked past the busy timeout, disk full, read-only, damaged, not a
database at all) comes out as a StoreError whose `reason` says it in a few words; callers that
must stay live (the TUI) run these calls off their event loop (see `worker`).
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from cockpit.incident.store import corrections, events, incidents, notifications
from cockpit.incident.store.connection import (
    BUSY_TIMEOUT_MS,
    Db,
    open_sqlite,
    read,
    store_path,
    write,
)
from cockpit.incident.store.errors import StoreError
from cockpit.incident.store.incidents import IncidentTimes
from cockpit.incident.store.notifications import Notification
from cockpit.model import Incident, IncidentStatus, TimelineEvent


class IncidentStore:
    """Incidents and their timeline events in one SQLite file; safe to share across processes.

    One instance may be used from several threads (the TUI writes from workers); calls are
    serialised on an internal lock. `read_only` opens an existing file for reading only (a data
    dir this account may not write); writes then raise StoreError.
    """

    def __init__(self, path: Path, *, read_only: bool = False, busy_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        self._db = open_sqlite(self.path, self._lock, read_only=read_only, busy_ms=busy_ms)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> IncidentStore:
        return cls(store_path(data_dir))

    @classmethod
    def for_reading(cls, data_dir: Path) -> IncidentStore:
        """The store to read from: read-write when this account may write it (so a first use
        creates it), else read-only; StoreError when neither can be opened."""
        path = store_path(data_dir)
        try:
            return cls(path)
        except StoreError as first:
            if not path.exists():
                raise
            try:
                return cls(path, read_only=True)
            except StoreError:
                raise first from None

    # -- the connection (another backend overrides these) ----------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Db]:
        """One IMMEDIATE transaction, committed before the block's caller returns."""
        with write(self._db, self._lock, self.path) as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[Db]:
        with read(self._db, self._lock, self.path) as db:
            yield db

    # -- incidents ------------------------------------------------------------------------------

    def declare(
        self,
        title: str,
        severity: str,
        commander: str,
        *,
        summary: str = "",
        impact_started_at: datetime | None = None,
        drill: bool = False,
        at: datetime | None = None,
    ) -> Incident:
        """Open a new incident and record its "declared" event; only one may be open at a time."""
        return incidents.declare(
            self._write,
            title,
            severity,
            commander,
            summary=summary,
            impact_started_at=impact_started_at,
            drill=drill,
            at=at,
        )

    def open_incident(self) -> Incident | None:
        return incidents.open_incident(self._read)

    def get(self, incident_id: int) -> Incident | None:
        return incidents.get(self._read, incident_id)

    def set_status(
        self, incident_id: int, status: IncidentStatus, at: datetime | None = None
    ) -> Incident:
        """Move an incident to `status` and record "status.<name>"; the same status is a no-op.

        Leaving "resolved" reopens the incident, which fails while another one is open.
        """
        return incidents.set_status(self._write, incident_id, status, at)

    def status_times(self, incident_id: int) -> dict[IncidentStatus, datetime]:
        """When the incident last entered each status it has been in."""
        return incidents.status_times(self._read, incident_id)

    def times(self, incident_id: int) -> IncidentTimes:
        return incidents.times(self._read, incident_id)

    def list(self) -> builtins.list[Incident]:
        """Every incident, newest first."""
        return incidents.all_incidents(self._read)

    def correct_time(
        self,
        incident_id: int,
        field: str,
        new: datetime,
        by: str,
        *,
        was: datetime | None = None,
        at: datetime | None = None,
    ) -> TimelineEvent:
        """Set one of TIME_FIELDS afterwards and record the correction as a timeline event."""
        return corrections.correct_time(self._write, incident_id, field, new, by, was=was, at=at)

    # -- events ---------------------------------------------------------------------------------

    def add_event(
        self, event: TimelineEvent, incident_id: int | None = None, *, family: str = ""
    ) -> bool:
        """Record an event, attached to `incident_id`, else to the open incident if any.

        Returns False when an event with the same non-empty key is already recorded, and, for
        a state change of `family` (e.g. "probe:web" with kinds probe.down/probe.up), when the
        family's latest recorded event within FAMILY_WINDOW is already of this kind: a second
        cockpit, or a restarted one, records an ongoing failure once.
        """
        with self._write() as db:
            if family and events.family_state(db, family, event.at) == event.kind:
                return False
            attached = incidents.attach_to(db, incident_id)
            return events.insert_event(db, event, attached, family)

    def family_states(
        self, since: datetime, families: builtins.list[str] | None = None
    ) -> dict[str, TimelineEvent]:
        """The latest event of each family recorded at or after `since`."""
        return events.family_states(self._read, since, families)

    def events(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[TimelineEvent]:
        """Events with since <= at <= until, oldest first; `limit` keeps the oldest ones."""
        return events.events(self._read, since, until, limit)

    def recent_events(self, limit: int) -> builtins.list[TimelineEvent]:
        """The `limit` latest events, newest last."""
        return events.recent_events(self._read, limit)

    def incident_events(
        self, incident: Incident, now: datetime | None = None
    ) -> builtins.list[TimelineEvent]:
        """What belongs in the incident's timeline, oldest first."""
        return events.incident_events(self._read, incident, now)

    # -- notifications --------------------------------------------------------------------------

    def notify_key(self, incident_id: int) -> str:
        """The incident's alert identity (PagerDuty dedup_key), made once and then kept."""
        return notifications.notify_key(self._write, incident_id)

    def claim_notification(
        self,
        incident_id: int,
        channel: str,
        event: str,
        *,
        stale_after: timedelta,
        at: datetime | None = None,
    ) -> Notification | None:
        """Mark one notification as being sent by this process, counting the attempt; None
        when it needs no sending."""
        return notifications.claim_notification(
            self._write, incident_id, channel, event, stale_after=stale_after, at=at
        )

    def finish_notification(
        self,
        incident_id: int,
        channel: str,
        event: str,
        status: str,
        error: str = "",
        *,
        at: datetime | None = None,
    ) -> Notification:
        """Record how an attempt ended ("sent" or "failed"), or that it was "suppressed"."""
        return notifications.finish_notification(
            self._write, incident_id, channel, event, status, error, at=at
        )

    def notifications(
        self, incident_id: int | None = None, status: str | None = None
    ) -> builtins.list[Notification]:
        return notifications.notifications(self._read, incident_id, status)

    # -- lifecycle ------------------------------------------------------------------------------

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        """Have `on_change` called (on another thread) whenever any process changes the store;
        returns how to stop. None when the backend cannot tell: SQLite is read again every
        few seconds instead."""
        return None

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
