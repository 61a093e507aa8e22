"""An incident's life: declared, investigating -> identified -> mitigated -> resolved, notes,
corrected times, and the notifications each step sends.

The store change is made and committed first, then notifications start in the background: a
slow or broken channel never holds up the declaration. With a notifier, the methods that notify
must run inside an event loop (the TUI's, or `asyncio.run` in a script, which then awaits
`notifier.drain()` before exiting).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.incident.declare import FUTURE_SLACK, DeclareRequest, declare
from cockpit.incident.facts import incident_facts
from cockpit.incident.store.corrections import TIME_FIELDS
from cockpit.incident.store.errors import StoreError, UnknownIncident
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Incident, IncidentStatus, TimelineEvent
from cockpit.term.textsafe import blank, one_line
from cockpit.timeutil import utcnow

if TYPE_CHECKING:
    from cockpit.notify.notifier import Delivery, Notifier

MAX_NOTE = 2000
# The status changes channels are told about (re-opening as "investigating" is not one).
NOTIFIED_STATUSES = {
    IncidentStatus.IDENTIFIED: "identified",
    IncidentStatus.MITIGATED: "mitigated",
    IncidentStatus.RESOLVED: "resolved",
}


def note_event(user: str, text: str, at: datetime | None = None) -> TimelineEvent:
    """A person's note as a timeline event; ValueError when there is nothing in it."""
    clean = one_line(text, limit=MAX_NOTE)
    if blank(clean):
        raise ValueError("the note is empty")
    return TimelineEvent(at or utcnow(), "note", f"{user}: {clean}", "cockpit")


class NoOpenIncident(StoreError, LookupError):
    def __init__(self) -> None:
        super().__init__("no open incident: declare one first")


class Lifecycle:
    def __init__(
        self,
        store: IncidentStore,
        *,
        user: str,
        drill: bool = False,
        notifier: Notifier | None = None,
    ):
        self.store = store
        self.user = user
        self.drill = drill
        self.notifier = notifier

    def incident(self, incident_id: int | None = None, *, latest: bool = False) -> Incident:
        """The given incident, else the open one (else, with `latest`, the newest one)."""
        if incident_id is not None:
            found = self.store.get(incident_id)
            if found is None:
                raise UnknownIncident(incident_id)
            return found
        found = self.store.open_incident()
        if found is None and latest:
            found = next(iter(self.store.list()), None)
        if found is None:
            raise NoOpenIncident()
        return found

    def declare(self, request: DeclareRequest, *, at: datetime | None = None) -> Incident:
        """Open the incident (DeclareError, IncidentAlreadyOpen), then notify in the background."""
        incident = declare(self.store, request, drill=self.drill, at=at)
        self._notify(incident, "declared")
        return incident

    def note(
        self, text: str, *, incident_id: int | None = None, at: datetime | None = None
    ) -> TimelineEvent:
        event = note_event(self.user, text, at)
        incident = self.incident(incident_id, latest=True)
        self.store.add_event(event, incident.id)
        return event

    def set_status(
        self,
        status: IncidentStatus | str,
        *,
        incident_id: int | None = None,
        at: datetime | None = None,
    ) -> Incident:
        status = IncidentStatus(status)
        before = self.incident(incident_id)
        after = self.store.set_status(before.id, status, at=at)
        if after.status != before.status and status in NOTIFIED_STATUSES:
            self._notify(after, NOTIFIED_STATUSES[status])
        return after

    def resolve(self, *, incident_id: int | None = None, at: datetime | None = None) -> Incident:
        """Resolve; PagerDuty gets a resolve with the trigger's dedup_key."""
        return self.set_status(IncidentStatus.RESOLVED, incident_id=incident_id, at=at)

    def correct(
        self,
        field: str,
        new: datetime,
        *,
        incident_id: int | None = None,
        now: datetime | None = None,
    ) -> TimelineEvent:
        """Correct one of TIME_FIELDS ("impact-start", "detected", "declared", "identified",
        "mitigated", "resolved"); the correction is itself a timeline event naming who made it.
        Without an id: the open incident, else the newest (postmortems happen after resolve)."""
        if field not in TIME_FIELDS:
            raise ValueError(f"can correct only: {', '.join(TIME_FIELDS)}")
        if new.tzinfo is None:
            raise ValueError("the corrected time has no time zone")
        if new > (now or utcnow()) + FUTURE_SLACK:
            raise ValueError("the corrected time is in the future")
        incident = self.incident(incident_id, latest=True)
        was = None
        if field == "detected":
            facts = incident_facts(
                incident, self.store.incident_events(incident), self.store.times(incident.id)
            )
            was = facts.detected
        return self.store.correct_time(incident.id, field, new, self.user, was=was, at=now)

    def _notify(self, incident: Incident, event: str) -> asyncio.Task[list[Delivery]] | None:
        if self.notifier is None:
            return None
        return self.notifier.start(incident, event)


def recovery_time(
    timeline: Sequence[TimelineEvent], status_times: Mapping[IncidentStatus, datetime]
) -> TimelineEvent | None:
    """The latest "recovered" on the timeline (the detector's, or the check after a revert or
    an action) since the incident last changed status: the moment to record it mitigated or
    resolved at, rather than the moment someone got round to pressing the key."""
    since = max(status_times.values(), default=None)
    found = [e for e in timeline if e.kind == "recovered" and (since is None or e.at > since)]
    return max(found, key=lambda e: e.at, default=None)
