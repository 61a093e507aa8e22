"""The changes panel's rows: while degraded the suspects first, in their order, each with why;
then every other change (deploys included), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.model import Category, Change, Deploy
from cockpit.view.sources import SourceLine, source_lines

if TYPE_CHECKING:
    from cockpit.hub import Snapshot

# Rows kept: more than the tallest panel shows (two lines each).
DEPLOY_ROWS = 40


@dataclass(frozen=True, slots=True)
class DeployRow:
    deploy: Deploy
    suspect: bool = False


@dataclass(frozen=True, slots=True)
class ChangeRow:
    change: Change
    key: str  # what the panel selects by, and `R` finds the change by (`change_key`)
    rank: int = 0  # 1 = suspected first; 0 = not a suspect
    why: str = ""  # the suspect's reasons, in words


@dataclass(frozen=True, slots=True)
class DeploysView:
    sources: tuple[SourceLine, ...] = ()
    rows: tuple[DeployRow, ...] = ()
    alerting: bool = False  # the suspect of a failure under way
    now: datetime | None = None  # rows not of this day show their date
    changes: tuple[ChangeRow, ...] = ()  # suspects first, then the rest newest first
    suspects: int = 0
    more_suspects: int = 0  # candidates ranked below the listed suspects


def change_rows(assessment: Assessment) -> tuple[ChangeRow, ...]:
    from cockpit.sources.changes.merge import change_from_deploy, change_key

    a = assessment
    changes = a.changes or tuple(change_from_deploy(d) for d in a.deploys)
    ranked: dict[str, ChangeRow] = {}
    if a.degraded:
        for rank, suspect in enumerate(a.suspects, start=1):
            key = change_key(suspect.change)
            ranked.setdefault(key, ChangeRow(suspect.change, key, rank, suspect.reasons))
        if not ranked and a.suspect is not None:
            change = change_from_deploy(a.suspect)
            ranked[change_key(change)] = ChangeRow(change, change_key(change), 1)
    first = sorted(ranked.values(), key=lambda row: row.rank)
    # Only the rows shown: fifty deploy sources list a thousand changes.
    rest: list[ChangeRow] = []
    for change in changes:
        if len(first) + len(rest) >= DEPLOY_ROWS:
            break
        if (key := change_key(change)) not in ranked:
            rest.append(ChangeRow(change, key))
    return (*first, *rest)


def deploys_view(snapshot: Snapshot, assessment: Assessment) -> DeploysView:
    suspect = assessment.suspect
    rows = change_rows(assessment)
    suspects = sum(1 for r in rows if r.rank)
    return DeploysView(
        source_lines(snapshot, Category.DEPLOYS),
        tuple(DeployRow(d, d == suspect) for d in assessment.deploys[:DEPLOY_ROWS]),
        alerting=assessment.degraded and (suspect is not None or bool(assessment.suspects)),
        # To the minute: a clock that moved with every snapshot would make each view new.
        now=snapshot.at.replace(second=0, microsecond=0),
        changes=rows,
        suspects=suspects if assessment.suspects else 0,
        more_suspects=assessment.more_suspects if assessment.suspects else 0,
    )
