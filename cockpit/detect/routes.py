"""The 5xx of a series by route and status, summed over its buckets: what the 5xx panel lists
and `cockpit check --json` reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cockpit.model import ErrorBucket, ErrorSeries, Route, RouteErrors


@dataclass(frozen=True, slots=True)
class RouteShare:
    route: Route
    count: int  # 5xx over the span judged
    share: float  # of all 5xx over that span
    statuses: tuple[int, ...] = ()  # which 5xx, most first


def route_totals(series: ErrorSeries, since: datetime | None = None) -> list[RouteErrors]:
    """Per (route, status), most first (ties by path), over buckets starting at or after
    `since` (all when None)."""
    return sum_routes(b for b in series.buckets if since is None or b.start >= since)


def sum_routes(buckets: Iterable[ErrorBucket]) -> list[RouteErrors]:
    counts: dict[tuple[object, int], RouteErrors] = {}
    for bucket in buckets:
        for r in bucket.routes_5xx:
            key = (r.route, r.status)
            had = counts.get(key)
            counts[key] = RouteErrors(r.route, r.status, r.count + (had.count if had else 0))
    return sorted(counts.values(), key=lambda r: (-r.count, str(r.route.path), r.status))


def route_shares(series: ErrorSeries, since: datetime | None = None) -> list[RouteShare]:
    """Each route's 5xx (all statuses) since `since`, most first, with its share of the 5xx
    over the same buckets."""
    buckets = [b for b in series.buckets if since is None or b.start >= since]
    total = sum(b.errors_5xx for b in buckets)
    per: dict[Route, list[RouteErrors]] = {}
    for r in sum_routes(buckets):
        per.setdefault(r.route, []).append(r)
    out = [
        RouteShare(
            route,
            n := sum(r.count for r in rows),
            n / total if total else 0.0,
            tuple(r.status for r in rows),
        )
        for route, rows in per.items()
    ]
    return sorted(out, key=lambda r: (-r.count, str(r.route.path)))


def route_text(route: Route) -> str:
    """`GET files.example/session` style: method, host and path as far as known."""
    where = f"{route.host}{route.path}" if route.path else str(route.host)
    return " ".join(p for p in (str(route.method), where) if p) or "(unknown route)"
