"""Open Sentry issues, newest activity first, from the organization issues API.

GET {base_url}/api/0/organizations/{org}/issues/ paged by the Link header, up to a page cap, so
neither time nor memory depend on how many issues match. Servers that predate that endpoint (it
answers 404) are read per project at /api/0/projects/{org}/{project}/issues/ instead.

When Sentry says "too many requests", the source does not ask again before the time it named:
meanwhile each poll returns the last good issues marked with `rate_limited_until`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cockpit.config.sentry import TREND_PERIODS, SentryConfig
from cockpit.model import Category, SentryIssue, SentryIssues
from cockpit.sentry.api import NotFound, Params, RateLimited, SentryApiError, SentryClient
from cockpit.sentry.latest import LatestEvents
from cockpit.sentry.rank import is_rising, rank_issues, recent_events
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line
from cockpit.timeutil import parse_iso, utcnow

# Finish (or fail with a reason) before the hub's own timeout cancels the poll.
_ROUND_SHARE = 0.9
_MAX_TREND = 400  # buckets kept from an issue's stats (24 hourly or 14 daily in practice)


# -- parsing --------------------------------------------------------------------------------------


def parse_issue(item: Any, trend_period: str = "24h") -> SentryIssue | None:
    """One element of the issues list -> SentryIssue; None if it is not an issue at all."""
    if not isinstance(item, dict):
        return None
    issue_id = item.get("id")
    if not isinstance(issue_id, str | int) or isinstance(issue_id, bool) or issue_id == "":
        return None
    project = item.get("project")
    start, step = trend_times(item.get("stats"), trend_period)
    return SentryIssue(
        id=one_line(str(issue_id), 40),
        short_id=_text(item.get("shortId"), 60),
        title=_text(item.get("title"), 300),
        level=_text(item.get("level"), 20),
        count=_count(item.get("count")),  # a string in Sentry's schema ("150")
        user_count=_count(item.get("userCount")),
        first_seen=_when(item.get("firstSeen")),
        last_seen=_when(item.get("lastSeen")),
        permalink=_text(item.get("permalink"), 300),
        culprit=_text(item.get("culprit"), 200),
        trend=parse_trend(item.get("stats"), trend_period),
        project=_text(project.get("slug"), 80) if isinstance(project, dict) else "",
        trend_from=start,
        trend_seconds=step,
        metadata=_metadata(item.get("metadata")),
    )


def trend_times(stats: Any, period: str = "24h") -> tuple[datetime | None, int]:
    """(start of the first bucket kept, seconds per bucket) of `stats`, (None, 0) if unknown."""
    series = _trend_series(stats, period)[-_MAX_TREND:]
    stamps = [
        p[0]
        for p in series
        if isinstance(p, list | tuple) and len(p) == 2 and isinstance(p[0], int | float)
    ]
    if len(stamps) < 2 or len(stamps) != len(series):
        return None, 0
    step = int(stamps[1] - stamps[0])
    if step <= 0:
        return None, 0
    try:
        return datetime.fromtimestamp(stamps[0], UTC), step
    except (OverflowError, OSError, ValueError):
        return None, 0


def _metadata(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts = [value.get(k) for k in ("type", "value", "filename", "function", "title")]
    return one_line(" ".join(p for p in parts if isinstance(p, str) and p), 300)


def _trend_series(stats: Any, period: str) -> list[Any]:
    if not isinstance(stats, dict):
        return []
    series = stats.get(period)
    if not isinstance(series, list):
        series = next((stats[p] for p in TREND_PERIODS if isinstance(stats.get(p), list)), [])
    return series


def parse_trend(stats: Any, period: str = "24h") -> tuple[int, ...]:
    """Events per bucket, oldest first, from `stats` = {"24h": [[epoch, count], ...]}."""
    out = []
    for point in _trend_series(stats, period)[-_MAX_TREND:]:
        if isinstance(point, list | tuple) and len(point) == 2:
            out.append(_count(point[1]))
    return tuple(out)


def _text(value: Any, limit: int) -> str:
    return one_line(value, limit) if isinstance(value, str) else ""


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):
        return max(0, int(value)) if value == value and abs(value) < 1e18 else 0
    if isinstance(value, str):
        try:
            return max(0, int(value.strip()))
        except ValueError:
            return 0
    return 0


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# -- "new and rising first" -----------------------------------------------------------------------


# -- the source -----------------------------------------------------------------------------------


@dataclass
class _Walk:
    """What one poll has read so far, bounded by limit x max_pages."""

    keep: int
    max_pages: int
    trend_period: str
    issues: list[SentryIssue] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    pages: int = 0
    hits: int | None = 0  # None once a list did not say
    rate_limited_until: datetime | None = None
    stopped: bool = False  # out of pages, time or requests

    def add(self, items: list[Any], hits: int | None, first: bool) -> None:
        self.pages += 1
        if first:
            self.hits = None if hits is None or self.hits is None else self.hits + hits
        for issue in (parse_issue(item, self.trend_period) for item in items):
            if issue is not None and issue.id not in self.seen:  # a moving cursor can repeat
                self.seen.add(issue.id)
                self.issues.append(issue)
        if self.pages >= self.max_pages:
            self.stopped = True


class SentryIssuesSource:
    kind = "sentry"
    category = Category.SENTRY

    def __init__(self, cfg: SentryConfig, *, clock: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.client = SentryClient.from_config(cfg, clock=clock)
        # What each active issue's latest event names (request URL, transaction, tags).
        self.latest = LatestEvents(self.client, clock)
        self._per_project = False  # the server has no organization issues endpoint
        self._last: SentryIssues | None = None

    @property
    def target(self) -> str:
        client = self.client
        if self._per_project and self.cfg.project:
            return client.shown(client.project_issues_url(self.cfg.project[0]))
        return client.shown(client.org_issues_url)

    @property
    def blocked_until(self) -> datetime | None:
        """While rate limited, when asking again is allowed; None otherwise."""
        return self.client.blocked_until

    async def poll(self) -> SentryIssues:
        deadline = asyncio.get_running_loop().time() + self.cfg.timeout * _ROUND_SHARE
        try:
            reading = await self._walk(deadline)
        except RateLimited as exc:
            if self._last is None:
                raise  # nothing to show yet: the panel says "rate limited until ..."
            # Keep showing what was last read, saying until when it cannot be refreshed.
            return replace(self._last, rate_limited=True, rate_limited_until=exc.until)
        issues = await self.latest.attach(reading.issues, deadline)
        reading = replace(reading, issues=tuple(issues))
        self._last = reading
        return reading

    async def _walk(self, deadline: float) -> SentryIssues:
        cfg = self.cfg
        walk = _Walk(cfg.limit, cfg.max_pages, cfg.trend_period)
        client = self.client
        if not self._per_project:
            params = await self._bounded(deadline, walk, self._org_params())
            try:
                if params is not None:
                    await self._follow(client.org_issues_url, params, walk, deadline)
            except NotFound:
                if walk.pages:
                    raise  # the endpoint exists: a cursor went wrong, not the server's age
                if not cfg.project:
                    raise SourceError(await self._org_endpoint_missing()) from None
                self._per_project = True  # an older server: ask per project from now on
        if self._per_project:
            for project in cfg.project:
                if walk.stopped:
                    break
                url = client.project_issues_url(project)
                try:
                    await self._follow(url, self._project_params(), walk, deadline)
                except NotFound:
                    raise SourceError(await client.explain_not_found(project)) from None
        return SentryIssues(
            source=self.name,
            issues=tuple(walk.issues),
            pages=walk.pages,
            rate_limited=walk.rate_limited_until is not None,
            rate_limited_until=walk.rate_limited_until,
            matched=walk.hits if walk.hits is not None else len(walk.issues),
        )

    async def _org_params(self) -> Params:
        cfg = self.cfg
        params: Params = [("project", p) for p in await self.client.project_ids(cfg.project)]
        if cfg.environment:
            params.append(("environment", cfg.environment))
        params += [
            ("query", cfg.query),
            ("statsPeriod", cfg.stats_period),
            ("groupStatsPeriod", cfg.trend_period),
            ("sort", cfg.sort),
            ("limit", str(cfg.limit)),
        ]
        return params

    def _project_params(self) -> Params:
        cfg = self.cfg
        # On this endpoint statsPeriod only chooses the stats buckets ("24h" or "14d").
        params: Params = [("query", cfg.query), ("statsPeriod", cfg.trend_period)]
        if cfg.environment:
            params.append(("environment", cfg.environment))
        return [*params, ("sort", cfg.sort), ("limit", str(cfg.limit))]

    async def _follow(self, url: str, params: Params, walk: _Walk, deadline: float) -> None:
        """Read one list page by page until it ends or the walk must stop."""
        cursor: str | None = None
        first = True
        while not walk.stopped:
            page = await self._bounded(
                deadline, walk, self.client.page(url, params, cursor, keep=walk.keep)
            )
            if page is None:
                return
            walk.add(page.items, page.hits, first)
            first = False
            cursor = page.next_cursor
            if cursor is None:
                return

    async def _bounded(self, deadline: float, walk: _Walk, request: Any) -> Any:
        """Await one request within the round's deadline. Out of time or requests after some
        pages were read, the walk stops with what it has; before any, the poll fails."""
        try:
            async with asyncio.timeout_at(deadline):
                return await request
        except TimeoutError:
            if walk.pages == 0:
                raise SourceError(self.client.no_answer()) from None
        except RateLimited as exc:
            if walk.pages == 0:
                raise
            walk.rate_limited_until = exc.until
        walk.stopped = True
        return None

    async def _org_endpoint_missing(self) -> str:
        explained = await self.client.explain_not_found(None)
        if "no such endpoint" in explained:
            return (
                f"404: {self.client.host} has no organization issues endpoint; "
                "list the projects in [[sentry]] project to read them one by one"
            )
        return explained

    async def aclose(self) -> None:
        await self.client.aclose()


__all__ = [
    "SentryApiError",
    "SentryIssuesSource",
    "is_rising",
    "parse_issue",
    "parse_trend",
    "rank_issues",
    "recent_events",
]
