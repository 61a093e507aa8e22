"""One change in full, for the detail screen Enter opens in the Changes panel: what it is,
where and when, who made it, what it touched, why it is suspected, and how it would be
reverted (or why it cannot be). Outside text stays Inert; the screen shows the rows as they
are."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.detect.detector import Assessment
from cockpit.model import Change
from cockpit.term.textsafe import Inert, identity
from cockpit.timeutil import iso_utc, local_clock


@dataclass(frozen=True, slots=True)
class ChangeDetail:
    title: Inert
    rows: tuple[tuple[str, Inert], ...]  # (label, value); a value may hold line breaks


def find_change(assessment: Assessment, key: str) -> Change | None:
    from cockpit.sources.changes.merge import change_key

    return next((c for c in assessment.changes if change_key(c) == key), None)


def change_detail(assessment: Assessment, change: Change, revert: str) -> ChangeDetail:
    """`revert`: the command the revert would run, or why there is none (the runtime's)."""
    c = change
    rank = next((n for n, s in enumerate(assessment.suspects, 1) if s.change == c), 0)
    suspect = assessment.suspects[rank - 1] if rank else None
    rows: list[tuple[str, Inert]] = [
        ("kind", Inert(c.kind)),
        ("host", identity(c.host) if c.host else Inert("(not tied to a host)")),
        ("service", identity(c.service) if c.service else Inert("(host-wide)")),
        ("what", Inert(c.what)),
        ("when", Inert(f"{local_clock(c.at)} ({iso_utc(c.at)})")),
        ("by", Inert(c.by) if c.by else Inert("(unknown)")),
        ("source", identity(c.source)),
    ]
    if c.subject:
        rows.append(("subject", identity(c.subject)))
    if c.old or c.new:
        rows.append(("version", Inert(f"{c.old or '(none)'} -> {c.new or '(removed)'}")))
    if c.id and c.id != c.subject:
        rows.append(("id", identity(c.id)))
    if c.paths:
        rows.append(("paths", Inert("\n".join(str(p) for p in c.paths))))
    if c.deploy is not None and c.deploy.summary:
        rows.append(("summary", Inert(c.deploy.summary)))
    if c.detail:
        rows.append(("detail", Inert(c.detail)))
    if suspect is not None:
        rows.append((f"SUSPECT {rank}", Inert("\n".join(suspect.why))))
    elif assessment.degraded:
        rows.append(("suspected", Inert("no")))
    rows.append(("revert", Inert(revert)))
    return ChangeDetail(Inert(f"{c.kind} {c.subject or c.what}"), tuple(rows))
