"""[[sentry]]: Sentry issue sources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from cockpit.config.base import FieldError, Secret

# The sort orders the organization issues endpoint accepts.
SENTRY_SORTS = ("date", "freq", "inbox", "new", "trends", "user")
# Bucket sizes of an issue's `stats`: hourly over a day, or daily over two weeks.
TREND_PERIODS = ("24h", "14d")
MAX_LIMIT = 100  # Sentry refuses larger pages
_PERIOD = re.compile(r"^\d+[smhdw]$")


@dataclass(frozen=True)
class SentryConfig:
    kind: ClassVar[str] = "sentry"
    source: ClassVar[str] = "cockpit.sentry.source:SentryIssuesSource"
    name: str
    base_url: str  # https://sentry.io, https://us.sentry.io, https://de.sentry.io or self-hosted
    org: str
    token: Secret
    # Project ids or slugs; slugs are turned into the ids the organization endpoint wants.
    project: tuple[str, ...] = ()
    environment: str | None = None
    query: str = "is:unresolved"
    stats_period: str = "24h"  # which issues: those seen within this period
    trend_period: str = "24h"  # how each issue's trend is bucketed
    sort: str = "date"
    limit: int = 25
    max_pages: int = 5
    interval: float = 30.0
    timeout: float = 10.0

    def check(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", "expected an http:// or https:// URL")
        if not self.org.strip():
            raise FieldError("org", "the organization slug must not be empty")
        for index, project in enumerate(self.project):
            if not project.strip() or "/" in project:
                raise FieldError(("project", index), "a project id or slug")
        if not _PERIOD.match(self.stats_period):
            raise FieldError("stats_period", "a number and a unit, e.g. 24h, 14d, 90m")
        if self.trend_period not in TREND_PERIODS:
            raise FieldError("trend_period", f"one of: {', '.join(TREND_PERIODS)}")
        if self.sort not in SENTRY_SORTS:
            raise FieldError("sort", f"one of: {', '.join(SENTRY_SORTS)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise FieldError("limit", f"between 1 and {MAX_LIMIT}")
        if self.max_pages < 1:
            raise FieldError("max_pages", "must be at least 1")
        for name in ("interval", "timeout"):
            if getattr(self, name) <= 0:
                raise FieldError(name, "must be greater than 0")


SENTRY_KINDS: dict[str, type] = {"sentry": SentryConfig}
