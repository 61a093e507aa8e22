"""The deploys panel's rows, newest first, the suspect marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.model import Category, Deploy
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
class DeploysView:
    sources: tuple[SourceLine, ...] = ()
    rows: tuple[DeployRow, ...] = ()
    alerting: bool = False  # the suspect of a failure under way
    now: datetime | None = None  # rows not of this day show their date


def deploys_view(snapshot: Snapshot, assessment: Assessment) -> DeploysView:
    suspect = assessment.suspect
    return DeploysView(
        source_lines(snapshot, Category.DEPLOYS),
        tuple(DeployRow(d, d == suspect) for d in assessment.deploys[:DEPLOY_ROWS]),
        alerting=suspect is not None and assessment.degraded,
        # To the minute: a clock that moved with every snapshot would make each view new.
        now=snapshot.at.replace(second=0, microsecond=0),
    )
