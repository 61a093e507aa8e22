"""The 5xx panel's figures: per access log the current rate and ratio against the baseline
the detector judges spikes by, the ratio over each zoom window, and where the 5xx go (the top
routes with their share); the graph's markers (deploys, declared, mitigated)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.detect.routes import RouteShare, route_shares
from cockpit.model import Category, ErrorSeries, Incident, IncidentStatus
from cockpit.timeutil import from_epoch, local_hm, local_hms
from cockpit.view.sources import SourceLine, source_lines
from cockpit.view.zooms import DEFAULT_ZOOM, ZOOMS

if TYPE_CHECKING:
    from cockpit.hub import Snapshot

ROUTES = 8  # routes kept per window: more than the panel shows


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    source: str
    spike: bool  # a spike is open on this source
    requests: bool  # anything logged at all
    ratio: float = 0.0  # 5xx share of the requests of the latest complete buckets
    errors_per_s: float = 0.0
    requests_per_s: float = 0.0
    baseline: float = 0.0  # what the detector judges a spike against
    window_ratios: tuple[float, ...] = ()  # over each of ZOOMS
    behind: bool = False  # a read-back still being read: the counts are partial
    unparsed: int = 0


@dataclass(frozen=True, slots=True)
class RouteRows:
    """Where the 5xx go, per zoom window (since the spike began while one is open)."""

    per_zoom: tuple[tuple[RouteShare, ...], ...]
    spike: bool


@dataclass(frozen=True, slots=True)
class GraphData:
    """The complete buckets of the graphed log (the filling one would redraw the graph with
    every poll): when each began (epoch seconds) and its 5xx; and where the data begin (the
    log's first line, else the first bucket), so that no rate is averaged over time before."""

    bucket_seconds: int
    starts: tuple[float, ...]
    errors: tuple[int, ...]
    first: float = 0.0

    @property
    def end(self) -> float:
        return self.starts[-1] + self.bucket_seconds if self.starts else self.first

    @property
    def held(self) -> float:
        """Seconds of data the graph holds."""
        return max(0.0, self.end - self.first)

    @property
    def zoom(self) -> int:
        """The zoom that fits the data held: the shortest window that holds them all, never
        wider than the default (young data fill more of the graph than one column at 30
        minutes)."""
        fitting = next((i for i, (span, _) in enumerate(ZOOMS) if span >= self.held), None)
        return DEFAULT_ZOOM if fitting is None else min(fitting, DEFAULT_ZOOM)

    @property
    def data_from(self) -> str:
        """Where the data begin, local time: to the second while they are younger than the
        shortest window ("from 16:12" beside "16:12" says nothing), else to the minute."""
        at = from_epoch(self.first)
        return local_hms(at) if self.held < ZOOMS[0][0] else local_hm(at)


@dataclass(frozen=True, slots=True)
class ErrorsView:
    sources: tuple[SourceLine, ...] = ()
    graph: GraphData | None = None
    summaries: tuple[ErrorSummary, ...] = ()
    routes: RouteRows | None = None  # of the first series that tells routes and has 5xx
    deploys_at: tuple[datetime, ...] = ()
    declared_at: datetime | None = None
    mitigated_at: datetime | None = None
    alerting: bool = False

    @property
    def zoom(self) -> int:
        """The zoom shown until the user picks one (z)."""
        return self.graph.zoom if self.graph is not None else DEFAULT_ZOOM


def _summary(s: ErrorSeries, at: datetime, baseline: float, spike: bool) -> ErrorSummary:
    if not any(b.requests for b in s.buckets):
        return ErrorSummary(s.source, spike, False, behind=bool(s.behind))
    complete = s.buckets[:-1]  # the newest bucket is still filling
    width = timedelta(seconds=s.bucket_seconds)
    # Buckets from before the first logged request would read as "no traffic".
    recent = [b for b in complete[-2:] if s.first_ts is None or b.start + width > s.first_ts]
    filling = not recent
    if filling:  # traffic has only just begun: the filling bucket, up to now
        recent = list(s.buckets[-1:])
    # Over the time the data cover: the log's first line may have come inside the first.
    first = s.first_ts or recent[0].start
    ends = [at if filling else b.start + width for b in recent]
    spans = (stop - max(b.start, first) for b, stop in zip(recent, ends, strict=True))
    seconds = max(1.0, sum(spans, timedelta()).total_seconds())
    req = sum(b.requests for b in recent) / seconds
    err = sum(b.errors_5xx for b in recent) / seconds
    windows = []
    end = _end(s)
    for span, _ in ZOOMS:
        shown = [b for b in complete if b.start >= end - timedelta(seconds=span)]
        total = sum(b.requests for b in shown)
        windows.append(sum(b.errors_5xx for b in shown) / total if total else 0.0)
    return ErrorSummary(
        s.source,
        spike,
        True,
        err / req if req else 0.0,
        err,
        req,
        baseline,
        tuple(windows),
        bool(s.behind),
        s.unparsed_lines,
    )


def _end(s: ErrorSeries) -> datetime:
    """The end of the newest complete bucket: windows end there, so that they move once per
    bucket, not with every poll."""
    if len(s.buckets) < 2:
        return s.buckets[0].start  # nothing complete yet: every window is empty
    return s.buckets[-2].start + timedelta(seconds=s.bucket_seconds)


def _graph(s: ErrorSeries) -> GraphData | None:
    complete = s.buckets[:-1]
    if s.first_ts is not None:
        # The source keeps a whole window of buckets, but before the log's first line they
        # hold no data, not zero 5xx: the graph then says where the data begin.
        width = timedelta(seconds=s.bucket_seconds)
        complete = tuple(b for b in complete if b.start + width > s.first_ts)
    if not complete:
        return None
    first = complete[0].start
    if s.first_ts is not None and s.first_ts > first:
        first = s.first_ts
    return GraphData(
        s.bucket_seconds,
        tuple(b.start.timestamp() for b in complete),
        tuple(b.errors_5xx for b in complete),
        first.timestamp(),
    )


def _routes(series: list[ErrorSeries], assessment: Assessment) -> RouteRows | None:
    for s in series:
        if not s.routes_known or not s.buckets:
            continue
        end = _end(s)
        s = replace(s, buckets=s.buckets[:-1])  # complete buckets: not redrawn every poll
        spike = next((x for x in assessment.spikes if x.source == s.source), None)
        if spike is not None:
            shares = tuple(route_shares(s, spike.start)[:ROUTES])
            per_zoom = (shares,) * len(ZOOMS)
        else:
            per_zoom = tuple(
                tuple(route_shares(s, end - timedelta(seconds=span))[:ROUTES]) for span, _ in ZOOMS
            )
        if any(per_zoom):
            return RouteRows(per_zoom, spike is not None)
    return None


def errors_view(
    snapshot: Snapshot,
    assessment: Assessment,
    incident: Incident | None,
    status_times: Mapping[IncidentStatus, datetime] | None = None,
) -> ErrorsView:
    series = [r for _, r in snapshot.of(Category.ERRORS) if isinstance(r, ErrorSeries)]
    # While a spike is open, the baseline it is judged against is its own.
    baselines = dict(assessment.baselines) | {x.source: x.baseline for x in assessment.spikes}
    spiking = {x.source for x in assessment.spikes}
    at = snapshot.at
    return ErrorsView(
        source_lines(snapshot, Category.ERRORS),
        _graph(series[0]) if series else None,
        tuple(_summary(s, at, baselines.get(s.source, 0.0), s.source in spiking) for s in series),
        _routes(series, assessment),
        tuple(d.at for d in assessment.deploys),
        incident.declared_at if incident is not None else None,
        (status_times or {}).get(IncidentStatus.MITIGATED) if incident is not None else None,
        alerting=bool(assessment.spikes),
    )
