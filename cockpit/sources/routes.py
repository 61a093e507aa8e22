"""Routes from what a log line or a metric label says: one request path per route, not per id.

`/files/8812/report.pdf?dl=1` and `/files/90/report.pdf` are one route, `/files/{id}/report.pdf`:
a segment that is a number, a UUID or a long hex string (a hash, an object id) is an id. The
query and the fragment say nothing about where the request went. Only 5xx lines get here, so
the cost does not matter for the common line; a cache keeps repeated paths cheap anyway.

`RouteCounts` holds one bucket's 5xx by (route, status), bounded: once it holds `MAX_ROUTES`
routes, further new ones count under `OTHER`, so a scan over random paths cannot grow memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from cockpit.model import Route, RouteErrors

MAX_ROUTES = 32  # distinct (route, status) pairs a bucket keeps before the rest is OTHER
SHOWN_ROUTES = 10  # pairs a bucket reports, most first; the rest summed into OTHER
OTHER = Route(path="(other routes)")
_MAX_PATH = 256

_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|(?=[a-fA-F]*\d)[0-9a-fA-F]{16,}"
)
_METHOD = re.compile(r"[A-Z][A-Z_-]{0,19}")


@lru_cache(maxsize=4096)
def normalise_path(path: str) -> str:
    """`/files/8812/x?dl=1#top` -> `/files/{id}/x`; an absolute URL (a proxy's request line)
    keeps only its path."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH]
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(s) else s for s in path.split("/"))


@lru_cache(maxsize=4096)
def from_request(request: str, host: str = "", upstream: str = "") -> Route:
    """A Route from a request line ("GET /files/12 HTTP/1.1"); a line that is not one (a
    scanner's junk, "-") keeps an empty method and the text as its path, cut short."""
    method, _, rest = request.partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.count(" ") else rest
    if not _METHOD.fullmatch(method) or not target:
        return Route("", request[:64], host, upstream)
    return Route(method, normalise_path(target), host, upstream)


def route(method: str = "", path: str = "", host: str = "", upstream: str = "") -> Route:
    return Route(method.upper()[:20], normalise_path(path) if path else "", host, upstream)


class RouteCounts:
    """One bucket's 5xx by route and status, bounded."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[Route, int], int] = {}

    def add(self, where: Route, status: int, count: int = 1) -> None:
        key = (where, status)
        counts = self.counts
        if key not in counts and len(counts) >= MAX_ROUTES:
            key = (OTHER, status)
        counts[key] = counts.get(key, 0) + count

    def most(self) -> tuple[RouteErrors, ...]:
        return top(self.counts.items())


def top(items: Iterable[tuple[tuple[Route, int], int]]) -> tuple[RouteErrors, ...]:
    """Most first; beyond SHOWN_ROUTES summed per status under OTHER."""
    ranked = sorted(items, key=lambda kv: (-kv[1], kv[0][1], kv[0][0].path))
    shown: list[RouteErrors] = []
    rest: dict[int, int] = {}
    for (where, status), n in ranked:
        if where != OTHER and len(shown) < SHOWN_ROUTES:
            shown.append(RouteErrors(where, status, n))
        else:
            rest[status] = rest.get(status, 0) + n
    shown += [RouteErrors(OTHER, s, n) for s, n in sorted(rest.items(), key=lambda kv: -kv[1])]
    return tuple(shown)
