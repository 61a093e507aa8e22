"""Which change is suspected of causing the failure, and the failure's start as the data and
that change date it; the deploy events of the timeline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cockpit.model import Deploy, TimelineEvent
from cockpit.term.textsafe import identity
from cockpit.timeutil import iso_utc, local_hms


def deploy_events(deploys: Iterable[Deploy], out: list[TimelineEvent]) -> None:
    for d in deploys:
        version = identity(d.version)
        what = (
            f"rollback of {identity(d.reverts)} to {version}" if d.reverts else f"deploy {version}"
        )
        out.append(
            TimelineEvent(
                d.at,
                "deploy",
                f"{d.service}: {what} by {d.who}: {d.summary}",
                d.source,
                f"deploy:{d.service}:{d.version}:{iso_utc(d.at)}",
            )
        )


def pick_suspect(
    deploys: Iterable[Deploy], start: datetime, bound: datetime, minutes: float
) -> Deploy | None:
    """The last change (deploys newest first) before the failure began at `start`, or inside
    the bucket that showed it (up to `bound`), at most `minutes` before it. A deploy long
    before is listed, not blamed: the fault may lie elsewhere, and one made during the failure
    did not cause it."""
    since = start - timedelta(minutes=minutes)
    return next((d for d in deploys if since <= d.at <= bound and not d.reverts), None)


def impact_start(
    start: datetime | None, bound: datetime | None, suspect: Deploy | None
) -> datetime | None:
    """When the failure began, as far as the data tell: the start of the bucket that showed it
    (`start`, ending at `bound`), but never before the suspect change inside that bucket (it
    came first)."""
    if (
        start is not None
        and bound is not None
        and suspect is not None
        and start < suspect.at <= bound
    ):
        return suspect.at
    return start


def failure_span(start: datetime | None, bound: datetime | None, known: bool) -> str:
    """The failure's start in words: a time, "between A and B", or "before A" when the data
    begin inside the failure (`known` False)."""
    if start is None or bound is None:
        return ""
    if not known:
        return f"before {local_hms(start)}"
    if bound > start:
        return f"between {local_hms(start)} and {local_hms(bound)}"
    return local_hms(start)


def suspect_event(suspect: Deploy, at: datetime, span: str, found_on_open: bool) -> TimelineEvent:
    return TimelineEvent(
        at,
        "suspect",
        f"suspect deploy {identity(suspect.service)} {identity(suspect.version)} "
        f"by {suspect.who}: "
        f"deployed {local_hms(suspect.at)}, first failure {span}"
        + (" (found on open)" if found_on_open else ""),
        "detect",
        f"suspect:{suspect.service}:{suspect.version}:{iso_utc(suspect.at)}",
    )
