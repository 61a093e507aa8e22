"""One list of changes from the deploy and change sources, newest first.

Deploys stay what they are (merged by `merge_deploys`) and each becomes a change of kind
"deploy". The same package change is often reported twice on one host (dpkg.log has the
versions, apt's history or unattended-upgrades' log says who asked): reports of one kind,
host and subject from different sources within a few minutes are one change, the first
report kept with its empty fields filled from the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta

from cockpit.model import Change, Changes, Deploy
from cockpit.term.textsafe import one_line

DEPLOY = "deploy"
SAME_CHANGE_WITHIN = timedelta(minutes=10)


def change_from_deploy(deploy: Deploy) -> Change:
    what = f"{deploy.service} {deploy.version}"
    if deploy.reverts:
        what += f" (rollback of {deploy.reverts})"
    return Change(
        kind=DEPLOY,
        host="",
        what=one_line(what, 300),
        at=deploy.at,
        by=deploy.who,
        source=deploy.source,
        service=deploy.service,
        subject=deploy.version,
        old=deploy.reverts or "",
        new=deploy.version,
        detail=deploy.summary,
        deploy=deploy,
    )


def merge_changes(
    deploys: Sequence[Deploy],
    readings: Iterable[Changes],
    within: timedelta = SAME_CHANGE_WITHIN,
) -> tuple[Change, ...]:
    """The merged deploys (as changes) and every change source's changes, newest first."""
    kept: list[Change] = [change_from_deploy(d) for d in deploys]
    origin: list[str] = [DEPLOY] * len(kept)
    by_key: dict[tuple[str, str, str], list[int]] = {}
    for reading in readings:
        for change in reading.changes:
            key = (str(change.kind), change.host, change.subject)
            twin = (
                next(
                    (
                        i
                        for i in by_key.get(key, ())
                        if origin[i] != reading.source and abs(kept[i].at - change.at) <= within
                    ),
                    None,
                )
                if change.subject
                else None
            )
            if twin is None:
                by_key.setdefault(key, []).append(len(kept))
                kept.append(change)
                origin.append(reading.source)
            else:
                kept[twin] = _fill(kept[twin], change)
    return tuple(sorted(kept, key=lambda c: c.at, reverse=True))


def _fill(first: Change, other: Change) -> Change:
    """The earlier-listed report, with what only the other one knew."""
    return replace(
        first,
        by=first.by or other.by,
        old=first.old or other.old,
        new=first.new or other.new,
        what=first.what if (first.old or first.new or not (other.old or other.new)) else other.what,
        detail=first.detail or other.detail,
        at=min(first.at, other.at),
    )


def change_key(change: Change) -> str:
    """A change's identity among the listed ones: the screen selects by it, `R` finds it."""
    return (
        "\x1f".join((str(change.source), str(change.kind), change.host, change.subject, change.id))
        + f"\x1f{change.at.timestamp():.6f}"
    )
