"""Alerts as the cockpit shows and reports them: grouped for the screen (alertname and
severity), written out for `check --json` and `cockpit alerts list --json`, and the silences
that cover each one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.alerts.matchers import covers, shown
from cockpit.model import Alert, Alerts, Silence, TimelineEvent
from cockpit.term.textsafe import identity, one_line
from cockpit.timeutil import duration, iso_utc, local_stamp

SEVERITY_ORDER = ("critical", "page", "error", "high", "warning", "warn", "info", "none", "")


def severity_rank(severity: str) -> int:
    s = severity.lower()
    return SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else len(SEVERITY_ORDER) - 1


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """The alerts of one alertname and severity: one row on the main screen."""

    alertname: str
    severity: str
    alerts: tuple[Alert, ...]  # oldest first

    @property
    def key(self) -> str:
        return f"{self.alertname}\x00{self.severity}"

    @property
    def since(self) -> datetime:
        return min(a.starts_at for a in self.alerts)

    @property
    def firing(self) -> int:
        return sum(1 for a in self.alerts if not a.suppressed)

    @property
    def summary(self) -> str:
        return next((a.annotation("summary") for a in self.alerts if a.annotation("summary")), "")


def all_alerts(readings: Iterable[Alerts]) -> tuple[Alert, ...]:
    """Every source's alerts, each fingerprint once (two sources may read one cluster)."""
    seen: dict[str, Alert] = {}
    for reading in readings:
        for alert in reading.alerts:
            seen.setdefault(alert.fingerprint, alert)
    return tuple(sorted(seen.values(), key=lambda a: (a.starts_at, a.fingerprint)))


def all_silences(readings: Iterable[Alerts]) -> tuple[Silence, ...]:
    seen: dict[str, Silence] = {}
    for reading in readings:
        for silence in reading.silences:
            seen.setdefault(silence.id, silence)
    return tuple(seen.values())


def groups(alerts: Iterable[Alert]) -> tuple[AlertGroup, ...]:
    """Firing groups first, then by severity, then the oldest first."""
    by: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        by.setdefault((alert.alertname, alert.severity), []).append(alert)
    out = [
        AlertGroup(name, sev, tuple(sorted(a, key=lambda x: x.starts_at)))
        for (name, sev), a in by.items()
    ]
    return tuple(
        sorted(out, key=lambda g: (g.firing == 0, severity_rank(g.severity), g.since, g.alertname))
    )


def covering(alert: Alert, silences: Iterable[Silence]) -> tuple[Silence, ...]:
    """The silences over an alert: those Alertmanager says silence it, and active ones whose
    matchers cover it (a silence made a moment ago, before Alertmanager's next pass)."""
    return tuple(
        s
        for s in silences
        if s.state != "expired"
        and (s.id in alert.silenced_by or (s.state == "active" and covers(s.matchers, alert)))
    )


def silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": identity(shown(silence.matchers), 10_000),
        "starts_at": iso_utc(silence.starts_at),
        "ends_at": iso_utc(silence.ends_at),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "state": silence.state,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "state": alert.state,
        "starts_at": iso_utc(alert.starts_at),
        "ends_at": iso_utc(alert.ends_at) if alert.ends_at else None,
        "labels": {identity(k): identity(v, 10_000) for k, v in alert.labels},
        "annotations": dict(alert.annotations),
        "silenced_by": list(alert.silenced_by),
        "inhibited_by": list(alert.inhibited_by),
    }


@dataclass(frozen=True, slots=True)
class AlertsView:
    """What the alerts panel, the header and the alerts screen show."""

    configured: bool = False  # some [[alerts]] source exists
    alerts: tuple[Alert, ...] = ()
    silences: tuple[Silence, ...] = ()
    groups: tuple[AlertGroup, ...] = ()
    unreachable: tuple[str, ...] = ()  # members that did not answer while others did

    @property
    def firing(self) -> int:
        return sum(1 for a in self.alerts if not a.suppressed)

    @property
    def suppressed(self) -> int:
        return len(self.alerts) - self.firing

    def covering(self, alert: Alert) -> tuple[Silence, ...]:
        return covering(alert, self.silences)

    def alert(self, fingerprint: str) -> Alert | None:
        return next((a for a in self.alerts if a.fingerprint == fingerprint), None)

    def group(self, key: str) -> AlertGroup | None:
        return next((g for g in self.groups if g.key == key), None)


def alerts_view(readings: Iterable[tuple[object, object]]) -> AlertsView:
    """From the snapshot's (status, reading) pairs of the alerts category."""
    pairs = list(readings)
    found = [r for _, r in pairs if isinstance(r, Alerts)]
    alerts = all_alerts(found)
    return AlertsView(
        configured=bool(pairs),
        alerts=alerts,
        silences=all_silences(found),
        groups=groups(alerts),
        unreachable=tuple(u for r in found for u in r.unreachable),
    )


def detection_markdown(
    alerts: Iterable[Alert], events: Iterable[TimelineEvent], impact_start: datetime | None
) -> str:
    """The export's word on the page: which alert fired first, and when against the impact."""
    fired: list[tuple[datetime, str]] = [
        (e.at, e.text) for e in events if e.kind == "alert.firing"
    ] + [(a.starts_at, f"alert {a.alertname}") for a in alerts]
    if not fired:
        return ""
    at, what = min(fired, key=lambda f: f[0])
    line = f"- First alert: {one_line(what, 300)}, at {iso_utc(at)} ({local_stamp(at)} local)"
    if impact_start is not None:
        lag = (at - impact_start).total_seconds()
        if lag >= 0:
            line += f", {duration(lag)} after the impact began ({iso_utc(impact_start)})"
        else:
            line += f", {duration(-lag)} before the impact start ({iso_utc(impact_start)})"
    return "## Detection: the page\n\n" + line + "\n"
