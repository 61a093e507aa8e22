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
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cockpit.config.sections import DetectSettings
from cockpit.model import (
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
from cockpit.sentry_rank import is_rising
from cockpit.sources.deploy_merge import merge_deploys
from cockpit.textsafe import identity
from cockpit.timeutil import iso_utc, local_hm, local_hms

if TYPE_CHECKING:
    from cockpit.config.loader import Config
    from cockpit.hub import Snapshot

HISTORY = 60  # probe results kept per probe for the sparkline and p50
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

    @property
    def latest_start(self) -> datetime:
        """The errors began somewhere in the first bucket: no later than its end."""
        return self.start + timedelta(seconds=self.bucket_seconds)


@dataclass(frozen=True, slots=True)
class Assessment:
    probes: tuple[ProbeView, ...] = ()
    deploys: tuple[Deploy, ...] = ()  # merged from every deploy source, newest first
    suspect: Deploy | None = None
    first_failure_at: datetime | None = None
    spikes: tuple[Spike, ...] = ()  # open spikes
    blind_spot: str | None = None
    degraded: bool = False
    events: tuple[TimelineEvent, ...] = ()  # new since the previous assessment


@dataclass
class _ProbeTrack:
    state: ProbeState = ProbeState.UNKNOWN
    since: datetime | None = None
    streak_ok: int = 0
    streak_fail: int = 0
    first_fail: ProbeResult | None = None
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
        self._failure_started: datetime | None = None
        self._failure_bound: datetime | None = None
        self._suspect: Deploy | None = None
        self._blind_spot: str | None = None
        self._degraded = False
        self._seen_issues: set[str] = set()
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
        track.add_run(result)
        if result.ok and result.latency_ms is not None:
            track.latencies.append(result.latency_ms)
        fail_after, ok_after = self._thresholds_for(result.name)
        if result.ok:
            track.streak_ok += 1
            track.streak_fail = 0
            track.first_fail = None
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
                out.append(
                    TimelineEvent(
                        first.at,
                        "probe.down",
                        f"probe {result.name} failing since {local_hms(first.at)}: "
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
        buckets = series.buckets
        if len(buckets) < s.spike_recent_buckets + 1:
            return
        # The newest bucket is still filling; judge on the complete ones before it.
        complete = buckets[:-1]
        recent = complete[-s.spike_recent_buckets :]
        older = complete[: -s.spike_recent_buckets]
        req = sum(b.requests for b in recent)
        err = sum(b.errors_5xx for b in recent)
        ratio = err / req if req else 0.0
        base_req = sum(b.requests for b in older)
        open_spike = self._spikes.get(series.source)
        # While a spike is open its own buckets must not raise the bar it is judged against.
        if open_spike is not None:
            baseline = open_spike.baseline
        else:
            baseline = sum(b.errors_5xx for b in older) / base_req if base_req else 0.0
        hot = err >= s.spike_min_errors and ratio >= max(
            s.spike_min_ratio, baseline * s.spike_factor
        )
        adopted = self._adopted_spikes.pop(series.source, None)
        if adopted is not None and open_spike is None:
            if err >= s.spike_min_errors and ratio >= s.spike_min_ratio:
                # Still failing: the recorded spike goes on (judged on the absolute bar, as the
                # baseline from before it is not in view any more).
                self._spikes[series.source] = Spike(
                    series.source, adopted.at, ratio, recent[-1].start, series.bucket_seconds, 0.0
                )
                return
            out.append(
                TimelineEvent(
                    recent[0].start,
                    "spike.end",
                    f"5xx spike on {series.source} from {local_hms(adopted.at)} over by "
                    f"{local_hms(recent[0].start)} (it ended while no cockpit watched)",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(adopted.at)}",
                )
            )
        if open_spike is None and hot:
            # The spike starts at the first bucket over the bar on its own: an earlier bucket
            # holding only the usual stray error (thin traffic can make one look like a high
            # ratio) is not part of it.
            bar = max(s.spike_min_ratio, baseline * s.spike_factor)
            start = next(
                (b.start for b in recent if b.errors_5xx >= 2 and b.errors_5xx / b.requests >= bar),
                next(b.start for b in recent if b.errors_5xx),
            )
            self._spikes[series.source] = Spike(
                series.source, start, ratio, recent[-1].start, series.bucket_seconds, baseline
            )
            out.append(
                TimelineEvent(
                    start,
                    "spike.start",
                    f"5xx spike on {series.source}: {ratio:.0%} of requests "
                    f"(baseline {baseline:.1%})",
                    series.source,
                    f"spike:{series.source}:start:{iso_utc(start)}",
                )
            )
        elif open_spike is not None and hot and ratio > open_spike.peak_ratio:
            self._spikes[series.source] = replace(
                open_spike, peak_ratio=ratio, peak_at=recent[-1].start
            )
        elif open_spike is not None and not hot:
            end = recent[0].start
            out.append(
                TimelineEvent(
                    open_spike.peak_at,
                    "spike.peak",
                    f"5xx spike on {series.source} peaked at {open_spike.peak_ratio:.0%} "
                    f"of requests (baseline {open_spike.baseline:.1%})",
                    series.source,
                    f"spike:{series.source}:peak:{iso_utc(open_spike.start)}",
                )
            )
            self._ended_spikes.append((open_spike.start, end))
            out.append(
                TimelineEvent(
                    end,
                    "spike.end",
                    f"5xx spike on {series.source} over: {local_hms(open_spike.start)}-"
                    f"{local_hms(end)}, peak {open_spike.peak_ratio:.0%} "
                    f"at {local_hms(open_spike.peak_at)}",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(open_spike.start)}",
                )
            )
            del self._spikes[series.source]

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
                self._errors(reading, out)
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
        views = self._probe_views(results, out)

        down = [v for v in views if v.state is ProbeState.DOWN]
        # (when it was first seen failing, the latest moment the failure can have begun)
        failures = [(v.since, v.since) for v in down if v.since] + [
            (s.start, s.latest_start) for s in self._spikes.values()
        ]
        degraded = bool(failures)
        if degraded:
            first, bound = min(failures)
            if self._failure_started is None or first < self._failure_started:
                self._failure_started = first
                self._failure_bound = bound
            self._suspect_event(deploys, out)
            self._blind_spot_check(issues, sentry_fresh, now, out)
        elif self._degraded:
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
            self._failure_started = self._failure_bound = None
            self._blind_spot = None
            self._ended_spikes.clear()
        self._degraded = degraded
        return Assessment(
            probes=views,
            deploys=tuple(deploys),
            suspect=self._suspect,
            first_failure_at=self._failure_started,
            spikes=tuple(self._spikes.values()),
            blind_spot=self._blind_spot if degraded else None,
            degraded=degraded,
            events=tuple(sorted(self._fresh(out), key=lambda e: e.at)),
        )

    def _fresh(self, events: list[TimelineEvent]) -> list[TimelineEvent]:
        """Drop what this detector already reported; observations repeat across snapshots."""
        new = [e for e in events if not e.key or e.key not in self._emitted]
        self._emitted.update(e.key for e in new if e.key)
        return new

    def _suspect_event(self, deploys: list[Deploy], out: list[TimelineEvent]) -> None:
        start, bound = self._failure_started, self._failure_bound
        assert start is not None and bound is not None
        # A deploy long before the failure is listed, not blamed: the fault may lie elsewhere.
        since = start - timedelta(minutes=self.settings.suspect_minutes)
        before = [d for d in deploys if since <= d.at <= bound and not d.reverts]
        suspect = before[0] if before else None
        if suspect is None or suspect == self._suspect:
            return
        self._suspect = suspect
        out.append(
            TimelineEvent(
                start,
                "suspect",
                f"suspect deploy {identity(suspect.service)} {identity(suspect.version)} "
                f"by {suspect.who}: "
                f"deployed {local_hms(suspect.at)}, first failure "
                # A failure seen only by its time bucket may start before the deploy inside it.
                + (f"{local_hms(start)}" if start >= suspect.at else f"by {local_hms(bound)}"),
                "detect",
                f"suspect:{suspect.service}:{suspect.version}:{iso_utc(suspect.at)}",
            )
        )

    def _blind_spot_check(
        self, issues: list[SentryIssue], sentry_fresh: bool, now: datetime, out: list
    ) -> None:
        start = self._failure_started
        if start is None or self._blind_spot or not sentry_fresh:
            return
        if (now - start).total_seconds() < self.settings.blind_spot_grace:
            return
        since = start - timedelta(seconds=self.settings.blind_spot_window)
        if self._suspect is not None:
            since = max(since, self._suspect.at)
        if any(_matches(i, since) for i in issues):
            return
        what = "5xx spike" if self._spikes else "probe failures"
        self._blind_spot = (
            f"{what} since {local_hms(start)} with no matching Sentry issue: "
            "the failing code path may not report errors"
        )
        out.append(
            TimelineEvent(
                now, "blind_spot", self._blind_spot, "detect", f"blind_spot:{iso_utc(start)}"
            )
        )

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


def _matches(issue: SentryIssue, since: datetime) -> bool:
    """An issue explains a failure when it is new since then, or spiking since then."""
    if issue.first_seen is not None and issue.first_seen >= since:
        return True
    return issue.last_seen is not None and issue.last_seen >= since and is_rising(issue.trend)


def _endpoint(target: str) -> str:
    """Where a probe goes, without query or fragment: probes of one endpoint as different
    users are still twins."""
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else target


def _sessions(result: ProbeResult) -> str:
    return f"{result.sessions_ok}/{result.concurrency} sessions"
