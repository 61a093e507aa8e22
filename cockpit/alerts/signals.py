"""Firing alerts as signals, for the detector: each one is a failure like a failing probe
(it makes the screen DEGRADED, dates the impact, names the suspect change, can be a blind spot,
and recovery waits for it to end), and each one's start and end are timeline events.

The Alertmanager API lists an alert until it resolves: an alert a fresh reading no longer lists
has ended. A stale source proves nothing, so its alerts stay as last read. Alerts of severity
info or none are events only: they never make the screen DEGRADED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.model import Alert, Alerts, Freshness, SourceStatus, TimelineEvent
from cockpit.term.textsafe import identity, one_line
from cockpit.timeutil import iso_utc, local_hms

QUIET_SEVERITIES = ("info", "none")

Failure = tuple[datetime, datetime, bool, bool]  # as the detector's: first, bound, known, open


def describe(alert: Alert) -> str:
    instance = alert.label("instance")
    where = f" on {identity(instance, 80)}" if instance else ""
    summary = alert.annotation("summary")
    said = f": {one_line(summary, 200)}" if summary else ""
    sev = f" ({identity(alert.severity, 20)})" if alert.severity else ""
    return f"alert {identity(alert.alertname or '?', 80)}{sev}{where}{said}"


@dataclass
class _Seen:
    alert: Alert
    on_open: bool  # firing in the first reading of its source


class AlertSignals:
    def __init__(self) -> None:
        self._firing: dict[str, _Seen] = {}  # fingerprint -> last seen firing
        self._read: set[str] = set()  # sources read at least once
        self._readings: list[tuple[SourceStatus, Alerts]] = []

    def read(self, status: SourceStatus, reading: Alerts) -> None:
        """One source's reading, for this observation."""
        self._readings.append((status, reading))

    def observe(self, now: datetime, out: list[TimelineEvent]) -> list[Failure]:
        """The failures the firing alerts make, and their events into `out`."""
        readings, self._readings = self._readings, []
        for status, reading in readings:
            if status.freshness is not Freshness.FRESH:
                continue  # a stale source proves nothing: its alerts stay as last read
            first = reading.source not in self._read
            self._read.add(reading.source)
            listed = {a.fingerprint for a in reading.alerts}
            for alert in reading.alerts:
                if alert.fingerprint not in self._firing:
                    self._firing[alert.fingerprint] = _Seen(alert, first)
                    out.append(self._event(alert, "alert.firing", alert.starts_at))
                else:
                    self._firing[alert.fingerprint].alert = alert
            for fingerprint, seen in list(self._firing.items()):
                if seen.alert.source == reading.source and fingerprint not in listed:
                    del self._firing[fingerprint]
                    ended = (
                        seen.alert.ends_at
                        if seen.alert.ends_at and seen.alert.ends_at <= now
                        else now
                    )
                    out.append(self._event(seen.alert, "alert.resolved", ended))
        return [
            (s.alert.starts_at, s.alert.starts_at, not s.on_open, s.on_open)
            for s in self._firing.values()
            if s.alert.severity.lower() not in QUIET_SEVERITIES
        ]

    def firing(self) -> tuple[Alert, ...]:
        return tuple(s.alert for s in self._firing.values())

    def blind_parts(self, sentry_fresh_issues: int) -> list[str]:
        """What the blind spot says of the alerts: firing with no Sentry issue to go with."""
        names = sorted(
            {
                identity(s.alert.alertname or "?", 60)
                for s in self._firing.values()
                if s.alert.severity.lower() not in QUIET_SEVERITIES
            }
        )
        if not names or sentry_fresh_issues:
            return []
        return ["alerts " + ", ".join(names)]

    @staticmethod
    def _event(alert: Alert, kind: str, at: datetime) -> TimelineEvent:
        if kind == "alert.firing":
            text = f"{describe(alert)} firing since {local_hms(alert.starts_at)}"
        else:
            text = f"{describe(alert)} resolved (fired {local_hms(alert.starts_at)})"
        return TimelineEvent(
            at,
            kind,
            text,
            alert.source or "alertmanager",
            f"{kind}:{alert.fingerprint}:{iso_utc(alert.starts_at)}",
        )
