"""What every channel says about one incident event, before each shapes it into its payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.model import Incident
from cockpit.term.textsafe import one_line
from cockpit.timeutil import iso_utc, utc_stamp

DRILL_PREFIX = "[DRILL] "

_VERBS = {
    "declared": "declared",
    "identified": "cause identified",
    "mitigated": "mitigated",
    "resolved": "resolved",
    "acknowledged": "acknowledged",
}


@dataclass(frozen=True, slots=True)
class Announcement:
    incident: Incident
    event: str  # one of cockpit.config.notify.NOTIFY_EVENTS
    at: datetime
    drill: bool = False  # say loudly that this is a rehearsal
    service: str = "service"
    environment: str = "production"

    @property
    def prefix(self) -> str:
        return DRILL_PREFIX if self.drill else ""

    @property
    def title(self) -> str:
        return one_line(self.incident.title, limit=200)

    def headline(self) -> str:
        """ "[DRILL] SEV2 incident #3 declared: SFTP second session fails"."""
        verb = _VERBS.get(self.event, self.event)
        return (
            f"{self.prefix}{self.incident.severity} incident #{self.incident.id} {verb}: "
            f"{self.title}"
        )

    def details(self) -> list[tuple[str, str]]:
        """Label -> plain text, for fields and custom details."""
        incident = self.incident
        rows = [
            ("Severity", incident.severity),
            ("Status", incident.status.value),
            ("Commander", one_line(incident.commander, limit=100)),
            ("Service", one_line(f"{self.service} ({self.environment})", limit=200)),
            ("Declared", utc_stamp(incident.declared_at)),
        ]
        if incident.impact_started_at is not None:
            rows.append(("Impact started", utc_stamp(incident.impact_started_at)))
        if incident.resolved_at is not None:
            rows.append(("Resolved", utc_stamp(incident.resolved_at)))
        if self.drill:
            rows.append(("Drill", "yes: a rehearsal, no action needed"))
        return rows

    def summary(self) -> str:
        return one_line(self.incident.summary, limit=1000)

    def incident_json(self) -> dict[str, object]:
        incident = self.incident
        return {
            "id": incident.id,
            "title": self.title,
            "severity": incident.severity,
            "commander": one_line(incident.commander, limit=100),
            "status": incident.status.value,
            "declared_at": iso_utc(incident.declared_at),
            "impact_started_at": (
                iso_utc(incident.impact_started_at) if incident.impact_started_at else None
            ),
            "resolved_at": iso_utc(incident.resolved_at) if incident.resolved_at else None,
            "summary": self.summary(),
            "drill": incident.drill,
        }
