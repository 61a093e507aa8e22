"""Declaring an incident: the request a form fills in, its checks, and the store call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cockpit.host.whoami import current_user
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import SEVERITIES, Incident
from cockpit.term.textsafe import blank, one_line
from cockpit.timeutil import utcnow

MAX_TITLE = 200
MAX_SUMMARY = 1000  # a few sentences; the story goes in notes and the postmortem
DEFAULT_SEVERITY = "SEV2"
# Clocks on a bastion and on the engineer's watch disagree a little; do not nag about that.
FUTURE_SLACK = timedelta(minutes=5)


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A time a person types: ISO-8601 with Z or an offset, or a local clock time ("06:50",
    "06:50:30") meaning the latest such moment not in the future. A date and time without a
    zone is refused: on a bastion in UTC and a laptop in PDT it means two different moments.
    """
    text = text.strip()
    now = now or utcnow()
    clock = _CLOCK.match(text)
    if clock:
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{text!r} is not a time of day")
        local_now = now.astimezone()
        when = local_now.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if when > local_now + FUTURE_SLACK:
            when -= timedelta(days=1)
        return when.astimezone(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO-8601 such as 2024-08-02T13:50:00Z, or 06:50 (local)"
        ) from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z for UTC or an offset such as -07:00")
    return when.astimezone(UTC)


class DeclareError(ValueError):
    """The request has problems; `problems` lists them, one sentence each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class DeclareRequest:
    title: str
    severity: str = DEFAULT_SEVERITY
    commander: str = field(default_factory=current_user)
    summary: str = ""
    impact_started_at: datetime | None = None

    def validate(self, now: datetime | None = None) -> list[str]:
        """Problems a person can fix in the form; empty when the request can be declared."""
        problems: list[str] = []
        title = one_line(self.title, limit=10_000)
        if blank(title):
            problems.append("title is empty: say what is broken, e.g. 'SFTP logins fail'")
        elif len(title) > MAX_TITLE:
            problems.append(f"title is {len(title)} characters; keep it under {MAX_TITLE}")
        if self.severity not in SEVERITIES:
            problems.append(f"severity must be one of {', '.join(SEVERITIES)}")
        if blank(self.commander):
            problems.append("commander is empty: who leads the response?")
        if len(self.summary.strip()) > MAX_SUMMARY:
            problems.append(
                f"summary is {len(self.summary.strip())} characters; keep it under {MAX_SUMMARY} "
                "and add the rest as notes"
            )
        if self.impact_started_at is not None:
            if self.impact_started_at.tzinfo is None:
                problems.append("impact start has no time zone")
            elif self.impact_started_at > (now or utcnow()) + FUTURE_SLACK:
                problems.append("impact start is in the future")
        return problems


def declare(
    store: IncidentStore, request: DeclareRequest, *, drill: bool, at: datetime | None = None
) -> Incident:
    """Open the incident; raises DeclareError for a bad request and
    IncidentAlreadyOpen when another incident is still open."""
    problems = request.validate(now=at)
    if problems:
        raise DeclareError(problems)
    return store.declare(
        one_line(request.title, limit=MAX_TITLE),
        request.severity,
        one_line(request.commander, limit=100),
        summary=request.summary.strip(),
        impact_started_at=request.impact_started_at,
        drill=drill,
        at=at,
    )
