"""The incident store: incidents and timeline events in one SQLite file per host user.

Several cockpits on one bastion (two engineers, or a TUI and `cockpit export`) share the file, so
it runs in WAL mode with a busy timeout, and every write is its own committed transaction before
the method returns: a kill -9 or a dropped SSH session right after loses nothing reported as saved.
Times are stored as fixed-width UTC ISO strings, so text order is time order.

Every failure of the file (locked past the busy timeout, disk full, read-only, damaged, not a
database at all) comes out as a StoreError whose `reason` says it in a few words; callers that
must stay live (the TUI) run these calls off their event loop (see `store_worker`).
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from cockpit.model import SEVERITIES, Incident, IncidentStatus, TimelineEvent
from cockpit.term.textsafe import Inert, blank
from cockpit.timeutil import local_clock, parse_iso, utc_hms, utc_stamp, utcnow

STORE_FILENAME = "incidents.sqlite3"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 5000
# How far before the impact start an incident's timeline reaches: the change that caused it
# usually lands minutes before anyone notices.
LEAD_TIME = timedelta(minutes=30)

_OPEN = "status != 'resolved'"

# One list of statements per schema version step; index N upgrades from version N to N + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            severity TEXT NOT NULL,
            commander TEXT NOT NULL,
            status TEXT NOT NULL,
            declared_at TEXT NOT NULL,
            impact_started_at TEXT,
            summary TEXT NOT NULL DEFAULT '',
            drill INTEGER NOT NULL DEFAULT 0,
            resolved_at TEXT,
            investigating_at TEXT,
            identified_at TEXT,
            mitigated_at TEXT
        )
        """,
        # At most one open incident, enforced by the file itself so two processes cannot race.
        f"CREATE UNIQUE INDEX incidents_one_open ON incidents ({_OPEN}) WHERE {_OPEN}",
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            key TEXT UNIQUE,
            incident_id INTEGER REFERENCES incidents (id),
            recorded_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX events_at ON events (at, id)",
        "CREATE INDEX events_incident ON events (incident_id)",
    ),
    (
        # A person's correction of when detection happened; unset = the first detector event.
        "ALTER TABLE incidents ADD COLUMN detected_at TEXT",
        # The PagerDuty dedup_key (and any channel's alert identity) of this incident, so that
        # the resolve closes the alert the trigger opened, from whichever process sends it.
        "ALTER TABLE incidents ADD COLUMN notify_key TEXT",
        """
        CREATE TABLE notifications (
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            channel TEXT NOT NULL,
            event TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (incident_id, channel, event)
        )
        """,
    ),
    (
        # What an event is a state change of ("probe:web", "spike:nginx"): a second cockpit, or
        # a restarted one, must not record again a state the timeline already shows.
        "ALTER TABLE events ADD COLUMN family TEXT",
        "CREATE INDEX events_family ON events (family, at) WHERE family IS NOT NULL",
    ),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_STATUS_COLUMN = {
    IncidentStatus.INVESTIGATING: "investigating_at",
    IncidentStatus.IDENTIFIED: "identified_at",
    IncidentStatus.MITIGATED: "mitigated_at",
    IncidentStatus.RESOLVED: "resolved_at",
}

_INCIDENT_COLUMNS = (
    "id, title, severity, commander, status, declared_at, impact_started_at, summary, drill, "
    "resolved_at"
)
_EVENT_COLUMNS = "at, kind, text, source, key"

# Times a person may correct afterwards: name -> (column, how the timeline says it).
TIME_FIELDS: dict[str, tuple[str, str]] = {
    "impact-start": ("impact_started_at", "impact start"),
    "detected": ("detected_at", "detected"),
    "declared": ("declared_at", "declared"),
    "identified": ("identified_at", "identified"),
    "mitigated": ("mitigated_at", "mitigated"),
    "resolved": ("resolved_at", "resolved"),
}
# Status times exist only once the incident has been in that status.
_NEEDS_VALUE = frozenset({"identified", "mitigated", "resolved"})

NOTIFY_STATUSES = ("sending", "sent", "failed", "suppressed")
_NOTIFY_DONE = ("sent", "suppressed")
_NOTIFICATION_COLUMNS = "incident_id, channel, event, status, error, attempts, updated_at, sent_at"


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """Every time the store keeps for an incident; None where it has not happened (yet)."""

    declared: datetime
    impact_started: datetime | None
    detected: datetime | None  # only a person's correction; else derived from the timeline
    investigating: datetime | None
    identified: datetime | None
    mitigated: datetime | None
    resolved: datetime | None


@dataclass(frozen=True, slots=True)
class Notification:
    """One channel told (or not) about one incident event, as last attempted."""

    incident_id: int
    channel: str
    event: str
    status: str  # one of NOTIFY_STATUSES
    error: str  # why the last attempt failed; never holds a secret
    attempts: int
    updated_at: datetime
    sent_at: datetime | None


# A state change is recorded again only when the family's last recorded state is older than
# this: a timeline left "down" by a cockpit closed yesterday says nothing about today.
FAMILY_WINDOW = timedelta(hours=12)


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row, and the PostgreSQL backend's)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> builtins.list[Any]: ...


class Db(Protocol):
    """What the queries need of a connection: sqlite3's, or the PostgreSQL backend's adapter
    (same SQL, "?" placeholders)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...


class StoreError(Exception):
    """The store cannot do what was asked; the message is fit to show, `reason` is its gist."""

    def __init__(self, message: str, reason: str = ""):
        self.reason = reason or message
        super().__init__(message)


class StoreUnavailable(StoreError):
    """The store is not open (it could not be opened, or it is being reopened)."""


# sqlite's words -> what a person on call needs to read (the first match wins).
_REASONS = (
    ("database is locked", "locked by another process"),
    ("database table is locked", "locked by another process"),
    ("disk is full", "disk full"),
    ("readonly database", "read-only: this account cannot write it"),
    ("unable to open database", "cannot be opened (missing, or no permission)"),
    ("file is not a database", "not an incident store (file is not a database)"),
    ("malformed", "damaged (database disk image is malformed)"),
    ("disk i/o error", "disk I/O error"),
)


def store_reason(exc: BaseException) -> str:
    """The gist of a store failure, in a few words."""
    text = str(exc)
    lowered = text.lower()
    for needle, reason in _REASONS:
        if needle in lowered:
            return reason
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return text or type(exc).__name__


def _failure(path: Path, exc: BaseException) -> StoreError:
    reason = store_reason(exc)
    return StoreError(f"incident store {path}: {reason}", reason)


class IncidentAlreadyOpen(StoreError):
    def __init__(self, incident: Incident):
        self.incident = incident
        super().__init__(
            f"incident #{incident.id} ({incident.title!r}, {incident.severity}) is still open "
            f"since {utc_stamp(incident.declared_at)}, commander {incident.commander}; "
            "resolve it before declaring another"
        )


class UnknownIncident(StoreError, LookupError):
    def __init__(self, incident_id: int):
        self.incident_id = incident_id
        super().__init__(f"no incident #{incident_id}")


def store_path(data_dir: Path) -> Path:
    return data_dir / STORE_FILENAME


def _ts(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store keeps aware UTC times")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _opt_ts(when: datetime | None) -> str | None:
    return None if when is None else _ts(when)


def _opt_dt(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def _incident(row: Row) -> Incident:
    return Incident(
        id=row["id"],
        title=row["title"],
        severity=row["severity"],
        commander=row["commander"],
        status=IncidentStatus(row["status"]),
        declared_at=parse_iso(row["declared_at"]),
        impact_started_at=_opt_dt(row["impact_started_at"]),
        summary=row["summary"],
        drill=bool(row["drill"]),
        resolved_at=_opt_dt(row["resolved_at"]),
    )


def _notification(row: Row) -> Notification:
    return Notification(
        incident_id=row["incident_id"],
        channel=row["channel"],
        event=row["event"],
        status=row["status"],
        error=row["error"],
        attempts=row["attempts"],
        updated_at=parse_iso(row["updated_at"]),
        sent_at=_opt_dt(row["sent_at"]),
    )


def correction_key(incident_id: int, field: str, new: datetime) -> str:
    """The correction event's key carries the corrected value, so a timeline alone (an export
    made from events) knows it; the random tail keeps two equal corrections apart."""
    return f"correction:{incident_id}:{field}:{_ts(new)}:{uuid.uuid4().hex[:12]}"


def parse_correction_key(key: str) -> tuple[int, str, datetime] | None:
    """(incident id, field, corrected value) from a correction event's key, else None."""
    prefix, _, rest = key.partition(":")
    if prefix != "correction":
        return None
    try:
        incident, field, rest = rest.split(":", 2)
        value, _tail = rest.rsplit(":", 1)
        return int(incident), field, parse_iso(value)
    except ValueError:
        return None


def _clock(when: datetime) -> str:
    """Local time of day as people say it: 06:50, with seconds only when they matter."""
    return local_clock(when, seconds=when.second != 0 or when.microsecond != 0)


def _event(row: Row) -> TimelineEvent:
    return TimelineEvent(
        at=parse_iso(row["at"]),
        kind=row["kind"],
        text=row["text"],
        source=row["source"],
        key=row["key"] or "",
    )


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
        if not read_only:
            self._create_file()
        try:
            if read_only:
                uri = f"file:{self.path.as_posix()}?mode=ro"
                self._db = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=busy_ms / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                self._db = sqlite3.connect(
                    self.path,
                    timeout=busy_ms / 1000,
                    isolation_level=None,  # autocommit; writes use explicit transactions
                    check_same_thread=False,
                )
        except sqlite3.Error as exc:
            raise _failure(self.path, exc) from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if read_only:
                self._check_version()
            else:
                self._set_wal()
                # FULL: the WAL is synced at each commit, so "saved" survives power loss too.
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise _failure(self.path, exc) from None
        except BaseException:
            self._db.close()
            raise

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

    # -- setup ----------------------------------------------------------------------------------

    def _create_file(self) -> None:
        """Create the file ourselves, so that in a shared data dir it is group-writable: sqlite
        would make it 0644, and gives its -wal and -shm files the same mode as the file."""
        from cockpit.host.datadir import DataDirError, ensure_data_dir, touch

        try:
            ensure_data_dir(self.path.parent)
            touch(self.path)
        except DataDirError as exc:
            raise StoreError(str(exc)) from None
        except OSError as exc:
            raise _failure(self.path, exc) from None

    def _check_version(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, this cockpit needs "
                f"{SCHEMA_VERSION}; open it once from an account that may write it",
                "needs a schema upgrade",
            )

    def _set_wal(self) -> None:
        # Switching a fresh file to WAL needs a moment of exclusive access; a second process
        # opening the same new file at that instant gets "locked" without the busy handler.
        for attempt in range(50):
            try:
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.02)
                continue
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL journal (got {mode})")
            return

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, written by a newer "
                    f"oncall-cockpit; this one knows up to {SCHEMA_VERSION}"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[Db]:
        """One IMMEDIATE transaction, committed before the block's caller returns."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
                try:
                    db.execute("COMMIT")
                except sqlite3.Error:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _failure(self.path, exc) from None

    @contextmanager
    def _read(self) -> Iterator[Db]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise _failure(self.path, exc) from None

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
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        # Whoever calls, what is written is inert and holds no secret.
        title, commander, summary = Inert(title), Inert(commander), Inert(summary)
        if blank(title):
            raise ValueError("an incident needs a title")
        declared_at = _ts(at or utcnow())
        impact = _opt_ts(impact_started_at)
        with self._write() as db:
            existing = self._open_row(db)
            if existing is not None:
                raise IncidentAlreadyOpen(_incident(existing))
            cursor = db.execute(
                "INSERT INTO incidents (title, severity, commander, status, declared_at, "
                "impact_started_at, summary, drill, investigating_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    title,
                    severity,
                    commander,
                    IncidentStatus.INVESTIGATING.value,
                    declared_at,
                    impact,
                    summary,
                    int(drill),
                    declared_at,
                ),
            )
            incident_id: int = cursor.fetchone()[0]
            drill_note = " (drill)" if drill else ""
            self._insert_event(
                db,
                TimelineEvent(
                    at=parse_iso(declared_at),
                    kind="declared",
                    text=f"{severity} declared{drill_note}: {title} (commander {commander})",
                    source="cockpit",
                    key=f"incident:{incident_id}:declared",
                ),
                incident_id,
            )
            row = self._row(db, incident_id)
        return _incident(row)

    def open_incident(self) -> Incident | None:
        with self._read() as db:
            row = self._open_row(db)
        return None if row is None else _incident(row)

    def get(self, incident_id: int) -> Incident | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
        return None if row is None else _incident(row)

    def set_status(
        self, incident_id: int, status: IncidentStatus, at: datetime | None = None
    ) -> Incident:
        """Move an incident to `status` and record "status.<name>"; the same status is a no-op.

        Leaving "resolved" reopens the incident, which fails while another one is open.
        """
        status = IncidentStatus(status)
        when = _ts(at or utcnow())
        with self._write() as db:
            row = self._row(db, incident_id)
            old = IncidentStatus(row["status"])
            if old == status:
                return _incident(row)
            if old == IncidentStatus.RESOLVED:
                other = self._open_row(db)
                if other is not None:
                    raise IncidentAlreadyOpen(_incident(other))
            resolved_at = when if status == IncidentStatus.RESOLVED else None
            # One assignment per column (resolving sets resolved_at once): PostgreSQL refuses
            # a column assigned twice.
            values = {"status": status.value, "resolved_at": resolved_at}
            values[_STATUS_COLUMN[status]] = when
            assignments = ", ".join(f"{column} = ?" for column in values)
            db.execute(
                f"UPDATE incidents SET {assignments} WHERE id = ?",
                (*values.values(), incident_id),
            )
            reopened = " (reopened)" if old == IncidentStatus.RESOLVED else ""
            self._insert_event(
                db,
                TimelineEvent(
                    at=parse_iso(when),
                    kind=f"status.{status.value}",
                    text=f"incident #{incident_id} status {old.value} -> {status.value}{reopened}",
                    source="cockpit",
                ),
                incident_id,
            )
            row = self._row(db, incident_id)
        return _incident(row)

    def status_times(self, incident_id: int) -> dict[IncidentStatus, datetime]:
        """When the incident last entered each status it has been in."""
        with self._read() as db:
            row = db.execute(
                "SELECT investigating_at, identified_at, mitigated_at, resolved_at "
                "FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
        if row is None:
            raise UnknownIncident(incident_id)
        return {
            status: parse_iso(row[column])
            for status, column in _STATUS_COLUMN.items()
            if row[column] is not None
        }

    def times(self, incident_id: int) -> IncidentTimes:
        with self._read() as db:
            row = db.execute(
                "SELECT declared_at, impact_started_at, detected_at, investigating_at, "
                "identified_at, mitigated_at, resolved_at FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
        if row is None:
            raise UnknownIncident(incident_id)
        return IncidentTimes(
            declared=parse_iso(row["declared_at"]),
            impact_started=_opt_dt(row["impact_started_at"]),
            detected=_opt_dt(row["detected_at"]),
            investigating=_opt_dt(row["investigating_at"]),
            identified=_opt_dt(row["identified_at"]),
            mitigated=_opt_dt(row["mitigated_at"]),
            resolved=_opt_dt(row["resolved_at"]),
        )

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
        """Set one of TIME_FIELDS afterwards and record the correction as a timeline event.

        `was` names the value people saw before when the column was unset (the detected time
        derived from the timeline); it only shapes the event's text.
        """
        if field not in TIME_FIELDS:
            raise ValueError(f"{field!r} is not one of {', '.join(TIME_FIELDS)}")
        column, label = TIME_FIELDS[field]
        new_ts = _ts(new)
        with self._write() as db:
            self._row(db, incident_id)
            current = db.execute(
                f"SELECT {column}, investigating_at FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
            old = _opt_dt(current[0]) or was
            if current[0] is None and field in _NEEDS_VALUE:
                raise StoreError(
                    f"incident #{incident_id} has not been {field}; set its status first"
                )
            db.execute(f"UPDATE incidents SET {column} = ? WHERE id = ?", (new_ts, incident_id))
            if field == "declared" and current[1] == current[0]:
                # Investigating begins with the declaration; keep the two together.
                db.execute(
                    "UPDATE incidents SET investigating_at = ? WHERE id = ?", (new_ts, incident_id)
                )
            new_at = parse_iso(new_ts)
            if old is None:
                text = f"{label} set to {_clock(new_at)} by {by} ({utc_hms(new_at)} UTC)"
            else:
                text = (
                    f"{label} corrected {_clock(old)} -> {_clock(new_at)} by {by} "
                    f"({utc_hms(old)} -> {utc_hms(new_at)} UTC)"
                )
            event = TimelineEvent(
                at=at or utcnow(),
                kind=f"correction.{field}",
                text=text,
                source="cockpit",
                key=correction_key(incident_id, field, new_at),
            )
            self._insert_event(db, event, incident_id)
        return event

    def list(self) -> builtins.list[Incident]:
        """Every incident, newest first."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents ORDER BY id DESC"
            ).fetchall()
        return [_incident(row) for row in rows]

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
            if family and self._family_state(db, family, event.at) == event.kind:
                return False
            if incident_id is not None:
                self._row(db, incident_id)
            else:
                row = self._open_row(db)
                incident_id = None if row is None else row["id"]
            return self._insert_event(db, event, incident_id, family)

    def family_states(
        self, since: datetime, families: builtins.list[str] | None = None
    ) -> dict[str, TimelineEvent]:
        """The latest event of each family recorded at or after `since` (what a cockpit that
        starts mid-incident takes over: "probe web down since 06:52")."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS}, family FROM events WHERE family IS NOT NULL "
                "AND at >= ? ORDER BY at, id",
                (_ts(since),),
            ).fetchall()
        latest = {row["family"]: _event(row) for row in rows}
        if families is not None:
            latest = {f: e for f, e in latest.items() if f in families}
        return latest

    @staticmethod
    def _family_state(db: Db, family: str, at: datetime) -> str | None:
        row = db.execute(
            "SELECT kind FROM events WHERE family = ? AND at >= ? ORDER BY at DESC, id DESC "
            "LIMIT 1",
            (family, _ts(at - FAMILY_WINDOW)),
        ).fetchone()
        return None if row is None else str(row["kind"])

    def events(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[TimelineEvent]:
        """Events with since <= at <= until, oldest first; `limit` keeps the oldest ones."""
        where, params = self._window(since, until)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events{where} ORDER BY at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        return [_event(row) for row in rows]

    def recent_events(self, limit: int) -> builtins.list[TimelineEvent]:
        """The `limit` latest events, newest last."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY at DESC, id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [_event(row) for row in reversed(rows)]

    def incident_events(
        self, incident: Incident, now: datetime | None = None
    ) -> builtins.list[TimelineEvent]:
        """What belongs in the incident's timeline, oldest first.

        Everything from 30 minutes before the impact started (or the declaration) until it was
        resolved (or now), plus anything explicitly attached to it outside that window.
        """
        start = (incident.impact_started_at or incident.declared_at) - LEAD_TIME
        end = incident.resolved_at or now or utcnow()
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events "
                "WHERE (at >= ? AND at <= ?) OR incident_id = ? ORDER BY at, id",
                (_ts(start), _ts(end), incident.id),
            ).fetchall()
        return [_event(row) for row in rows]

    # -- notifications --------------------------------------------------------------------------

    def notify_key(self, incident_id: int) -> str:
        """The incident's alert identity (PagerDuty dedup_key), made once and then kept."""
        with self._write() as db:
            self._row(db, incident_id)
            db.execute(
                "UPDATE incidents SET notify_key = ? WHERE id = ? AND notify_key IS NULL",
                (f"oncall-cockpit-{uuid.uuid4().hex}", incident_id),
            )
            key: str = db.execute(
                "SELECT notify_key FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()[0]
        return key

    def claim_notification(
        self,
        incident_id: int,
        channel: str,
        event: str,
        *,
        stale_after: timedelta,
        at: datetime | None = None,
    ) -> Notification | None:
        """Mark one notification as being sent by this process, counting the attempt.

        None when it needs no sending: already sent or suppressed, or another process claimed
        it less than `stale_after` ago (a claim older than that belongs to a process that died).
        """
        now = _ts(at or utcnow())
        stale_before = _ts(parse_iso(now) - stale_after)
        with self._write() as db:
            self._row(db, incident_id)
            row = db.execute(
                "SELECT status, updated_at FROM notifications "
                "WHERE incident_id = ? AND channel = ? AND event = ?",
                (incident_id, channel, event),
            ).fetchone()
            if row is not None and (
                row["status"] in _NOTIFY_DONE
                or (row["status"] == "sending" and row["updated_at"] > stale_before)
            ):
                return None
            db.execute(
                "INSERT INTO notifications (incident_id, channel, event, status, attempts, "
                "updated_at) VALUES (?, ?, ?, 'sending', 1, ?) "
                "ON CONFLICT (incident_id, channel, event) DO UPDATE SET status = 'sending', "
                "attempts = notifications.attempts + 1, updated_at = excluded.updated_at",
                (incident_id, channel, event, now),
            )
            return self._notification_row(db, incident_id, channel, event)

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
        if status not in NOTIFY_STATUSES:
            raise ValueError(f"notification status {status!r} is not one of {NOTIFY_STATUSES}")
        now = _ts(at or utcnow())
        sent_at = now if status == "sent" else None
        error = Inert(error)  # a server's answer: inert, secrets redacted
        with self._write() as db:
            self._row(db, incident_id)
            db.execute(
                "INSERT INTO notifications (incident_id, channel, event, status, error, "
                "attempts, updated_at, sent_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (incident_id, channel, event) DO UPDATE SET status = "
                "excluded.status, error = excluded.error, updated_at = excluded.updated_at, "
                "sent_at = COALESCE(excluded.sent_at, notifications.sent_at)",
                (incident_id, channel, event, status, error, now, sent_at),
            )
            return self._notification_row(db, incident_id, channel, event)

    def notifications(
        self, incident_id: int | None = None, status: str | None = None
    ) -> builtins.list[Notification]:
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if incident_id is not None:
            clauses.append("incident_id = ?")
            params.append(incident_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications{where} "
                "ORDER BY incident_id, updated_at, channel, event",
                params,
            ).fetchall()
        return [_notification(row) for row in rows]

    @staticmethod
    def _notification_row(db: Db, incident_id: int, channel: str, event: str) -> Notification:
        row = db.execute(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
            "WHERE incident_id = ? AND channel = ? AND event = ?",
            (incident_id, channel, event),
        ).fetchone()
        return _notification(row)

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

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _open_row(db: Db) -> Row | None:
        row: Row | None = db.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {_OPEN} ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return row

    @staticmethod
    def _row(db: Db, incident_id: int) -> Row:
        row: Row | None = db.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        if row is None:
            raise UnknownIncident(incident_id)
        return row

    @staticmethod
    def _insert_event(
        db: Db, event: TimelineEvent, incident_id: int | None, family: str = ""
    ) -> bool:
        cursor = db.execute(
            "INSERT INTO events (at, kind, text, source, key, incident_id, recorded_at, family) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (
                _ts(event.at),
                event.kind,
                event.text,
                event.source,
                event.key or None,  # NULL keys never collide: unkeyed events are all kept
                incident_id,
                _ts(utcnow()),
                family or None,
            ),
        )
        return cursor.rowcount == 1

    @staticmethod
    def _window(
        since: datetime | None, until: datetime | None
    ) -> tuple[str, builtins.list[object]]:
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if since is not None:
            clauses.append("at >= ?")
            params.append(_ts(since))
        if until is not None:
            clauses.append("at <= ?")
            params.append(_ts(until))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
