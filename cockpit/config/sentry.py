"""[[sentry]]: Sentry issue sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cockpit.config.base import FieldError, Secret


@dataclass(frozen=True)
class SentryConfig:
    kind: ClassVar[str] = "sentry"
    source: ClassVar[str] = "cockpit.sources.sentry_issues:SentryIssuesSource"
    name: str
    base_url: str
    org: str
    token: Secret
    project: tuple[str, ...] = ()
    environment: str | None = None
    query: str = "is:unresolved"
    stats_period: str = "24h"
    sort: str = "date"
    limit: int = 25
    max_pages: int = 5
    interval: float = 30.0
    timeout: float = 10.0

    def check(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", "expected an http:// or https:// URL")


SENTRY_KINDS: dict[str, type] = {"sentry": SentryConfig}
