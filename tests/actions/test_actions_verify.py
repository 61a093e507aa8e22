"""RecoveryWatch: one verdict after a revert, from the detector's assessments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alertmanager_servers import config, page

from cockpit.actions.verify import RecoveryWatch
from cockpit.alerts.source import AlertmanagerSource
from cockpit.config import parse
from cockpit.detect.detector import Assessment, Detector
from cockpit.detect.probes import ProbeState, ProbeView
from cockpit.detect.spikes import Spike
from cockpit.hub import Snapshot
from cockpit.model import Alerts, Category, Freshness, SourceStatus
from cockpit.timeutil import local_hms, utcnow
from cockpit.world.alertmanager.server import running_alertmanager

REVERTED = datetime(2024, 8, 2, 7, 41, tzinfo=UTC)


def probe(name: str, state: ProbeState) -> ProbeView:
    return ProbeView(
        name=name,
        kind="http",
        target="http://x/",
        concurrency=1,
        state=state,
        since=None,
        last=None,
        latencies=(),
    )


def spike() -> Spike:
    return Spike(
        source="edge",
        start=REVERTED - timedelta(minutes=49),
        peak_ratio=0.4,
        peak_at=REVERTED - timedelta(minutes=5),
    )


def assessment(*states: ProbeState, spiking: bool = False) -> Assessment:
    return Assessment(
        probes=tuple(probe(f"p{i}", s) for i, s in enumerate(states)),
        spikes=(spike(),) if spiking else (),
        degraded=spiking or ProbeState.DOWN in states,
    )


UP, DOWN, UNKNOWN = ProbeState.UP, ProbeState.DOWN, ProbeState.UNKNOWN


def test_recovered_once_every_probe_is_up_and_no_spike_is_open() -> None:
    watch = RecoveryWatch(REVERTED, deadline_minutes=10)
    at = REVERTED + timedelta(seconds=20)
    assert watch.observe(assessment(UP, DOWN), now=at) is None
    assert watch.observe(assessment(UP, UP, spiking=True), now=at) is None
    assert watch.observe(assessment(UP, UNKNOWN), now=at) is None  # not seen yet is not up
    done_at = REVERTED + timedelta(seconds=95)
    event = watch.observe(assessment(UP, UP), now=done_at)
    assert event is not None
    assert event.kind == "recovered"
    assert event.text == f"recovered at {local_hms(done_at)} (95 s after the revert)"
    assert event.at == done_at and event.key
    assert watch.done
    # One verdict only.
    assert watch.observe(assessment(UP, DOWN), now=done_at + timedelta(hours=1)) is None


def test_not_recovered_by_the_deadline() -> None:
    watch = RecoveryWatch(REVERTED, deadline_minutes=5, what="action failover")
    assert watch.observe(assessment(DOWN), now=REVERTED + timedelta(minutes=4)) is None
    event = watch.observe(assessment(DOWN, spiking=True), now=REVERTED + timedelta(minutes=5))
    assert event is not None and event.kind == "not_recovered"
    assert event.text.startswith("not recovered after 5 min (action failover at ")
    assert "probes not up: p0" in event.text and "5xx spike open on edge" in event.text
    assert watch.observe(assessment(UP), now=REVERTED + timedelta(minutes=6)) is None


def test_started_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RecoveryWatch(datetime(2024, 8, 2, 7, 41))


async def test_no_recovery_while_the_page_still_fires(tmp_path: Path) -> None:
    """Probes up and no spike, but the alert that paged fires on in a real Alertmanager: the
    revert has not brought recovery yet; once Alertmanager resolves it, it has."""
    detector = Detector(parse('[cockpit]\nservice = "files-web"\n'))
    reverted = utcnow()
    watch = RecoveryWatch(reverted, deadline_minutes=10)
    with running_alertmanager(tmp_path) as am:
        page(am, "FilesWeb5xxHigh", "web-1:443", minutes_ago=5, summary="5xx above 5%")
        source = AlertmanagerSource(config(am.url))
        try:
            reading = await source.poll()
            firing = detector.observe(alerts_snapshot(1, reading))
            assert firing.degraded and not firing.spikes
            assert all(p.state is UP for p in firing.probes)
            assert watch.observe(firing) is None
            # The deadline passes with the page still firing: said so, and why.
            late = RecoveryWatch(reverted, deadline_minutes=10)
            verdict = late.observe(firing, now=reverted + timedelta(minutes=10))
            assert verdict is not None and verdict.kind == "not_recovered"
            assert verdict.text.endswith(": alerts still firing")

            fired = reading.alerts[0]
            am.push(
                dict(fired.labels),
                dict(fired.annotations),
                starts_at=fired.starts_at,
                ends_at=utcnow(),
            )
            reading = await source.poll()
            assert not reading.alerts
            resolved = detector.observe(alerts_snapshot(2, reading))
        finally:
            await source.aclose()
    event = watch.observe(resolved)
    assert event is not None and event.kind == "recovered"


def alerts_snapshot(version: int, alerts: Alerts) -> Snapshot:
    now = utcnow()
    status = SourceStatus("am", "alertmanager", Category.ALERTS, Freshness.FRESH, now)
    return Snapshot(now, version, {"am": status}, {"am": alerts})
