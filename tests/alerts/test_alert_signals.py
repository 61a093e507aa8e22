"""Firing alerts are signals: read from a real Alertmanager, an alert makes the assessment
DEGRADED from its real startsAt, names the deploy before it as suspect, is a timeline event
when it fires and when it resolves, and recovery waits for it; a stale Alertmanager resolves
nothing; an info alert is an event only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alertmanager_servers import config, page

from cockpit.alerts.source import AlertmanagerSource
from cockpit.alerts.view import detection_markdown
from cockpit.config import parse
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Detector
from cockpit.hub import Snapshot
from cockpit.model import (
    Alerts,
    Category,
    Deploy,
    Deploys,
    Freshness,
    Reading,
    SentryIssues,
    SourceStatus,
)
from cockpit.timeutil import iso_utc, utcnow
from cockpit.world.alertmanager.server import running_alertmanager

CONFIG = parse('[cockpit]\nservice = "files-web"\n')


def snapshot(version: int, alerts: Alerts, deploys: Deploys, fresh: bool = True) -> Snapshot:
    now = utcnow()
    statuses = {
        "am": SourceStatus(
            "am",
            "alertmanager",
            Category.ALERTS,
            Freshness.FRESH if fresh else Freshness.STALE,
            now,
            reason="" if fresh else "connection refused",
        ),
        "deploys": SourceStatus("deploys", "jsonl", Category.DEPLOYS, Freshness.FRESH, now),
        "sentry": SourceStatus("sentry", "sentry", Category.SENTRY, Freshness.FRESH, now),
    }
    # A Sentry that answers and names nothing: a firing alert is then a blind spot.
    readings: dict[str, Reading] = {
        "am": alerts,
        "deploys": deploys,
        "sentry": SentryIssues("sentry", ()),
    }
    return Snapshot(now, version, statuses, readings)


async def test_an_alert_fails_like_a_probe_from_fire_to_recovery(tmp_path: Path) -> None:
    now = utcnow()
    deploy = Deploy("files-web", "v2", "carol", now - timedelta(minutes=8), "concurrency change")
    deploys = Deploys("deploys", (deploy,))
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    with running_alertmanager(tmp_path) as am:
        page(am, "FilesWeb5xxHigh", "web-1:443", minutes_ago=5, summary="5xx above 5%")
        page(am, "CertExpiresSoon", "web-1:443", minutes_ago=30, severity="info")
        source = AlertmanagerSource(config(am.url))
        try:
            reading = await source.poll()
            first = detector.observe(snapshot(1, reading, deploys))
            fired = next(a for a in reading.alerts if a.alertname == "FilesWeb5xxHigh")
            assert first.degraded and first.suspect == deploy
            assert first.first_failure_at == fired.starts_at  # the alert's own startsAt
            events = {e.kind: e for e in first.events if e.kind.startswith("alert.")}
            assert events["alert.firing"].at in {a.starts_at for a in reading.alerts}
            texts = [e.text for e in first.events if e.kind == "alert.firing"]
            assert any("FilesWeb5xxHigh (critical) on web-1:443: 5xx above 5%" in t for t in texts)
            assert any(e.kind == "suspect" for e in first.events)
            assert first.blind_spot and "alerts FilesWeb5xxHigh" in first.blind_spot
            # The export says which alert fired first, and when against the impact start.
            said = detection_markdown((), first.events, fired.starts_at - timedelta(minutes=2))
            assert "## Detection: the page" in said and "CertExpiresSoon" in said  # the earliest
            assert f"at {iso_utc(min(a.starts_at for a in reading.alerts))}" in said
            said = detection_markdown((fired,), (), fired.starts_at - timedelta(minutes=2))
            assert "First alert: alert FilesWeb5xxHigh" in said
            assert "2m 00s after the impact began" in said

            # Alertmanager goes quiet on the stale path: nothing resolves, still degraded.
            stale = detector.observe(snapshot(2, Alerts("am", ()), deploys, fresh=False))
            assert stale.degraded and not [e for e in stale.events if e.kind == "alert.resolved"]

            # Prometheus resolves it: endsAt now; Alertmanager stops listing it.
            am.push(
                dict(fired.labels),
                dict(fired.annotations),
                starts_at=fired.starts_at,
                ends_at=utcnow(),
            )
            reading = await source.poll()
            assert [a.alertname for a in reading.alerts] == ["CertExpiresSoon"]
            after = detector.observe(snapshot(3, reading, deploys))
        finally:
            await source.aclose()
    kinds = [e.kind for e in after.events]
    assert "alert.resolved" in kinds and "recovered" in kinds
    assert not after.degraded  # the info alert alone does not degrade the screen
    resolved = next(e for e in after.events if e.kind == "alert.resolved")
    assert "FilesWeb5xxHigh" in resolved.text and resolved.at <= utcnow()
