"""Timeline events: recording each observation once (by key, and a state change of a family
once while it holds), and reading them back by window, latest, or incident."""

from __future__ import annotations

from datetime import datetime, timedelta

from cockpit.incident.store.connection import Db, Row, Transaction
from cockpit.incident.store.timestamps import to_text
from cockpit.model import Incident, TimelineEvent
from cockpit.timeutil import parse_iso, utcnow

# How far before the impact start an incident's timeline reaches: the change that caused it
# usually lands minutes before anyone notices.
LEAD_TIME = timedelta(minutes=30)
# A state change is recorded again only when the family's last recorded state is older than
# this: a timeline left "down" by a cockpit closed yesterday says nothing about today.
FAMILY_WINDOW = timedelta(hours=12)

_EVENT_COLUMNS = "at, kind, text, source, key"


def event_from(row: Row) -> TimelineEvent:
    return TimelineEvent(
        at=parse_iso(row["at"]),
        kind=row["kind"],
        text=row["text"],
        source=row["source"],
        key=row["key"] or "",
    )


def insert_event(db: Db, event: TimelineEvent, incident_id: int | None, family: str = "") -> bool:
    """False when an event with the same non-empty key is already recorded."""
    cursor = db.execute(
        "INSERT INTO events (at, kind, text, source, key, incident_id, recorded_at, family) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (
            to_text(event.at),
            event.kind,
            event.text,
            event.source,
            event.key or None,  # NULL keys never collide: unkeyed events are all kept
            incident_id,
            to_text(utcnow()),
            family or None,
        ),
    )
    return cursor.rowcount == 1


def family_state(db: Db, family: str, at: datetime) -> str | None:
    """The kind of the family's latest event within FAMILY_WINDOW before `at`, if any."""
    row = db.execute(
        "SELECT kind FROM events WHERE family = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT 1",
        (family, to_text(at - FAMILY_WINDOW)),
    ).fetchone()
    return None if row is None else str(row["kind"])


def family_states(
    read: Transaction, since: datetime, families: list[str] | None = None
) -> dict[str, TimelineEvent]:
    """The latest event of each family recorded at or after `since` (what a cockpit that
    starts mid-incident takes over: "probe web down since 06:52")."""
    with read() as db:
        rows = db.execute(
            f"SELECT {_EVENT_COLUMNS}, family FROM events WHERE family IS NOT NULL "
            "AND at >= ? ORDER BY at, id",
            (to_text(since),),
        ).fetchall()
    latest = {row["family"]: event_from(row) for row in rows}
    if families is not None:
        latest = {f: e for f, e in latest.items() if f in families}
    return latest


def events(
    read: Transaction,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[TimelineEvent]:
    """Events with since <= at <= until, oldest first; `limit` keeps the oldest ones."""
    where, params = _window(since, until)
    sql = f"SELECT {_EVENT_COLUMNS} FROM events{where} ORDER BY at, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    with read() as db:
        rows = db.execute(sql, params).fetchall()
    return [event_from(row) for row in rows]


def recent_events(read: Transaction, limit: int) -> list[TimelineEvent]:
    """The `limit` latest events, newest last."""
    with read() as db:
        rows = db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY at DESC, id DESC LIMIT ?",
            (max(0, limit),),
        ).fetchall()
    return [event_from(row) for row in reversed(rows)]


def incident_events(
    read: Transaction, incident: Incident, now: datetime | None = None
) -> list[TimelineEvent]:
    """What belongs in the incident's timeline, oldest first.

    Everything from 30 minutes before the impact started (or the declaration) until it was
    resolved (or now), plus anything explicitly attached to it outside that window.
    """
    start = (incident.impact_started_at or incident.declared_at) - LEAD_TIME
    end = incident.resolved_at or now or utcnow()
    with read() as db:
        rows = db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events "
            "WHERE (at >= ? AND at <= ?) OR incident_id = ? ORDER BY at, id",
            (to_text(start), to_text(end), incident.id),
        ).fetchall()
    return [event_from(row) for row in rows]


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append("at >= ?")
        params.append(to_text(since))
    if until is not None:
        clauses.append("at <= ?")
        params.append(to_text(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
