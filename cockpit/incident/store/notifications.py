"""Notifications: which channel was told about which incident event, claimed by one process
at a time so that two cockpits never both send it; and the incident's alert identity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.incident.store.connection import Db, Row, Transaction
from cockpit.incident.store.incidents import incident_row
from cockpit.incident.store.timestamps import opt_time, to_text
from cockpit.term.textsafe import Inert
from cockpit.timeutil import parse_iso, utcnow

NOTIFY_STATUSES = ("sending", "sent", "failed", "suppressed")
_NOTIFY_DONE = ("sent", "suppressed")
_NOTIFICATION_COLUMNS = "incident_id, channel, event, status, error, attempts, updated_at, sent_at"


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


def notification_from(row: Row) -> Notification:
    return Notification(
        incident_id=row["incident_id"],
        channel=row["channel"],
        event=row["event"],
        status=row["status"],
        error=row["error"],
        attempts=row["attempts"],
        updated_at=parse_iso(row["updated_at"]),
        sent_at=opt_time(row["sent_at"]),
    )


def notification_row(db: Db, incident_id: int, channel: str, event: str) -> Notification:
    row = db.execute(
        f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications "
        "WHERE incident_id = ? AND channel = ? AND event = ?",
        (incident_id, channel, event),
    ).fetchone()
    return notification_from(row)


def notify_key(write: Transaction, incident_id: int) -> str:
    """The incident's alert identity (PagerDuty dedup_key), made once and then kept."""
    with write() as db:
        incident_row(db, incident_id)
        db.execute(
            "UPDATE incidents SET notify_key = ? WHERE id = ? AND notify_key IS NULL",
            (f"oncall-cockpit-{uuid.uuid4().hex}", incident_id),
        )
        key: str = db.execute(
            "SELECT notify_key FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()[0]
    return key


def claim_notification(
    write: Transaction,
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
    now = to_text(at or utcnow())
    stale_before = to_text(parse_iso(now) - stale_after)
    with write() as db:
        incident_row(db, incident_id)
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
        return notification_row(db, incident_id, channel, event)


def finish_notification(
    write: Transaction,
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
    now = to_text(at or utcnow())
    sent_at = now if status == "sent" else None
    error = Inert(error)  # a server's answer: inert, secrets redacted
    with write() as db:
        incident_row(db, incident_id)
        db.execute(
            "INSERT INTO notifications (incident_id, channel, event, status, error, "
            "attempts, updated_at, sent_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (incident_id, channel, event) DO UPDATE SET status = "
            "excluded.status, error = excluded.error, updated_at = excluded.updated_at, "
            "sent_at = COALESCE(excluded.sent_at, notifications.sent_at)",
            (incident_id, channel, event, status, error, now, sent_at),
        )
        return notification_row(db, incident_id, channel, event)


def notifications(
    read: Transaction, incident_id: int | None = None, status: str | None = None
) -> list[Notification]:
    clauses: list[str] = []
    params: list[object] = []
    if incident_id is not None:
        clauses.append("incident_id = ?")
        params.append(incident_id)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    with read() as db:
        rows = db.execute(
            f"SELECT {_NOTIFICATION_COLUMNS} FROM notifications{where} "
            "ORDER BY incident_id, updated_at, channel, event",
            params,
        ).fetchall()
    return [notification_from(row) for row in rows]
