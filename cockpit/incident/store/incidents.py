"""Incidents: declaring one (at most one open, which the file itself enforces), moving it
through its statuses, and the times it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.incident.store.connection import Db, Row, Transaction
from cockpit.incident.store.errors import IncidentAlreadyOpen, UnknownIncident
from cockpit.incident.store.events import insert_event
from cockpit.incident.store.migrations import OPEN
from cockpit.incident.store.timestamps import opt_text, opt_time, to_text
from cockpit.model import SEVERITIES, Incident, IncidentStatus, TimelineEvent
from cockpit.term.textsafe import Inert, blank
from cockpit.timeutil import parse_iso, utcnow

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


def incident_from(row: Row) -> Incident:
    return Incident(
        id=row["id"],
        title=row["title"],
        severity=row["severity"],
        commander=row["commander"],
        status=IncidentStatus(row["status"]),
        declared_at=parse_iso(row["declared_at"]),
        impact_started_at=opt_time(row["impact_started_at"]),
        summary=row["summary"],
        drill=bool(row["drill"]),
        resolved_at=opt_time(row["resolved_at"]),
    )


def open_row(db: Db) -> Row | None:
    row: Row | None = db.execute(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {OPEN} ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return row


def incident_row(db: Db, incident_id: int) -> Row:
    """The incident's row; UnknownIncident when there is none."""
    row: Row | None = db.execute(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
    ).fetchone()
    if row is None:
        raise UnknownIncident(incident_id)
    return row


def attach_to(db: Db, incident_id: int | None) -> int | None:
    """The incident an event goes with: `incident_id` when it exists, else the open one."""
    if incident_id is not None:
        incident_row(db, incident_id)
        return incident_id
    row = open_row(db)
    return None if row is None else int(row["id"])


def declare(
    write: Transaction,
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
    declared_at = to_text(at or utcnow())
    impact = opt_text(impact_started_at)
    with write() as db:
        existing = open_row(db)
        if existing is not None:
            raise IncidentAlreadyOpen(incident_from(existing))
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
        insert_event(
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
        row = incident_row(db, incident_id)
    return incident_from(row)


def open_incident(read: Transaction) -> Incident | None:
    with read() as db:
        row = open_row(db)
    return None if row is None else incident_from(row)


def get(read: Transaction, incident_id: int) -> Incident | None:
    with read() as db:
        row = db.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
    return None if row is None else incident_from(row)


def set_status(
    write: Transaction, incident_id: int, status: IncidentStatus, at: datetime | None = None
) -> Incident:
    """Move an incident to `status` and record "status.<name>"; the same status is a no-op.

    Leaving "resolved" reopens the incident, which fails while another one is open.
    """
    status = IncidentStatus(status)
    when = to_text(at or utcnow())
    with write() as db:
        row = incident_row(db, incident_id)
        old = IncidentStatus(row["status"])
        if old == status:
            return incident_from(row)
        if old == IncidentStatus.RESOLVED:
            other = open_row(db)
            if other is not None:
                raise IncidentAlreadyOpen(incident_from(other))
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
        insert_event(
            db,
            TimelineEvent(
                at=parse_iso(when),
                kind=f"status.{status.value}",
                text=f"incident #{incident_id} status {old.value} -> {status.value}{reopened}",
                source="cockpit",
            ),
            incident_id,
        )
        row = incident_row(db, incident_id)
    return incident_from(row)


def status_times(read: Transaction, incident_id: int) -> dict[IncidentStatus, datetime]:
    """When the incident last entered each status it has been in."""
    with read() as db:
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


def times(read: Transaction, incident_id: int) -> IncidentTimes:
    with read() as db:
        row = db.execute(
            "SELECT declared_at, impact_started_at, detected_at, investigating_at, "
            "identified_at, mitigated_at, resolved_at FROM incidents WHERE id = ?",
            (incident_id,),
        ).fetchone()
    if row is None:
        raise UnknownIncident(incident_id)
    return IncidentTimes(
        declared=parse_iso(row["declared_at"]),
        impact_started=opt_time(row["impact_started_at"]),
        detected=opt_time(row["detected_at"]),
        investigating=opt_time(row["investigating_at"]),
        identified=opt_time(row["identified_at"]),
        mitigated=opt_time(row["mitigated_at"]),
        resolved=opt_time(row["resolved_at"]),
    )


def all_incidents(read: Transaction) -> list[Incident]:
    """Every incident, newest first."""
    with read() as db:
        rows = db.execute(f"SELECT {_INCIDENT_COLUMNS} FROM incidents ORDER BY id DESC").fetchall()
    return [incident_from(row) for row in rows]
