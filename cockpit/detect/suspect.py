"""Which change is suspected of causing the failure, and the failure's start as the data and
that change date it; the deploy and change events of the timeline.

`pick_suspect` names the deploy (the one `R` reverts by default); `rank_changes` ranks every
change, deploys included, by time and relation to what fails (`change_suspects`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from cockpit.detect.change_suspects import FailureClues, Suspect, rank_candidates
from cockpit.model import Alert, Change, Deploy, SentryIssue, TimelineEvent
from cockpit.term.textsafe import identity
from cockpit.timeutil import iso_utc, local_hms

# Changes older than this are listed, but not written to the timeline: a host's package log
# holds years of history, of which only the last hours belong to an incident's story.
CHANGE_EVENTS_WITHIN = timedelta(hours=6)


def deploy_events(deploys: Iterable[Deploy], out: list[TimelineEvent]) -> None:
    out.extend(_deploy_event(d) for d in deploys)


# Every refresh lists every deploy (50 sources keep a thousand); each event is made once.
@lru_cache(maxsize=8192)
def _deploy_event(d: Deploy) -> TimelineEvent:
    version = identity(d.version)
    what = f"rollback of {identity(d.reverts)} to {version}" if d.reverts else f"deploy {version}"
    return TimelineEvent(
        d.at,
        "deploy",
        f"{d.service}: {what} by {d.who}: {d.summary}",
        d.source,
        f"deploy:{d.service}:{d.version}:{iso_utc(d.at)}",
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


def change_events(
    changes: Iterable[Change],
    now: datetime,
    out: list[TimelineEvent],
    seen: set[tuple[str, str, str, str, datetime]],
) -> None:
    """A "change" event for each recent change that is not a deploy (those have theirs),
    made once: `seen` keeps the keys already made, so a refresh of an unchanged history of
    hundreds of package changes builds nothing."""
    since = now - CHANGE_EVENTS_WITHIN
    for c in changes:
        if c.deploy is not None or c.at < since:
            continue
        identity_of = (c.source, c.kind, c.host, c.subject, c.at)
        if identity_of in seen:
            continue
        seen.add(identity_of)
        key = f"change:{c.source}:{c.kind}:{c.host}:{c.subject}:{iso_utc(c.at)}"
        where = f" on {identity(c.host)}" if c.host else ""
        by = f" by {c.by}" if c.by else ""
        out.append(TimelineEvent(c.at, "change", f"{c.kind}{where}: {c.what}{by}", c.source, key))


def failure_clues(
    start: datetime,
    bound: datetime,
    probes: Sequence[tuple[str, str, bool, str]],
    issues: Iterable[SentryIssue],
    alerts: Iterable[Alert],
    service: str,
) -> FailureClues:
    """What fails, in the terms a change can be related by: the failing service, the probes
    (name, target, failing, error) failing and passing, and the texts of the errors."""
    failing = tuple((name, target) for name, target, down, _ in probes if down)
    passing = tuple((name, target) for name, target, down, _ in probes if not down)
    texts: list[str] = [error for _, _, down, error in probes if down and error]
    for issue in issues:
        if issue.last_seen is None or issue.last_seen >= start:
            texts += [str(issue.title), str(issue.culprit), str(issue.metadata)]
    services = {service} if service else set()
    for alert in alerts:
        texts += [alert.alertname, str(alert.annotation("summary"))]
        texts.append(str(alert.annotation("description")))
        if alert.label("service"):
            services.add(alert.label("service"))
    return FailureClues(
        start=start,
        bound=bound,
        services=frozenset(services),
        failing=failing,
        passing=passing,
        texts=tuple(t for t in texts if t),
    )


def rank_changes(
    changes: Iterable[Change], clues: FailureClues, window: timedelta
) -> tuple[Suspect, ...]:
    """Every candidate, best first (the detector lists the first MAX_SUSPECTS)."""
    return rank_candidates(changes, clues, window)


def change_suspect_event(top: Suspect, at: datetime, span: str) -> TimelineEvent:
    c = top.change
    where = f" on {identity(c.host)}" if c.host else ""
    return TimelineEvent(
        at,
        "suspect",
        f"suspect {c.kind} {identity(c.subject or c.what)}{where}: {c.what}, "
        f"{local_hms(c.at)}; first failure {span}; why: {top.reasons}",
        "detect",
        f"suspect:change:{c.source}:{c.kind}:{c.host}:{c.subject}:{iso_utc(c.at)}",
    )
