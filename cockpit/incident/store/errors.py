"""How the incident store fails: every failure of the file or the database comes out as a
StoreError whose `reason` says it in a few words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.timeutil import utc_stamp

if TYPE_CHECKING:
    from cockpit.model import Incident


class StoreError(Exception):
    """The store cannot do what was asked; the message is fit to show, `reason` is its gist."""

    def __init__(self, message: str, reason: str = ""):
        self.reason = reason or message
        super().__init__(message)


class StoreUnavailable(StoreError):
    """The store is not open (it could not be opened, or it is being reopened)."""


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


def failure(path: Path, exc: BaseException) -> StoreError:
    reason = store_reason(exc)
    return StoreError(f"incident store {path}: {reason}", reason)
