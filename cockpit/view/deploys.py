"""The changes panel's rows: while degraded the suspects first, in their order, each with why;
then every other change (deploys included), newest first. And how a row's words fit a narrow
panel: the why wrapped at its reasons, the version and the author sharing what is left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.model import Category, Change, Deploy
from cockpit.view.sources import SourceLine, source_lines
from cockpit.view.wrap import wrap_items

if TYPE_CHECKING:
    from cockpit.hub import Snapshot

# Rows kept: more than the tallest panel shows (two lines each).
DEPLOY_ROWS = 40
WHY_ROWS = 2  # the most rows a suspect's why takes
WHY = "  why: "
WHO_MIN = 6  # an author keeps this much of their name before the version gives way
VERSION_MIN = 6


@dataclass(frozen=True, slots=True)
class DeployRow:
    deploy: Deploy
    suspect: bool = False


@dataclass(frozen=True, slots=True)
class ChangeRow:
    change: Change
    key: str  # what the panel selects by, and `R` finds the change by (`change_key`)
    rank: int = 0  # 1 = suspected first; 0 = not a suspect
    why: tuple[str, ...] = ()  # the suspect's reasons, in words, in the order told


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
            ranked.setdefault(key, ChangeRow(suspect.change, key, rank, suspect.told))
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


def why_lines(
    reasons: tuple[str, ...], width: int, rows: int = WHY_ROWS, ellipsis: str = "…"
) -> tuple[str, ...]:
    """The why in at most `rows` lines of `width` cells: "  why: " and the reasons, each kept
    on one line where it fits, the next lines indented under the first reason; what does
    not fit ends the last line with "…"."""
    indent = " " * len(WHY)
    return wrap_items(reasons, width, rows, head=WHY, indent=indent, sep=";", ellipsis=ellipsis)


def fit_tail(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` in `width` cells, cut at its front: a version's end tells releases apart
    ("2026.12.04-2" -> "…12.04-2")."""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    tail = text[len(text) - (width - len(ellipsis)) :]
    return ellipsis + (tail.lstrip(".-_") or tail)


def fit_head(text: str, width: int, ellipsis: str = "…") -> str:
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)] + ellipsis


def version_and_who(version: str, who: str, room: int, ellipsis: str = "…") -> tuple[str, str]:
    """A deploy's version and author in `room` cells with a space between: both whole when
    they fit; else the author keeps up to WHO_MIN cells and the version gives way from its
    front, down to VERSION_MIN; an author left with less than three cells is left out (a
    name cut to one letter says nothing)."""
    if not who:
        return fit_tail(version, room, ellipsis), ""
    if len(version) + 1 + len(who) <= room:
        return version, who
    who_w = max(min(len(who), WHO_MIN), room - 1 - len(version))
    version_w = room - 1 - who_w
    if version_w < VERSION_MIN:
        version_w = min(len(version), VERSION_MIN)
        who_w = room - 1 - version_w
    if who_w < 3:
        return fit_tail(version, room, ellipsis), ""
    return fit_tail(version, version_w, ellipsis), fit_head(who, who_w, ellipsis)
