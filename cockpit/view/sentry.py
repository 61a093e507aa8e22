"""The Sentry panel's rows: the blind spot, then the issues ranked (new since the suspect,
rising, busiest), as many as any screen shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.detect.routes import route_text
from cockpit.model import Category, Freshness, SentryIssue, SentryIssues
from cockpit.sentry.rank import is_rising, rank_issues
from cockpit.view.sources import SourceLine, source_lines
from cockpit.view.wrap import wrap_items

if TYPE_CHECKING:
    from cockpit.hub import Snapshot

# Issues kept for the panel: more rows than the tallest terminal has. Ten thousand issues are
# ranked once per refresh, not compared or drawn.
SENTRY_ROWS = 80
NO_ISSUE = "  no issue: "
BLIND_ROWS = 2  # the most rows what fails with no issue takes
BY_TIMING = "5xx (by timing: no route information)"


@dataclass(frozen=True, slots=True)
class IssueRow:
    issue: SentryIssue
    new: bool = False  # first seen at or after the suspect deploy
    rising: bool = False


@dataclass(frozen=True, slots=True)
class BlindSpot:
    since: datetime | None
    since_known: bool
    what: tuple[str, ...]  # routes with their share of the 5xx, then probes


@dataclass(frozen=True, slots=True)
class SentryView:
    sources: tuple[SourceLine, ...] = ()
    rows: tuple[IssueRow, ...] = ()
    total: int = 0
    blind_spot: BlindSpot | None = None
    read: bool = False  # some source answered at least once
    rate_limited_until: datetime | None = None

    @property
    def alerting(self) -> bool:
        return self.blind_spot is not None

    def issue(self, issue_id: str) -> SentryIssue | None:
        return next((r.issue for r in self.rows if r.issue.id == issue_id), None)


def sentry_view(snapshot: Snapshot, assessment: Assessment) -> SentryView:
    readings = [
        (status, r) for status, r in snapshot.of(Category.SENTRY) if isinstance(r, SentryIssues)
    ]
    suspect = assessment.suspect
    since = suspect.at if suspect else None
    issues = [i for _, r in readings for i in r.issues]
    ranked = rank_issues(issues, new_since=since)[:SENTRY_ROWS]
    rows = tuple(
        IssueRow(
            i,
            new=bool(since and i.first_seen and i.first_seen >= since),
            rising=is_rising(i.trend),
        )
        for i in ranked
    )
    blind = None
    if assessment.blind_spot:
        what = [
            f"{route_text(r.route).removeprefix('GET ')} {r.share:.0%}"
            for r in assessment.blind_routes
        ] + list(assessment.blind_probes)
        blind = BlindSpot(assessment.first_failure_at, assessment.first_failure_known, tuple(what))
    limited = [r.rate_limited_until for _, r in readings if r.rate_limited_until is not None]
    until = max(limited) if limited and max(limited) > snapshot.at else None
    read = any(
        s.freshness is Freshness.FRESH or s.updated_at is not None
        for s, _ in snapshot.of(Category.SENTRY)
    )
    return SentryView(
        source_lines(snapshot, Category.SENTRY), rows, len(issues), blind, read, until
    )


def blind_lines(blind: BlindSpot, width: int, rows: int, ellipsis: str = "…") -> tuple[str, ...]:
    """What fails with no issue naming it, in at most `rows` rows of `width` cells: whole
    items, a row breaking between them, and "+N" for the ones that do not fit."""
    what = blind.what or (BY_TIMING,)
    return wrap_items(
        what,
        width,
        rows,
        head=NO_ISSUE,
        indent="    ",
        sep=",",
        count_left_out=bool(blind.what),
        ellipsis=ellipsis,
    )
