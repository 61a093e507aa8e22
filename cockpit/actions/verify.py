"""Did it work? Watching the detector's judgements after a successful revert or action.

The watch answers once: "recovered" as soon as every probe is up, no 5xx spike is open and no
paging alert fires, or "not_recovered" when the deadline passes first. The Dropbox outage
lingered for days after the fix was in: a revert that did not bring recovery must be said out
loud, not assumed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cockpit.detect.detector import Assessment
from cockpit.detect.probes import ProbeState
from cockpit.model import TimelineEvent
from cockpit.timeutil import iso_utc, local_hms, utcnow

DEFAULT_DEADLINE_MINUTES = 10.0
EVENT_SOURCE = "cockpit"


class RecoveryWatch:
    def __init__(
        self,
        started_at: datetime,
        deadline_minutes: float = DEFAULT_DEADLINE_MINUTES,
        what: str = "the revert",
    ):
        if started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        self.started_at = started_at
        self.deadline = started_at + timedelta(minutes=deadline_minutes)
        self.deadline_minutes = deadline_minutes
        self.what = what
        self.result: TimelineEvent | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def observe(self, assessment: Assessment, now: datetime | None = None) -> TimelineEvent | None:
        """The verdict, the first time there is one; None before that and ever after."""
        if self.result is not None:
            return None
        now = now or utcnow()
        if recovered(assessment):
            seconds = max(0, round((now - self.started_at).total_seconds()))
            self.result = TimelineEvent(
                now,
                "recovered",
                f"recovered at {local_hms(now)} ({seconds} s after {self.what})",
                EVENT_SOURCE,
                f"verify:{iso_utc(self.started_at)}",
            )
        elif now >= self.deadline:
            self.result = TimelineEvent(
                now,
                "not_recovered",
                f"not recovered after {self.deadline_minutes:g} min ({self.what} at "
                f"{local_hms(self.started_at)}): {_why(assessment)}",
                EVENT_SOURCE,
                f"verify:{iso_utc(self.started_at)}",
            )
        return self.result


def recovered(assessment: Assessment) -> bool:
    """Every probe up, no spike open, nothing else failing. Probes not yet seen (unknown) are
    not up. A firing alert fails like a probe (the detector counts it in `degraded`): the page
    that woke the engineer still firing is no recovery."""
    probes_up = all(p.state is ProbeState.UP for p in assessment.probes)
    return probes_up and not assessment.spikes and not assessment.degraded


def _why(assessment: Assessment) -> str:
    down = [p.name for p in assessment.probes if p.state is not ProbeState.UP]
    parts = []
    if down:
        parts.append(f"probes not up: {', '.join(down)}")
    if assessment.spikes:
        parts.append(f"5xx spike open on {', '.join(s.source for s in assessment.spikes)}")
    if assessment.degraded and not parts:
        parts.append("alerts still firing")  # degraded, every probe up, no spike: an alert
    return "; ".join(parts) or "still degraded"
