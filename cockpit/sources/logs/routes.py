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

_HEX = "0123456789abcdefABCDEF"
_METHOD = re.compile(r"[A-Z][A-Z_-]{0,19}")
_INTERNED: dict[Route, Route] = {}
_MAX_INTERNED = 65_536


def _is_id(segment: str) -> bool:
    """A number, a UUID, or 16+ hex digits with at least one digit (a hash, an object id;
    not a long word that happens to be hex letters)."""
    if segment.isdigit():
        return True
    if len(segment) < 16:
        return False
    if len(segment) == 36 and segment.count("-") == 4:
        return not segment.replace("-", "").strip(_HEX)
    return not segment.strip(_HEX) and bool(segment.strip(_HEX[10:]))


def _interned(where: Route) -> Route:
    # One object per route: counting by it then hashes and compares by identity, not field
    # by field in Python.
    if len(_INTERNED) >= _MAX_INTERNED:
        _INTERNED.clear()
    return _INTERNED.setdefault(where, where)


@lru_cache(maxsize=4096)
def normalise_path(path: str) -> str:
    """`/files/8812/x?dl=1#top` -> `/files/{id}/x`; an absolute URL (a proxy's request line)
    keeps only its path."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    if len(path) > _MAX_PATH:
        path = path[:_MAX_PATH]
    return "/".join("{id}" if _is_id(s) else s for s in path.split("/"))


@lru_cache(maxsize=4096)
def from_request(request: str, host: str = "", upstream: str = "") -> Route:
    """A Route from a request line ("GET /files/12 HTTP/1.1"); a line that is not one (a
    scanner's junk, "-") keeps an empty method and the text as its path, cut short."""
    method, _, rest = request.partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.count(" ") else rest
    if not _METHOD.fullmatch(method) or not target:
        return _interned(Route("", request[:64], host, upstream))
    return _interned(Route(method, normalise_path(target), host, upstream))


def route(method: str = "", path: str = "", host: str = "", upstream: str = "") -> Route:
    where = Route(method.upper()[:20], normalise_path(path) if path else "", host, upstream)
    return _interned(where)


class _Count:
    __slots__ = ("n", "status", "where")

    def __init__(self, where: Route, status: int) -> None:
        self.where, self.status, self.n = where, status, 0


class RouteCounts:
    """One bucket's 5xx by route and status, bounded. Keyed by the interned Route's identity:
    the dataclass's own hash runs in Python, and this is counted once per 5xx line."""

    __slots__ = ("_counts", "_most")

    def __init__(self) -> None:
        self._counts: dict[tuple[int, int], _Count] = {}
        self._most: tuple[RouteErrors, ...] | None = None

    def add(self, where: Route, status: int, count: int = 1) -> None:
        counts = self._counts
        entry = counts.get((id(where), status))
        if entry is None:
            if len(counts) >= MAX_ROUTES:
                where = OTHER
                entry = counts.get((id(OTHER), status))
            if entry is None:
                entry = counts[(id(where), status)] = _Count(where, status)
        entry.n += count
        self._most = None

    @property
    def counts(self) -> dict[tuple[Route, int], int]:
        out: dict[tuple[Route, int], int] = {}
        for c in self._counts.values():
            out[(c.where, c.status)] = out.get((c.where, c.status), 0) + c.n
        return out

    def most(self) -> tuple[RouteErrors, ...]:
        if self._most is None:
            self._most = top(self.counts.items())
        return self._most


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
