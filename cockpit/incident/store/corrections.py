"""Corrections: a person setting one of an incident's times afterwards, recorded as a
timeline event whose key carries the corrected value."""

from __future__ import annotations

import uuid
from datetime import datetime

from cockpit.incident.store.connection import Transaction
from cockpit.incident.store.errors import StoreError
from cockpit.incident.store.events import insert_event
from cockpit.incident.store.incidents import incident_row
from cockpit.incident.store.timestamps import opt_time, to_text
from cockpit.model import TimelineEvent
from cockpit.timeutil import local_clock, parse_iso, utc_hms, utcnow

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


def correction_key(incident_id: int, field: str, new: datetime) -> str:
    """The correction event's key carries the corrected value, so a timeline alone (an export
    made from events) knows it; the random tail keeps two equal corrections apart."""
    return f"correction:{incident_id}:{field}:{to_text(new)}:{uuid.uuid4().hex[:12]}"


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


def correct_time(
    write: Transaction,
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
    new_ts = to_text(new)
    with write() as db:
        incident_row(db, incident_id)
        current = db.execute(
            f"SELECT {column}, investigating_at FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        old = opt_time(current[0]) or was
        if current[0] is None and field in _NEEDS_VALUE:
            raise StoreError(f"incident #{incident_id} has not been {field}; set its status first")
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
        insert_event(db, event, incident_id)
    return event
