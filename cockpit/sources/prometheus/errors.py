"""5xx (and request) rates from Prometheus as an ErrorSeries: one range query per series.

Buckets line up with the clock (start = a multiple of `step`), oldest first, the newest one
holding now, like the access-log source. Each bucket [s, s + step) is evaluated at its end,
s + step, so its point is the rate over the query's own range up to then (for the newest bucket,
Prometheus answers with the latest samples it has).

A point is a rate per second; the model counts whole requests, so a bucket holds
round(rate x step). Rates below one request per bucket round to 0: a query wants a step of at
least a few seconds of traffic. Without `requests_query` a bucket's requests equal its 5xx, so
the ratio is 1 wherever there are errors: the graph and counts hold, the ratio means nothing.
Points that are not finite numbers (NaN, Inf) count as `unparsed_lines`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime

from cockpit.config.prometheus import MAX_POINTS, PrometheusErrorsConfig
from cockpit.model import Category, ErrorBucket, ErrorSeries, Route
from cockpit.sources.base import SourceError
from cockpit.sources.logs import routes
from cockpit.sources.logs.routes import RouteCounts
from cockpit.sources.prometheus.api import PrometheusApi, Series
from cockpit.timeutil import from_epoch, utcnow

# Labels that name where a request went, first found wins (client libraries differ).
_PATH_LABELS = ("path", "handler", "route", "uri", "endpoint")
_METHOD_LABELS = ("method", "http_method")
_HOST_LABELS = ("host", "vhost", "server_name")
_UPSTREAM_LABELS = ("upstream", "service", "backend")
_STATUS_LABELS = ("code", "status", "status_code")

# Finish (or fail with a reason) before the hub's own timeout cancels the poll.
_ROUND_SHARE = 0.9


def bucket_counts(
    series: list[Series], first_end: float, step: int, count: int
) -> tuple[list[float], int, float | None, float | None]:
    """Rates summed across series per bucket -> (per-bucket totals of rate x step, points that
    were not numbers, first and last time with a number)."""
    totals = [0.0] * count
    bad = 0
    first: float | None = None
    last: float | None = None
    for one in series:
        for at, value in one.points:
            index = round((at - first_end) / step)
            if not 0 <= index < count:
                continue
            if value is None:
                bad += 1
                continue
            totals[index] += max(0.0, value) * step
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
    return totals, bad, first, last


def _label(labels: dict[str, str], names: tuple[str, ...]) -> str:
    return next((labels[n] for n in names if labels.get(n)), "")


def route_of(labels: dict[str, str]) -> tuple[Route, int] | None:
    """The route and exact status a series' labels name; None without a path-like label. A
    status label like "5xx" (grouped by class) reads as 500."""
    path = _label(labels, _PATH_LABELS)
    if not path:
        return None
    code = _label(labels, _STATUS_LABELS)
    status = int(code) if code.isdigit() else 500
    return (
        routes.route(
            _label(labels, _METHOD_LABELS),
            path,
            _label(labels, _HOST_LABELS),
            _label(labels, _UPSTREAM_LABELS),
        ),
        status,
    )


def route_counts(
    series: list[Series], first_end: float, step: int, count: int
) -> list[RouteCounts] | None:
    """Per bucket, the 5xx of each series by the route its labels name; None when no series
    names one (the query summed the labels away)."""
    named = [(got, one) for one in series if (got := route_of(one.labels)) is not None]
    if not named:
        return None
    out = [RouteCounts() for _ in range(count)]
    for (where, status), one in named:
        for at, value in one.points:
            index = round((at - first_end) / step)
            if 0 <= index < count and value is not None and (n := round(value * step)) > 0:
                out[index].add(where, status, n)
    return out


class PrometheusErrors:
    kind = "prometheus"
    category = Category.ERRORS

    def __init__(self, cfg: PrometheusErrorsConfig, clock: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.step = cfg.step_seconds
        self.count = cfg.bucket_count
        self._clock = clock
        self._api = PrometheusApi(cfg, cfg.timeout)

    @property
    def target(self) -> str:
        return self._api.shown("/api/v1/query_range")

    def fit_width(self, columns: int) -> None:
        """One point per column of the graph that shows it, unless the config fixed the step."""
        if self.cfg.step is not None or self.cfg.points is not None or columns < 1:
            return
        self.step = max(1, math.ceil(self.cfg.window / min(columns, MAX_POINTS)))
        self.count = max(1, math.ceil(self.cfg.window / self.step))

    async def aclose(self) -> None:
        await self._api.aclose()

    async def poll(self) -> ErrorSeries:
        now = self._clock().timestamp()
        step, count = self.step, self.count
        newest = math.floor(now / step) * step
        oldest = newest - (count - 1) * step
        first_end, last_end = oldest + step, newest + step
        queries = [self.cfg.errors_query]
        if self.cfg.requests_query:
            queries.append(self.cfg.requests_query)
        try:
            async with asyncio.timeout(self.cfg.timeout * _ROUND_SHARE):
                answers = await asyncio.gather(
                    *(self._api.range(q, first_end, last_end, step) for q in queries)
                )
        except TimeoutError:
            raise SourceError(
                f"no answer from {self._api.host} within {self.cfg.timeout:g}s"
            ) from None
        errors, bad, first, last = bucket_counts(answers[0], first_end, step, count)
        by_route = route_counts(answers[0], first_end, step, count)
        if len(answers) > 1:
            requests, bad_requests, first_r, last_r = bucket_counts(
                answers[1], first_end, step, count
            )
            bad += bad_requests
            first = min((t for t in (first, first_r) if t is not None), default=None)
            last = max((t for t in (last, last_r) if t is not None), default=None)
        else:
            requests = errors
        buckets = []
        for i in range(count):
            errors_5xx = round(errors[i])
            # Two roundings must not make more errors than requests (a ratio over 1).
            buckets.append(
                ErrorBucket(
                    from_epoch(oldest + i * step),
                    max(round(requests[i]), errors_5xx),
                    errors_5xx,
                    by_route[i].most() if by_route is not None else (),
                )
            )
        return ErrorSeries(
            source=self.name,
            bucket_seconds=step,
            buckets=tuple(buckets),
            unparsed_lines=bad,
            # The newest point is evaluated at the end of a bucket still running: its data is
            # no newer than now.
            first_ts=from_epoch(min(first, now)) if first is not None else None,
            last_ts=from_epoch(min(last, now)) if last is not None else None,
            routes_known=by_route is not None,
        )
