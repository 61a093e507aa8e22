"""Which Sentry issues matter now: new since the suspect deploy, then rising, then busiest.

Kept apart from the client so the detector and the screen can rank without importing httpx.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cockpit.model import SentryIssue


def recent_events(trend: Sequence[int]) -> int:
    """Events in the latest twelfth of the window (the last 2 of 24 hours, the last of 14 days)."""
    return sum(trend[-max(1, len(trend) // 12) :]) if trend else 0


def is_rising(trend: Sequence[int], factor: float = 2.0, floor: int = 3) -> bool:
    """More events per bucket lately than before, by `factor`, and at least `floor` of them."""
    if len(trend) < 2:
        return False
    recent = max(1, len(trend) // 12)
    latest, earlier = trend[-recent:], trend[:-recent]
    latest_rate = sum(latest) / len(latest)
    earlier_rate = sum(earlier) / len(earlier)
    return sum(latest) >= floor and latest_rate >= factor * earlier_rate


def rank_issues(
    issues: Iterable[SentryIssue], *, new_since: datetime | None = None
) -> list[SentryIssue]:
    """New issues (first seen at or after `new_since`) first, then rising ones, then the rest;
    within each, the busiest lately first."""

    def key(issue: SentryIssue) -> tuple[int, int, int]:
        new = bool(new_since and issue.first_seen and issue.first_seen >= new_since)
        group = 0 if new else 1 if is_rising(issue.trend) else 2
        return (group, -recent_events(issue.trend), -issue.count)

    return sorted(issues, key=key)
