"""[[sentry]]: Sentry issue sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args

from cockpit.config.base import Secret
from cockpit.config.schema import Count, Name, Rule, Seconds, Text, Url, between

# The sort orders the organization issues endpoint accepts.
SentrySort = Literal["date", "freq", "inbox", "new", "trends", "user"]
SENTRY_SORTS: tuple[str, ...] = get_args(SentrySort)
# Bucket sizes of an issue's `stats`: hourly over a day, or daily over two weeks.
TrendPeriod = Literal["24h", "14d"]
TREND_PERIODS: tuple[str, ...] = get_args(TrendPeriod)
MAX_LIMIT = 100  # Sentry refuses larger pages
Period = Annotated[
    str, Rule(pattern=r"\d+[smhdw]", expected="a number and a unit, e.g. 24h, 14d, 90m")
]
Project = Annotated[str, Rule(pattern=r"[^/\s]+", expected="a project id or slug")]


@dataclass(frozen=True)
class SentryConfig:
    kind: ClassVar[str] = "sentry"
    source: ClassVar[str] = "cockpit.sentry.source:SentryIssuesSource"
    name: Name
    base_url: Url  # https://sentry.io, https://us.sentry.io, https://de.sentry.io or self-hosted
    org: Text  # the organization slug
    token: Secret
    # Project ids or slugs; slugs are turned into the ids the organization endpoint wants.
    project: tuple[Project, ...] = ()
    environment: Text | None = None
    query: str = "is:unresolved"
    stats_period: Period = "24h"  # which issues: those seen within this period
    trend_period: TrendPeriod = "24h"  # how each issue's trend is bucketed
    sort: SentrySort = "date"
    limit: Annotated[int, between(1, MAX_LIMIT)] = 25
    max_pages: Count = 5
    interval: Seconds = 30.0
    timeout: Seconds = 10.0


SENTRY_KINDS: dict[str, type] = {"sentry": SentryConfig}
DEFAULT_SENTRY_KIND = "sentry"
