"""Which change the cockpit blamed and which one the responder reverted, against the change that
really caused the drill's incident (the scenario's [cause]).

    ref = suspect_refs(view.assessment)[0]       # what the cockpit names first, now
    scenario.cause.matches(**ref.key())          # was it the real cause?
    plan_ref(plan)                               # what a revert plan reverts

A change is told by what its source says of it (kind, subject, host, source, paths), the same
fields a scenario's [cause] names, so a drill judges the cockpit by what it showed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.detect.detector import Assessment
from cockpit.drill.scenario import Cause
from cockpit.model import Deploy
from cockpit.term.textsafe import one_line
from cockpit.timeutil import parse_iso


@dataclass(frozen=True)
class ChangeRef:
    kind: str
    subject: str
    host: str
    source: str
    what: str  # one line, for the report
    at: datetime | None = None  # when the change was made (real UTC)
    paths: tuple[str, ...] = ()

    def key(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "host": self.host,
            "source": self.source,
            "paths": self.paths,
        }

    def is_cause(self, cause: Cause | None, since: datetime) -> bool:
        """Whether this is the scenario's cause: it matches and was made during the drill (the
        history the world starts with caused nothing)."""
        # Change logs keep whole seconds (git's dates, dpkg.log), so a change made in the
        # drill's first second can read as made before it started.
        if cause is None or (self.at is not None and self.at < since.replace(microsecond=0)):
            return False
        return cause.matches(**self.key())

    def describe(self) -> str:
        where = f" on {self.host}" if self.host else ""
        source = f" ({self.source})" if self.source else ""
        return one_line(f"{self.kind} {self.what}{where}{source}", 200)


def deploy_ref(deploy: Deploy) -> ChangeRef:
    return ChangeRef(
        kind="deploy",
        subject=str(deploy.version),
        host="",
        source=str(deploy.source),
        what=f"{deploy.service} {deploy.version}",
        at=deploy.at,
    )


def change_ref(change: Any) -> ChangeRef:
    """A model Change (or anything shaped like one) as the drill compares it."""
    deploy = getattr(change, "deploy", None)
    if getattr(change, "kind", "") == "deploy" and isinstance(deploy, Deploy):
        return deploy_ref(deploy)
    return ChangeRef(
        kind=str(getattr(change, "kind", "")),
        subject=str(getattr(change, "subject", "")),
        host=str(getattr(change, "host", "")),
        source=str(getattr(change, "source", "")),
        what=one_line(str(getattr(change, "what", "")), 160),
        at=getattr(change, "at", None),
        paths=tuple(str(p) for p in getattr(change, "paths", ()) or ()),
    )


def suspect_refs(assessment: Assessment) -> list[ChangeRef]:
    """The changes the cockpit suspects, best first."""
    return [change_ref(s.change) for s in assessment.suspects]


def plan_ref(plan: Any) -> ChangeRef | None:
    """What a revert plan reverts: the change it names, or the deploy a service revert
    undoes."""
    change = getattr(plan, "change", None)
    if change is not None:
        return change_ref(change)
    kind, source = getattr(plan, "kind", None), getattr(plan, "source", None)
    if isinstance(kind, str) and isinstance(source, str):
        at = getattr(plan, "at", None)
        with contextlib.suppress(ValueError, TypeError):
            at = parse_iso(at) if isinstance(at, str) else at
        return ChangeRef(
            kind=kind,
            subject=str(getattr(plan, "subject", "")),
            host=str(getattr(plan, "host", "")),
            source=source,
            what=one_line(str(getattr(plan, "what", "")), 160),
            at=at if isinstance(at, datetime) else None,
        )
    version = getattr(plan, "from_version", None)
    service = getattr(plan, "service", None)
    if isinstance(version, str) and isinstance(service, str):
        return ChangeRef(
            kind="deploy",
            subject=version,
            host="",
            source="",
            what=f"{service} {version} -> {getattr(plan, 'to_version', '?')}",
        )
    return None
