"""Turns successive snapshots into judgements and timeline events.

The detector reads each snapshot into its concerns (`probes`, `spikes`, `blind_spot`, the
alerts' signals), dates the failure from what they say fails, names the suspect change
(`suspect`) and notes recovery. Events carry stable keys so that two cockpits watching the same
world record each observation once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cockpit.alerts.signals import AlertSignals
from cockpit.config.sections import DetectSettings
from cockpit.detect.blind_spot import (
    BlindSpot,
    IssueHistory,
    blind_spot_event,
    blind_spot_summary,
    find_blind_spot,
)
from cockpit.detect.change_suspects import MAX_SUSPECTS, Suspect
from cockpit.detect.probes import ProbeState, ProbeView, ProbeWatch
from cockpit.detect.routes import RouteShare, route_shares
from cockpit.detect.spikes import Spike, SpikeWatch
from cockpit.detect.suspect import (
    change_events,
    change_suspect_event,
    deploy_events,
    failure_clues,
    failure_span,
    impact_start,
    pick_suspect,
    rank_changes,
    suspect_event,
)
from cockpit.model import (
    Alerts,
    Change,
    Changes,
    Deploy,
    Deploys,
    ErrorSeries,
    Freshness,
    ProbeResult,
    ProbeResults,
    SentryIssue,
    SentryIssues,
    TimelineEvent,
)
from cockpit.sources.changes.merge import merge_changes
from cockpit.sources.deploys.merge import merge_deploys
from cockpit.timeutil import iso_utc, local_hms

if TYPE_CHECKING:
    from cockpit.config.loader import Config
    from cockpit.hub import Snapshot


@dataclass(frozen=True, slots=True)
class Assessment:
    probes: tuple[ProbeView, ...] = ()
    deploys: tuple[Deploy, ...] = ()  # merged from every deploy source, newest first
    suspect: Deploy | None = None
    first_failure_at: datetime | None = None
    # The latest moment the first failure can have begun (the end of the bucket that showed
    # it); equal to first_failure_at when a probe saw the moment itself.
    first_failure_by: datetime | None = None
    first_failure_known: bool = True  # False: it began at first_failure_at or before
    found_on_open: bool = False  # the failure was under way when the cockpit opened
    spikes: tuple[Spike, ...] = ()  # open spikes
    # Per access log, the 5xx ratio a spike is judged against (the open spike's own, else the
    # quiet buckets'): what the 5xx panel shows as "base".
    baselines: tuple[tuple[str, float], ...] = ()
    blind_spot: str | None = None
    # What fails with no Sentry issue naming it: routes with their 5xx and share of the 5xx
    # since the failure began, and probes. Empty routes with a blind spot: judged by timing.
    blind_routes: tuple[RouteShare, ...] = ()
    blind_probes: tuple[str, ...] = ()
    degraded: bool = False
    events: tuple[TimelineEvent, ...] = ()  # new since the previous assessment
    # Every change, deploys included (kind "deploy"), newest first; and while degraded, the
    # changes that may have caused the failure, best first, each with why.
    changes: tuple[Change, ...] = ()
    suspects: tuple[Suspect, ...] = ()
    more_suspects: int = 0  # candidates ranked below the ones listed


class Detector:
    def __init__(self, config: Config, settings: DetectSettings | None = None):
        self.settings = settings or config.detect
        self._probes = ProbeWatch(
            {p.name: (p.failure_threshold, p.success_threshold) for p in config.probes}
        )
        self._spikes = SpikeWatch(self.settings)
        self._issues = IssueHistory()
        self._alerts = AlertSignals()  # firing alerts as failures (cockpit.alerts.signals)
        self._failure_started: datetime | None = None
        # Failures that are over, (start, end): their buckets stay out of the 5xx baseline.
        self._failure_windows: deque[tuple[datetime, datetime]] = deque(maxlen=64)
        self._failure_bound: datetime | None = None
        self._failure_known = True
        self._found_on_open = False
        self._suspect: Deploy | None = None
        self._suspects: tuple[Suspect, ...] = ()
        self._more_suspects = 0
        # The changes whose event was made (as many as the sources list in CHANGE_EVENTS_WITHIN).
        self._change_keys: set[tuple[str, str, str, str, datetime]] = set()
        self._merge_cache: (
            tuple[tuple[tuple[Deploy, ...], tuple[Changes, ...]], tuple[Change, ...]] | None
        ) = None
        self._service = config.cockpit.service
        self._blind_spot: BlindSpot | None = None
        self._degraded = False
        self._emitted: set[str] = set()

    def adopt(self, states: dict[str, TimelineEvent]) -> None:
        """Take over what the timeline already says (`state_family` -> its latest event), so a
        restarted or second cockpit neither records an ongoing failure again nor dates it from
        its own start: a probe recorded down at 06:52 is down since 06:52."""
        for family, event in states.items():
            what, _, name = family.partition(":")
            if what == "probe" and event.kind in ("probe.down", "probe.up"):
                self._probes.adopt(name, event)
            elif what == "spike" and event.kind == "spike.start":
                self._spikes.adopt(name, event)
            self._emitted.add(event.key)

    def observe(self, snap: Snapshot) -> Assessment:
        now = snap.at
        out: list[TimelineEvent] = []
        results: dict[str, ProbeResult] = {}
        deploy_readings: list[Deploys] = []
        change_readings: list[Changes] = []
        issues: list[SentryIssue] = []
        sentry_fresh = False
        for name, reading in snap.readings.items():
            status = snap.statuses[name]
            if isinstance(reading, ProbeResult):
                results[name] = reading
                self._probes.observe(reading, out)
            elif isinstance(reading, ProbeResults):
                for result in reading.results:
                    results[result.name] = result
                    self._probes.observe(result, out)
            elif isinstance(reading, Deploys):
                deploy_readings.append(reading)
            elif isinstance(reading, Changes):
                change_readings.append(reading)
            elif isinstance(reading, ErrorSeries):
                self._spikes.observe(reading, self._in_failure, out)
            elif isinstance(reading, Alerts):
                self._alerts.read(status, reading)
            elif isinstance(reading, SentryIssues):
                issues.extend(reading.issues)
                # A rate-limited Sentry shows old issues: it cannot prove that none is new.
                sentry_fresh = sentry_fresh or (
                    status.freshness is Freshness.FRESH and reading.rate_limited_until is None
                )
        # Several deploy sources often report one deploy: it is listed (and suspected) once.
        deploys = list(merge_deploys(deploy_readings))
        deploy_events(deploys, out)
        changes = self._merged(deploys, change_readings)
        change_events(changes, now, out, self._change_keys)
        self._issues.new_issue_events(issues, now, out)
        if sentry_fresh:
            self._issues.count(issues, now)
        views = self._probes.views(results, out)

        down = [v for v in views if v.state is ProbeState.DOWN]
        # (when it was first seen failing, the latest moment the failure can have begun,
        # whether the data show its beginning, whether it was under way at open)
        failures = [
            (
                v.since,
                v.since,
                not self._probes.failing_at_open(v.name),
                self._probes.failing_at_open(v.name),
            )
            for v in down
            if v.since
        ] + [
            (s.start, s.latest_start, s.start_known, s.found_on_open)
            for s in self._spikes.open.values()
        ]
        failures += self._alerts.observe(now, out)  # a firing alert fails like a probe
        degraded = bool(failures)
        if degraded:
            first, bound, known, on_open = min(failures)
            if self._failure_started is None or first < self._failure_started:
                self._failure_started = first
                self._failure_bound = bound
                self._failure_known = known
                self._found_on_open = on_open
            self._suspect_event(deploys, out)
            self._rank(changes, views, issues, out)
            if sentry_fresh:
                self._blind_spot_check(issues, now, down, out)
        elif not self._degraded:
            self._spikes.ended.clear()  # spikes over before the cockpit looked: history only
        else:
            if self._blind_spot is not None and self._failure_started is not None:
                out.append(blind_spot_summary(self._failure_started, now, self._spikes.ended))
            out.append(
                TimelineEvent(
                    now,
                    "recovered",
                    f"recovered at {local_hms(now)}: all probes passing, no 5xx spike",
                    "cockpit",
                    f"recovered:{iso_utc(now)}",
                )
            )
            if self._failure_started is not None:
                self._failure_windows.append((self._failure_started, now))
            self._failure_started = self._failure_bound = None
            self._suspects = ()
            self._blind_spot = None
            self._spikes.ended.clear()
        self._degraded = degraded
        spot = self._blind_spot if degraded else None
        return Assessment(
            probes=views,
            deploys=tuple(deploys),
            suspect=self._suspect,
            first_failure_at=self._impact_start(),
            first_failure_by=self._failure_bound,
            first_failure_known=self._failure_known,
            found_on_open=self._found_on_open and degraded,
            spikes=tuple(self._spikes.open.values()),
            baselines=self._spikes.baselines(),
            blind_spot=spot.text if spot else None,
            blind_routes=spot.routes if spot else (),
            blind_probes=spot.probes if spot else (),
            degraded=degraded,
            events=tuple(sorted(self._fresh(out), key=lambda e: e.at)),
            changes=changes,
            suspects=self._suspects if degraded else (),
            more_suspects=self._more_suspects if degraded else 0,
        )

    def failure_span(self) -> str:
        """The failure's start in words: a time, "between A and B", or "before A"."""
        return failure_span(self._impact_start(), self._failure_bound, self._failure_known)

    def _fresh(self, events: list[TimelineEvent]) -> list[TimelineEvent]:
        """Drop what this detector already reported; observations repeat across snapshots."""
        new = [e for e in events if not e.key or e.key not in self._emitted]
        self._emitted.update(e.key for e in new if e.key)
        return new

    def _in_failure(self, at: datetime) -> bool:
        started = self._failure_started
        if started is not None and at >= started:
            return True
        return any(start <= at < end for start, end in self._failure_windows)

    def _impact_start(self) -> datetime | None:
        return impact_start(self._failure_started, self._failure_bound, self._suspect)

    def _suspect_event(self, deploys: list[Deploy], out: list[TimelineEvent]) -> None:
        start, bound = self._failure_started, self._failure_bound
        assert start is not None and bound is not None
        suspect = pick_suspect(deploys, start, bound, self.settings.suspect_minutes)
        if suspect is None or suspect == self._suspect:
            return
        self._suspect = suspect
        at = self._impact_start() or start
        out.append(suspect_event(suspect, at, self.failure_span(), self._found_on_open))

    def _merged(self, deploys: list[Deploy], readings: list[Changes]) -> tuple[Change, ...]:
        """One list of changes; made again only when a source read something new (a refresh
        of hundreds of unchanged package changes costs nothing)."""
        key = (tuple(deploys), tuple(readings))
        cached = self._merge_cache
        # The readings by identity: the hub hands on the same object until a source polls.
        if (
            cached is not None
            and cached[0][0] == key[0]
            and len(cached[0][1]) == len(readings)
            and all(a is b for a, b in zip(cached[0][1], readings, strict=True))
        ):
            return cached[1]
        merged = merge_changes(deploys, readings)
        self._merge_cache = (key, merged)
        return merged

    def _rank(
        self,
        changes: tuple[Change, ...],
        views: tuple[ProbeView, ...],
        issues: list[SentryIssue],
        out: list[TimelineEvent],
    ) -> None:
        """Every change that may have caused the failure, best first; the timeline hears of
        a new best one that is not a deploy (a deploy has its own suspect event)."""
        start, bound = self._failure_started, self._failure_bound
        assert start is not None and bound is not None
        probes = [
            (str(v.name), str(v.target), v.state is ProbeState.DOWN, str(v.last.error))
            for v in views
            if v.state is not ProbeState.UNKNOWN and v.last is not None
        ]
        clues = failure_clues(start, bound, probes, issues, self._alerts.firing(), self._service)
        clues = replace(clues, routes=self._failing_routes())
        window = timedelta(minutes=self.settings.suspect_minutes)
        before = self._suspects[0].change if self._suspects else None
        ranked = rank_changes(changes, clues, window)
        self._suspects = ranked[:MAX_SUSPECTS]
        self._more_suspects = len(ranked) - len(self._suspects)
        top = self._suspects[0] if self._suspects else None
        if top is not None and top.change != before and top.change.deploy is None:
            at = self._impact_start() or start
            out.append(change_suspect_event(top, at, self.failure_span()))

    def _failing_routes(self) -> tuple[str, ...]:
        """The paths most of a spike's 5xx go to (a tenth of them at least)."""
        out: list[str] = []
        for source, spike in self._spikes.open.items():
            series = self._spikes.series.get(source)
            if series is None:
                continue
            for share in route_shares(series, spike.start)[:5]:
                if share.share >= 0.1 and share.route.path:
                    out.append(str(share.route.path))
        return tuple(out)

    def _blind_spot_check(
        self,
        issues: list[SentryIssue],
        now: datetime,
        down: list[ProbeView],
        out: list[TimelineEvent],
    ) -> None:
        """Once Sentry had its grace to show an issue for the failure, and only once."""
        start = self._failure_started
        if start is None or self._blind_spot is not None:
            return
        if (now - start).total_seconds() < self.settings.blind_spot_grace:
            return
        since = start - timedelta(seconds=self.settings.blind_spot_window)
        if self._suspect is not None:
            since = max(since, self._suspect.at)
        spikes = self._spikes
        spiking = [spikes.series[s] for s in spikes.open if s in spikes.series]
        spot = find_blind_spot(
            issues, self._issues, start, since, spiking, down, self._alerts, self.failure_span()
        )
        if spot is not None:
            self._blind_spot = spot
            out.append(blind_spot_event(spot, start, now))


_STATE_KINDS = {"probe.down": "probe", "probe.up": "probe", "spike.start": "spike"}
_STATE_KINDS["spike.end"] = "spike"


def state_family(event: TimelineEvent) -> str:
    """What an event is a state change of ("probe:web-health", "spike:nginx"), "" if none:
    the store records each state of a family once, whichever cockpit sees it first."""
    what = _STATE_KINDS.get(event.kind)
    return f"{what}:{event.source}" if what else ""
