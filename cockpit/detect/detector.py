"""Turns successive snapshots into judgements and timeline events.

Probe state with thresholds, the suspect deploy, 5xx spikes, new Sentry issues, blind spots
(failures Sentry says nothing about), "fails only under concurrency" and recovery. Events carry
stable keys so that two cockpits watching the same world record each observation once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from math import ceil
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cockpit.alerts.signals import AlertSignals
from cockpit.config.sections import DetectSettings
from cockpit.detect.routes import RouteShare, route_text
from cockpit.model import (
    Alerts,
    Deploy,
    Deploys,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    ProbeResult,
    ProbeResults,
    Route,
    SentryIssue,
    SentryIssues,
    TimelineEvent,
)
from cockpit.sentry.rank import is_rising
from cockpit.sources.deploys.merge import merge_deploys
from cockpit.term.textsafe import identity
from cockpit.timeutil import iso_utc, local_hm, local_hms

if TYPE_CHECKING:
    from cockpit.config.loader import Config
    from cockpit.hub import Snapshot

HISTORY = 60  # probe results kept per probe for the sparkline and p50
# How far back the quiet buckets that make a 5xx baseline reach.
BASELINE_SECONDS = 1800
ISSUE_SAMPLES = 200  # counts kept per Sentry issue
RISE_FACTOR, RISE_FLOOR = 2.0, 3  # an issue rose: this many times its rate, and events
# Runs of like results kept per probe (each state change and each new error text starts one):
# with results every few seconds a whole incident's changes fit, in bounded memory.
RUNS = 400


class ProbeState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """Consecutive results alike (same outcome, sessions and error text but for its figures):
    the first, verbatim, and how many followed until when."""

    first: ProbeResult
    last_at: datetime
    count: int = 1

    def takes(self, result: ProbeResult) -> bool:
        first = self.first
        return (
            result.ok == first.ok
            and result.sessions_ok == first.sessions_ok
            and _error_shape(result.error) == _error_shape(first.error)
        )


def _error_shape(error: str | None) -> str:
    return re.sub(r"\d+(?:\.\d+)?", "#", error or "")


@dataclass(frozen=True, slots=True)
class ProbeView:
    name: str
    kind: str
    target: str
    concurrency: int
    state: ProbeState
    since: datetime | None
    last: ProbeResult | None
    latencies: tuple[float, ...]  # recent successful latencies, oldest first
    only_under_concurrency: bool = False
    history: tuple[ProbeResult, ...] = ()  # recent results, oldest first, for the detail screen
    runs: tuple[ProbeRun, ...] = ()  # every change since watching began (RUNS), oldest first

    @property
    def p50_ms(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[len(ordered) // 2]


@dataclass(frozen=True, slots=True)
class Spike:
    source: str
    start: datetime  # start of the first bucket over the threshold
    peak_ratio: float
    peak_at: datetime
    bucket_seconds: int = 0
    baseline: float = 0.0  # the 5xx ratio before the spike opened
    # False when the data begin inside the spike: it started at `start` or before.
    start_known: bool = True
    found_on_open: bool = False  # already under way in what was read back at start

    @property
    def latest_start(self) -> datetime:
        """The errors began somewhere in the first bucket: no later than its end."""
        return self.start + timedelta(seconds=self.bucket_seconds)


@dataclass
class _ErrorTrack:
    """One error source judged bucket by bucket, as if watched all along: a series read back
    at start is replayed in order, so a spike under way is dated by its own first bucket and
    judged against the buckets before it. Spike buckets never join the baseline."""

    recent: int
    last: datetime | None = None  # start of the newest bucket judged
    window: deque[ErrorBucket] = field(default_factory=deque)
    quiet: deque[tuple[int, int]] = field(default_factory=deque)  # (requests, 5xx), baseline
    seen_quiet: bool = False  # a bucket with traffic was judged outside any spike
    spike: Spike | None = None
    replayed: bool = False  # the first series (what was read back) has been judged

    def baseline(self) -> float:
        requests = sum(r for r, _ in self.quiet)
        return sum(e for _, e in self.quiet) / requests if requests else 0.0

    def leave(self, bucket: ErrorBucket, keep: int, in_failure: bool = False) -> None:
        """A bucket leaving the judged window joins the baseline unless it was in a spike or
        in a failure (a probe or an alert failing): what the service does while broken is not
        its normal, even when the 5xx stayed under the bar."""
        if self.spike is None or bucket.start < self.spike.start:
            if not in_failure:
                self.quiet.append((bucket.requests, bucket.errors_5xx))
                while len(self.quiet) > keep:
                    self.quiet.popleft()
            self.seen_quiet = self.seen_quiet or bucket.requests > 0


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


@dataclass
class _ProbeTrack:
    state: ProbeState = ProbeState.UNKNOWN
    since: datetime | None = None
    streak_ok: int = 0
    streak_fail: int = 0
    first_fail: ProbeResult | None = None
    failing_at_open: bool = False  # its very first result failed: it began before we looked
    last_at: datetime | None = None
    last: ProbeResult | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY))
    runs: deque[ProbeRun] = field(default_factory=lambda: deque(maxlen=RUNS))

    def add_run(self, result: ProbeResult) -> None:
        if self.runs and self.runs[-1].takes(result):
            run = self.runs[-1]
            self.runs[-1] = ProbeRun(run.first, result.at, run.count + 1)
        else:
            self.runs.append(ProbeRun(result, result.at))


class Detector:
    def __init__(self, config: Config, settings: DetectSettings | None = None):
        self.settings = settings or config.detect
        self._thresholds = {
            p.name: (p.failure_threshold, p.success_threshold) for p in config.probes
        }
        self._probes: dict[str, _ProbeTrack] = {}
        self._spikes: dict[str, Spike] = {}
        self._tracks: dict[str, _ErrorTrack] = {}
        self._failure_started: datetime | None = None
        # Failures that are over, (start, end): their buckets stay out of the 5xx baseline.
        self._failure_windows: deque[tuple[datetime, datetime]] = deque(maxlen=64)
        self._failure_bound: datetime | None = None
        self._failure_known = True
        self._found_on_open = False
        self._suspect: Deploy | None = None
        self._blind_spot: str | None = None
        self._degraded = False
        self._seen_issues: set[str] = set()
        self._series: dict[str, ErrorSeries] = {}
        self._alerts = AlertSignals()  # firing alerts as failures (cockpit.alerts.signals)
        # Each issue's event count as seen poll by poll: "rose since the failure began" is
        # judged against its own rate before then when the cockpit watched it.
        self._issue_counts: dict[str, deque[tuple[datetime, int]]] = {}
        self._blind_routes: tuple[RouteShare, ...] = ()
        self._blind_probes: tuple[str, ...] = ()
        self._emitted: set[str] = set()
        self._ended_spikes: list[tuple[datetime, datetime]] = []  # during the current failure
        self._adopted_spikes: dict[str, TimelineEvent] = {}  # recorded open, not yet seen

    def adopt(self, states: dict[str, TimelineEvent]) -> None:
        """Take over what the timeline already says (`state_family` -> its latest event), so a
        restarted or second cockpit neither records an ongoing failure again nor dates it from
        its own start: a probe recorded down at 06:52 is down since 06:52."""
        for family, event in states.items():
            what, _, name = family.partition(":")
            if what == "probe" and event.kind in ("probe.down", "probe.up"):
                track = self._probes.setdefault(name, _ProbeTrack())
                down = event.kind == "probe.down"
                if track.state is ProbeState.UNKNOWN:
                    track.state = ProbeState.DOWN if down else ProbeState.UP
                    track.since = event.at
                elif down and track.state is ProbeState.DOWN and track.since:
                    track.since = min(track.since, event.at)
            elif what == "spike" and event.kind == "spike.start":
                self._adopted_spikes[name] = event
            self._emitted.add(event.key)

    # -- probes --------------------------------------------------------------------------------

    def _probe(self, result: ProbeResult, out: list[TimelineEvent]) -> None:
        track = self._probes.setdefault(result.name, _ProbeTrack())
        if track.last_at == result.at:
            return
        track.last_at = result.at
        track.last = result
        track.history.append(result)
        if len(track.history) == 1 and track.state is ProbeState.UNKNOWN:
            track.failing_at_open = not result.ok
        track.add_run(result)
        if result.ok and result.latency_ms is not None:
            track.latencies.append(result.latency_ms)
        fail_after, ok_after = self._thresholds_for(result.name)
        if result.ok:
            track.streak_ok += 1
            track.streak_fail = 0
            track.first_fail = None
            track.failing_at_open = False
            if track.state is not ProbeState.UP and track.streak_ok >= ok_after:
                if track.state is ProbeState.DOWN:
                    out.append(
                        TimelineEvent(
                            result.at,
                            "probe.up",
                            f"probe {result.name} passing again ({_sessions(result)})",
                            result.name,
                            f"probe:{result.name}:up:{iso_utc(result.at)}",
                        )
                    )
                track.state, track.since = ProbeState.UP, result.at
        else:
            track.streak_fail += 1
            track.streak_ok = 0
            track.first_fail = track.first_fail or result
            if track.state is not ProbeState.DOWN and track.streak_fail >= fail_after:
                first = track.first_fail
                since = (
                    f"failing when first probed at {local_hms(first.at)} (found on open)"
                    if track.failing_at_open
                    else f"failing since {local_hms(first.at)}"
                )
                out.append(
                    TimelineEvent(
                        first.at,
                        "probe.down",
                        f"probe {result.name} {since}: "
                        f"{_sessions(first)}, {first.error or 'failed'}",
                        result.name,
                        f"probe:{result.name}:down:{iso_utc(first.at)}",
                    )
                )
                track.state, track.since = ProbeState.DOWN, first.at

    def _thresholds_for(self, name: str) -> tuple[int, int]:
        """A probe's own thresholds; a fleet's probes ("source:target@location") take their
        source's."""
        if name in self._thresholds:
            return self._thresholds[name]
        source = name.partition(":")[0]
        return self._thresholds.get(source, (2, 1))

    def _probe_views(self, results: dict[str, ProbeResult], out: list[TimelineEvent]) -> tuple:
        views = []
        for name, result in results.items():
            track = self._probes[name]
            twin_up = any(
                _endpoint(other.target) == _endpoint(result.target)
                and other.kind == result.kind
                and other.concurrency == 1
                and self._probes[other.name].state is ProbeState.UP
                for other in results.values()
            )
            only = result.concurrency > 1 and track.state is ProbeState.DOWN and twin_up
            if only and track.since is not None:
                out.append(
                    TimelineEvent(
                        track.since,
                        "concurrency",
                        f"{name} fails only under concurrency: {_sessions(result)} "
                        f"while single sessions to {_endpoint(result.target)} pass",
                        name,
                        f"concurrency:{name}:{iso_utc(track.since)}",
                    )
                )
            views.append(
                ProbeView(
                    name,
                    result.kind,
                    result.target,
                    result.concurrency,
                    track.state,
                    track.since,
                    track.last,
                    tuple(track.latencies),
                    only,
                    tuple(track.history),
                    tuple(track.runs),
                )
            )
        return tuple(views)

    # -- 5xx -----------------------------------------------------------------------------------

    def _errors(self, series: ErrorSeries, out: list[TimelineEvent]) -> None:
        s = self.settings
        track = self._tracks.get(series.source)
        if track is None:
            track = self._tracks[series.source] = _ErrorTrack(s.spike_recent_buckets)
        on_open = not track.replayed
        # The newest bucket is still filling; judge on the complete ones before it.
        for bucket in series.buckets[:-1]:
            if track.last is not None and bucket.start <= track.last:
                continue
            track.last = bucket.start
            self._judge(series, track, bucket, on_open, out)
        track.replayed = True
        if track.spike is not None:
            self._spikes[series.source] = track.spike
        else:
            self._spikes.pop(series.source, None)
        adopted = self._adopted_spikes.pop(series.source, None)
        if adopted is None or not on_open:
            return
        spike = track.spike
        if spike is not None and not spike.start_known and adopted.at < spike.start:
            # Recorded by a cockpit that saw it begin: that start is the true one.
            track.spike = self._spikes[series.source] = replace(
                spike, start=adopted.at, start_known=True
            )
        elif spike is None and not any(e.kind == "spike.end" for e in out):
            seen = next((b.start for b in series.buckets if b.requests), None)
            if seen is None:
                return
            out.append(
                TimelineEvent(
                    seen,
                    "spike.end",
                    f"5xx spike on {series.source} from {local_hms(adopted.at)} over by "
                    f"{local_hms(seen)} (it ended while no cockpit watched)",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(adopted.at)}",
                )
            )

    def _in_failure(self, at: datetime) -> bool:
        started = self._failure_started
        if started is not None and at >= started:
            return True
        return any(start <= at < end for start, end in self._failure_windows)

    def _judge(
        self,
        series: ErrorSeries,
        track: _ErrorTrack,
        bucket: ErrorBucket,
        on_open: bool,
        out: list[TimelineEvent],
    ) -> None:
        s = self.settings
        keep = max(
            s.spike_recent_buckets + 1, ceil(BASELINE_SECONDS / max(1, series.bucket_seconds))
        )
        track.window.append(bucket)
        while len(track.window) > s.spike_recent_buckets:
            leaving = track.window.popleft()
            track.leave(leaving, keep, self._in_failure(leaving.start))
        window = track.window
        req = sum(b.requests for b in window)
        err = sum(b.errors_5xx for b in window)
        ratio = err / req if req else 0.0
        spike = track.spike
        # While a spike is open its own buckets must not raise the bar it is judged against.
        baseline = spike.baseline if spike is not None else track.baseline()
        bar = max(s.spike_min_ratio, baseline * s.spike_factor)
        hot = err >= s.spike_min_errors and ratio >= bar
        found = " (found on open)" if on_open else ""
        if spike is None and hot:
            # The spike starts at the first bucket over the bar on its own: an earlier bucket
            # holding only the usual stray error (thin traffic can make one look like a high
            # ratio) is not part of it.
            first = next(
                (b for b in window if b.errors_5xx >= 2 and b.errors_5xx >= bar * b.requests),
                next(b for b in window if b.errors_5xx),
            )
            known = track.seen_quiet or any(b.requests and b.start < first.start for b in window)
            for b in [b for b in window if b.start < first.start]:
                window.remove(b)
                track.leave(b, keep)
            track.spike = Spike(
                series.source,
                first.start,
                ratio,
                bucket.start,
                series.bucket_seconds,
                baseline,
                known,
                on_open,
            )
            since = (
                f"since {local_hms(first.start)}"
                if known
                else f"under way since before {local_hms(first.start)} (the data begin there)"
            )
            base = f"baseline {baseline:.1%}" if known else "no baseline in view"
            out.append(
                TimelineEvent(
                    first.start,
                    "spike.start",
                    f"5xx spike on {series.source} {since}: {ratio:.0%} of requests "
                    f"({base}){found}",
                    series.source,
                    f"spike:{series.source}:start:{iso_utc(first.start)}",
                )
            )
        elif spike is not None and hot and ratio > spike.peak_ratio:
            track.spike = replace(spike, peak_ratio=ratio, peak_at=bucket.start)
        elif spike is not None and not hot:
            end = window[0].start
            out.append(
                TimelineEvent(
                    spike.peak_at,
                    "spike.peak",
                    f"5xx spike on {series.source} peaked at {spike.peak_ratio:.0%} "
                    f"of requests (baseline {spike.baseline:.1%}){found}",
                    series.source,
                    f"spike:{series.source}:peak:{iso_utc(spike.start)}",
                )
            )
            self._ended_spikes.append((spike.start, end))
            out.append(
                TimelineEvent(
                    end,
                    "spike.end",
                    f"5xx spike on {series.source} over: {local_hms(spike.start)}-"
                    f"{local_hms(end)}, peak {spike.peak_ratio:.0%} "
                    f"at {local_hms(spike.peak_at)}{found}",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(spike.start)}",
                )
            )
            track.spike = None

    # -- deploys and Sentry --------------------------------------------------------------------

    @staticmethod
    def _deploy_events(deploys: Iterable[Deploy], out: list[TimelineEvent]) -> None:
        for d in deploys:
            version = identity(d.version)
            what = (
                f"rollback of {identity(d.reverts)} to {version}"
                if d.reverts
                else f"deploy {version}"
            )
            out.append(
                TimelineEvent(
                    d.at,
                    "deploy",
                    f"{d.service}: {what} by {d.who}: {d.summary}",
                    d.source,
                    f"deploy:{d.service}:{d.version}:{iso_utc(d.at)}",
                )
            )

    def _sentry_events(self, issues: Iterable[SentryIssue], now: datetime, out: list) -> None:
        recent = now - timedelta(hours=1)
        for issue in issues:
            if issue.id in self._seen_issues:
                continue
            self._seen_issues.add(issue.id)
            if issue.first_seen is not None and issue.first_seen >= recent:
                out.append(
                    TimelineEvent(
                        issue.first_seen,
                        "sentry.new",
                        f"Sentry issue {issue.short_id} first seen: {issue.title}",
                        "sentry",
                        f"sentry:{issue.id}",
                    )
                )

    # -- the whole picture ---------------------------------------------------------------------

    def observe(self, snap: Snapshot) -> Assessment:
        now = snap.at
        out: list[TimelineEvent] = []
        results: dict[str, ProbeResult] = {}
        deploy_readings: list[Deploys] = []
        issues: list[SentryIssue] = []
        sentry_fresh = False
        for name, reading in snap.readings.items():
            status = snap.statuses[name]
            if isinstance(reading, ProbeResult):
                results[name] = reading
                self._probe(reading, out)
            elif isinstance(reading, ProbeResults):
                for result in reading.results:
                    results[result.name] = result
                    self._probe(result, out)
            elif isinstance(reading, Deploys):
                deploy_readings.append(reading)
            elif isinstance(reading, ErrorSeries):
                self._series[reading.source] = reading
                self._errors(reading, out)
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
        self._deploy_events(deploys, out)
        self._sentry_events(issues, now, out)
        if sentry_fresh:
            self._count_issues(issues, now)
        views = self._probe_views(results, out)

        down = [v for v in views if v.state is ProbeState.DOWN]
        # (when it was first seen failing, the latest moment the failure can have begun,
        # whether the data show its beginning, whether it was under way at open)
        failures = [
            (v.since, v.since, not self._probes[v.name].failing_at_open, self._opened_down(v))
            for v in down
            if v.since
        ] + [
            (s.start, s.latest_start, s.start_known, s.found_on_open) for s in self._spikes.values()
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
            self._blind_spot_check(issues, sentry_fresh, now, down, out)
        elif not self._degraded:
            self._ended_spikes.clear()  # spikes over before the cockpit looked: history only
        else:
            if self._blind_spot is not None:
                out.append(self._blind_spot_summary(now))
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
            self._blind_spot = None
            self._blind_routes, self._blind_probes = (), ()
            self._ended_spikes.clear()
        self._degraded = degraded
        return Assessment(
            probes=views,
            deploys=tuple(deploys),
            suspect=self._suspect,
            first_failure_at=self._impact_start(),
            first_failure_by=self._failure_bound,
            first_failure_known=self._failure_known,
            found_on_open=self._found_on_open and degraded,
            spikes=tuple(self._spikes.values()),
            baselines=tuple(
                (source, t.spike.baseline if t.spike is not None else t.baseline())
                for source, t in self._tracks.items()
            ),
            blind_spot=self._blind_spot if degraded else None,
            blind_routes=self._blind_routes if degraded else (),
            blind_probes=self._blind_probes if degraded else (),
            degraded=degraded,
            events=tuple(sorted(self._fresh(out), key=lambda e: e.at)),
        )

    def _fresh(self, events: list[TimelineEvent]) -> list[TimelineEvent]:
        """Drop what this detector already reported; observations repeat across snapshots."""
        new = [e for e in events if not e.key or e.key not in self._emitted]
        self._emitted.update(e.key for e in new if e.key)
        return new

    def _opened_down(self, view: ProbeView) -> bool:
        return self._probes[view.name].failing_at_open

    def _impact_start(self) -> datetime | None:
        """When the failure began, as far as the data tell: the start of the bucket that
        showed it, but never before the suspect change inside that bucket (it came first)."""
        start, bound, suspect = self._failure_started, self._failure_bound, self._suspect
        if (
            start is not None
            and bound is not None
            and suspect is not None
            and start < suspect.at <= bound
        ):
            return suspect.at
        return start

    def failure_span(self) -> str:
        """The failure's start in words: a time, "between A and B", or "before A"."""
        start, bound = self._impact_start(), self._failure_bound
        if start is None or bound is None:
            return ""
        if not self._failure_known:
            return f"before {local_hms(start)}"
        if bound > start:
            return f"between {local_hms(start)} and {local_hms(bound)}"
        return local_hms(start)

    def _suspect_event(self, deploys: list[Deploy], out: list[TimelineEvent]) -> None:
        start, bound = self._failure_started, self._failure_bound
        assert start is not None and bound is not None
        # The last change before the failure began (or inside the bucket that showed it); a
        # deploy long before it is listed, not blamed: the fault may lie elsewhere, and one
        # made during the failure did not cause it.
        since = start - timedelta(minutes=self.settings.suspect_minutes)
        before = [d for d in deploys if since <= d.at <= bound and not d.reverts]
        suspect = before[0] if before else None
        if suspect is None or suspect == self._suspect:
            return
        self._suspect = suspect
        out.append(
            TimelineEvent(
                self._impact_start() or start,
                "suspect",
                f"suspect deploy {identity(suspect.service)} {identity(suspect.version)} "
                f"by {suspect.who}: "
                f"deployed {local_hms(suspect.at)}, first failure {self.failure_span()}"
                + (" (found on open)" if self._found_on_open else ""),
                "detect",
                f"suspect:{suspect.service}:{suspect.version}:{iso_utc(suspect.at)}",
            )
        )

    def _count_issues(self, issues: Iterable[SentryIssue], now: datetime) -> None:
        for issue in issues:
            seen = self._issue_counts.setdefault(issue.id, deque(maxlen=ISSUE_SAMPLES))
            if not seen or seen[-1][1] != issue.count:
                seen.append((now, issue.count))

    def rose_since(self, issue: SentryIssue, start: datetime, now: datetime) -> bool:
        """Whether an issue's events came faster since `start` than in its own history before
        it. An issue whose whole history lies after `start`'s bucket cannot be shown to have
        risen by its trend (a young issue is not a rising one)."""
        seen: deque[tuple[datetime, int]] = self._issue_counts.get(issue.id) or deque()
        before = [(at, n) for at, n in seen if at < start]
        if before and issue.first_seen is not None and issue.first_seen < before[-1][0]:
            (t0, c0), (t1, c1) = before[-1], seen[-1]
            life, span = (t0 - issue.first_seen).total_seconds(), (t1 - t0).total_seconds()
            if span <= 0 or c1 - c0 < RISE_FLOOR:
                return False
            return (c1 - c0) / span >= RISE_FACTOR * c0 / max(life, 1.0)
        return _trend_rose(issue, start)

    def _blind_spot_check(
        self,
        issues: list[SentryIssue],
        sentry_fresh: bool,
        now: datetime,
        down: list[ProbeView],
        out: list,
    ) -> None:
        start = self._failure_started
        if start is None or self._blind_spot or not sentry_fresh:
            return
        if (now - start).total_seconds() < self.settings.blind_spot_grace:
            return
        since = start - timedelta(seconds=self.settings.blind_spot_window)
        if self._suspect is not None:
            since = max(since, self._suspect.at)
        # Issues that came with the failure: new since it began, or risen since then.
        fresh = [
            i
            for i in issues
            if (i.first_seen is not None and i.first_seen >= since)
            or (i.last_seen is not None and i.last_seen >= start and self.rose_since(i, start, now))
        ]
        parts: list[str] = []
        routes: tuple[RouteShare, ...] = ()
        if self._spikes:
            failing, known = self._failing_routes(start)
            if known:
                routes = tuple(
                    r for r in failing if not any(_names_route(i, r.route) for i in fresh)
                )
                if routes:
                    shown = ", ".join(
                        f"{route_text(r.route)} ({r.share:.0%} of 5xx)" for r in routes[:3]
                    )
                    more = f" and {len(routes) - 3} more" if len(routes) > 3 else ""
                    parts.append(f"5xx on {shown}{more}")
            elif not fresh:
                parts.append("5xx spike (judged by timing only: the 5xx source tells no routes)")
        probes = tuple(v.name for v in down if not any(_names_probe(i, v) for i in fresh))
        if probes:
            parts.append("probes " + ", ".join(probes))
        parts += self._alerts.blind_parts(len(fresh))
        if not parts:
            return
        self._blind_routes, self._blind_probes = routes, probes
        self._blind_spot = (
            f"{'; '.join(parts)} since {self.failure_span()} with no matching Sentry issue: "
            "the failing code path may not report errors"
        )
        out.append(
            TimelineEvent(
                now, "blind_spot", self._blind_spot, "detect", f"blind_spot:{iso_utc(start)}"
            )
        )

    def _failing_routes(self, start: datetime) -> tuple[list[RouteShare], bool]:
        """The routes whose 5xx rose since `start` (against their own rate before it) over the
        sources in a spike, most first, with their share of the 5xx since then; and whether
        any of these sources tells routes at all."""
        after: dict[Route, int] = {}
        before: dict[Route, int] = {}
        spans = [0.0, 0.0]  # seconds of data before and since start
        known = False
        total = 0
        for source in self._spikes:
            series = self._series.get(source)
            if series is None:
                continue
            known = known or series.routes_known
            step = timedelta(seconds=series.bucket_seconds)
            for bucket in series.buckets:
                since = bucket.start + step > start
                spans[since] += series.bucket_seconds
                counts = after if since else before
                total += bucket.errors_5xx if since else 0
                for r in bucket.routes_5xx:
                    counts[r.route] = counts.get(r.route, 0) + r.count
        rose = [
            (route, n)
            for route, n in after.items()
            if n >= RISE_FLOOR
            and n / max(spans[1], 1.0) >= RISE_FACTOR * before.get(route, 0) / max(spans[0], 1.0)
        ]
        rose.sort(key=lambda kv: -kv[1])
        return [RouteShare(route, n, n / total if total else 0.0) for route, n in rose], known

    def _blind_spot_summary(self, now: datetime) -> TimelineEvent:
        """When the failure is over: what Sentry never saw, as a closed range."""
        start = self._failure_started
        assert start is not None
        spans = self._ended_spikes
        if spans:
            first, last = min(a for a, _ in spans), max(b for _, b in spans)
            what = f"5xx spike {local_hm(first)}-{local_hm(last)}"
        else:
            what = f"probe failures {local_hm(start)}-{local_hm(now)}"
        return TimelineEvent(
            now,
            "blind_spot",
            f"{what} with no matching Sentry issue",
            "detect",
            f"blind_spot:{iso_utc(start)}:closed",
        )


_STATE_KINDS = {"probe.down": "probe", "probe.up": "probe", "spike.start": "spike"}
_STATE_KINDS["spike.end"] = "spike"


def state_family(event: TimelineEvent) -> str:
    """What an event is a state change of ("probe:web-health", "spike:nginx"), "" if none:
    the store records each state of a family once, whichever cockpit sees it first."""
    what = _STATE_KINDS.get(event.kind)
    return f"{what}:{event.source}" if what else ""


def _trend_rose(issue: SentryIssue, start: datetime) -> bool:
    """From the issue's trend alone: its buckets from the one holding `start` on, against the
    buckets before, which must hold some of its history (else nothing shows it rose)."""
    trend, step, first = issue.trend, issue.trend_seconds, issue.trend_from
    if step <= 0 or first is None:
        # No bucket times: the trend's latest part against the rest, for an issue known
        # from before that part only.
        recent = max(1, len(trend) // 12)
        older_than = issue.last_seen or start
        span = timedelta(hours=24) * recent / max(1, len(trend))
        young = issue.first_seen is None or issue.first_seen >= older_than - span
        return not young and is_rising(trend, RISE_FACTOR, RISE_FLOOR)
    index = int((start - first).total_seconds() // step)
    if index <= 0 or index >= len(trend):
        return False
    before, after = trend[:index], trend[index:]
    if issue.first_seen is None or issue.first_seen >= first + timedelta(seconds=step * index):
        return False  # all of its history lies after the start's bucket began
    rate_before = sum(before) / len(before)
    return sum(after) >= RISE_FLOOR and sum(after) / len(after) >= RISE_FACTOR * rate_before


_PATH_IN_TEXT = re.compile(r"(?:^|[\s'\"(=])(/[^\s'\"()?#]*)")
_PLACEHOLDER = re.compile(r"^(?:\{[^}]*\}|<[^>]*>|:\w+|\*)$")


def _paths_named(issue: SentryIssue) -> list[str]:
    """Request paths an issue names: its culprit (the transaction, e.g. "/files/{id}" or
    "GET /files/{id}"), its title and metadata."""
    found: list[str] = []
    for text in (str(issue.culprit), str(issue.title), str(issue.metadata)):
        found.extend(m.group(1).rstrip("/") for m in _PATH_IN_TEXT.finditer(text))
    return [p for p in found if p]


def _same_path(named: str, path: str) -> bool:
    """`/files` names `/files/{id}`; segments that are placeholders match any segment."""
    a, b = named.strip("/").split("/"), path.rstrip("/").strip("/").split("/")
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return all(
        x == y or _PLACEHOLDER.match(x) or _PLACEHOLDER.match(y)
        for x, y in zip(short, long, strict=False)
    )


def _names_route(issue: SentryIssue, route: Route) -> bool:
    path = str(route.path)
    return bool(path) and any(_same_path(p, path) for p in _paths_named(issue))


def _names_probe(issue: SentryIssue, probe: ProbeView) -> bool:
    """An issue names a probe by its name, its protocol (ftp, sftp, webdav: not http, which
    every URL says) or the path it requests."""
    text = f"{issue.culprit} {issue.title} {issue.metadata}".lower()
    words = set(re.findall(r"[a-z0-9_.-]+", text))
    if str(probe.name).lower() in words:
        return True
    kind = str(probe.kind).lower()
    if kind not in ("http", "https", "tcp", "tls") and kind in words:
        return True
    path = urlsplit(str(probe.target)).path.rstrip("/")
    return bool(path) and any(_same_path(p, path) for p in _paths_named(issue))


def _endpoint(target: str) -> str:
    """Where a probe goes, without account, query or fragment: probes of one endpoint as
    different users are still twins."""
    parts = urlsplit(target)
    if not parts.scheme or not parts.netloc:
        return target
    host = parts.netloc.rpartition("@")[2].lower()
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def concurrency_twins(results: Iterable[ProbeResult]) -> dict[str, str]:
    """Concurrent probes that fail while a single-session twin to the same endpoint passes,
    judged on these results alone (one round: `cockpit check`): name -> the passing twin."""
    rounds = list(results)
    out: dict[str, str] = {}
    for result in rounds:
        if result.concurrency <= 1 or result.ok:
            continue
        twin = next(
            (
                other.name
                for other in rounds
                if other.concurrency == 1
                and other.ok
                and other.kind == result.kind
                and _endpoint(other.target) == _endpoint(result.target)
            ),
            None,
        )
        if twin is not None:
            out[result.name] = twin
    return out


def _sessions(result: ProbeResult) -> str:
    return f"{result.sessions_ok}/{result.concurrency} sessions"
