"""Grouping events into issues, as Sentry does, for the drill world's Sentry-compatible API.

Events group by (project, exception type, message, culprit); each issue keeps its count, the
distinct users it hit, first/last seen, hourly counts for `stats` and its latest event.
Memory is bounded: at most MAX_ISSUES issues, MAX_USERS users and 48 hourly buckets per issue.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cockpit.timeutil import from_epoch, parse_iso

MAX_ISSUES = 1000
MAX_USERS = 10_000
_HOURS_KEPT = 48
# Events stamped further ahead than this are clock-skewed; Sentry uses the receive time then.
_FUTURE_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class Project:
    id: str
    slug: str
    name: str
    platform: str = "python"


@dataclass(frozen=True)
class EventFacts:
    """What grouping and the issue list need from one event."""

    type: str  # "error" for exceptions, "default" for messages
    title: str
    culprit: str
    level: str
    metadata: dict[str, Any]
    logger: str | None
    unhandled: bool
    user: str | None
    environment: str
    release: str | None
    timestamp: datetime
    exception_type: str | None
    message: str


@dataclass(frozen=True)
class IssueView:
    """A consistent snapshot of an issue, safe to render outside the store's lock."""

    id: str
    short_id: str
    project: Project
    type: str
    title: str
    culprit: str
    level: str
    metadata: dict[str, Any]
    logger: str | None
    unhandled: bool
    count: int
    user_count: int
    first_seen: datetime
    last_seen: datetime
    hourly: tuple[tuple[int, int], ...]  # (epoch hour start, events), oldest first
    environments: frozenset[str]
    first_release: str | None
    last_release: str | None
    latest_event: dict[str, Any]
    latest_received: datetime


@dataclass
class _Issue:
    id: int
    short_id: str
    project: Project
    facts: EventFacts  # of the first event: title, culprit, type do not change
    first_seen: datetime
    last_seen: datetime
    latest_event: dict[str, Any]
    latest_received: datetime
    count: int = 0
    users: set[str] = field(default_factory=set)
    environments: set[str] = field(default_factory=set)
    hourly: dict[int, int] = field(default_factory=dict)
    first_release: str | None = None
    last_release: str | None = None
    level: str = "error"

    def view(self) -> IssueView:
        facts = self.facts
        return IssueView(
            id=str(self.id),
            short_id=self.short_id,
            project=self.project,
            type=facts.type,
            title=facts.title,
            culprit=facts.culprit,
            level=self.level,
            metadata=dict(facts.metadata),
            logger=facts.logger,
            unhandled=facts.unhandled,
            count=self.count,
            user_count=len(self.users),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            hourly=tuple(sorted(self.hourly.items())),
            environments=frozenset(self.environments),
            first_release=self.first_release,
            last_release=self.last_release,
            latest_event=self.latest_event,
            latest_received=self.latest_received,
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _event_time(event: dict[str, Any], received: datetime) -> datetime:
    raw = event.get("timestamp")
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            when = from_epoch(float(raw))
        elif isinstance(raw, str):
            when = parse_iso(raw)
        else:
            return received
    except (ValueError, OverflowError, OSError):
        return received
    return received if when > received + _FUTURE_SLACK else when


def exception_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def frames_of(value: dict[str, Any]) -> list[dict[str, Any]]:
    stacktrace = value.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _culprit_from_frames(frames: list[dict[str, Any]]) -> str:
    """`module in function` of the innermost in-app frame (frames run oldest call first)."""
    chosen = next((f for f in reversed(frames) if f.get("in_app")), frames[-1] if frames else None)
    if chosen is None:
        return ""
    where = _text(chosen.get("module")) or _text(chosen.get("filename"))
    function = _text(chosen.get("function")) or "?"
    return f"{where} in {function}" if where else function


def _message_of(event: dict[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        text = _text(logentry.get("formatted")) or _text(logentry.get("message"))
        if text:
            return text
    message = event.get("message")
    if isinstance(message, dict):
        return _text(message.get("formatted")) or _text(message.get("message"))
    return _text(message)


def _user_of(event: dict[str, Any]) -> str | None:
    user = event.get("user")
    if not isinstance(user, dict):
        return None
    for key in ("id", "email", "username", "ip_address"):
        value = user.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return f"{key}:{value}"
    return None


def facts_of(event: dict[str, Any], received: datetime) -> EventFacts:
    values = exception_values(event)
    level = _text(event.get("level")) or "error"
    logger = _text(event.get("logger")) or None
    transaction = _text(event.get("transaction"))
    user = _user_of(event)
    environment = _text(event.get("environment")) or "production"
    release = _text(event.get("release")) or None
    timestamp = _event_time(event, received)
    if values:
        outer = values[-1]  # chained exceptions run oldest first: the last one was raised
        exc_type = _text(outer.get("type")) or "Error"
        value = _text(outer.get("value"))
        frames = frames_of(outer)
        innermost = frames[-1] if frames else {}
        mechanism = outer.get("mechanism")
        unhandled = isinstance(mechanism, dict) and mechanism.get("handled") is False
        culprit = _text(event.get("culprit")) or transaction or _culprit_from_frames(frames)
        metadata: dict[str, Any] = {"type": exc_type, "value": value}
        if innermost:
            metadata["filename"] = _text(innermost.get("filename"))
            metadata["function"] = _text(innermost.get("function"))
        title = f"{exc_type}: {value}" if value else exc_type
        return EventFacts(
            type="error",
            title=title,
            culprit=culprit,
            level=level,
            metadata=metadata,
            unhandled=unhandled,
            exception_type=exc_type,
            message=value,
            logger=logger,
            user=user,
            environment=environment,
            release=release,
            timestamp=timestamp,
        )
    message = _message_of(event) or "<unlabeled event>"
    first_line = message.splitlines()[0] if message.strip() else message
    return EventFacts(
        type="default",
        title=first_line,
        culprit=_text(event.get("culprit")) or transaction,
        level=level,
        metadata={"title": first_line},
        unhandled=False,
        exception_type=None,
        message=message,
        logger=logger,
        user=user,
        environment=environment,
        release=release,
        timestamp=timestamp,
    )


class IssueStore:
    def __init__(self, projects: list[Project]):
        self.projects = {p.id: p for p in projects}
        self._lock = threading.Lock()
        self._issues: dict[int, _Issue] = {}
        self._by_key: dict[tuple[str, str | None, str, str], int] = {}
        self._next_id = 1
        self._next_number: dict[str, int] = {}

    def ingest(self, project_id: str, event: dict[str, Any], received: datetime) -> IssueView:
        project = self.projects[project_id]
        facts = facts_of(event, received)
        key = (project.id, facts.exception_type, facts.message, facts.culprit)
        with self._lock:
            issue_id = self._by_key.get(key)
            issue = self._issues.get(issue_id) if issue_id is not None else None
            if issue is None:
                issue = self._open(project, key, facts, event, received)
            issue.count += 1
            issue.level = facts.level
            issue.first_seen = min(issue.first_seen, facts.timestamp)
            if facts.timestamp >= issue.last_seen:
                issue.last_seen = facts.timestamp
                issue.latest_event = event
                issue.latest_received = received
                issue.last_release = facts.release or issue.last_release
            if facts.user and len(issue.users) < MAX_USERS:
                issue.users.add(facts.user)
            issue.environments.add(facts.environment)
            hour = int(facts.timestamp.timestamp()) // 3600 * 3600
            issue.hourly[hour] = issue.hourly.get(hour, 0) + 1
            while len(issue.hourly) > _HOURS_KEPT:
                del issue.hourly[min(issue.hourly)]
            return issue.view()

    def _open(
        self,
        project: Project,
        key: tuple[str, str | None, str, str],
        facts: EventFacts,
        event: dict[str, Any],
        received: datetime,
    ) -> _Issue:
        if len(self._issues) >= MAX_ISSUES:
            stalest = min(self._issues.values(), key=lambda i: i.last_seen)
            del self._issues[stalest.id]
            self._by_key = {k: v for k, v in self._by_key.items() if v != stalest.id}
        number = self._next_number.get(project.id, 1)
        self._next_number[project.id] = number + 1
        issue = _Issue(
            id=self._next_id,
            short_id=f"{project.slug.upper()}-{number}",
            project=project,
            facts=facts,
            first_seen=facts.timestamp,
            last_seen=facts.timestamp,
            latest_event=event,
            latest_received=received,
            first_release=facts.release,
            last_release=facts.release,
        )
        self._next_id += 1
        self._issues[issue.id] = issue
        self._by_key[key] = issue.id
        return issue

    def all(self) -> list[IssueView]:
        with self._lock:
            return [issue.view() for issue in self._issues.values()]

    def get(self, issue_id: str) -> IssueView | None:
        if not issue_id.isdigit():
            return None
        with self._lock:
            issue = self._issues.get(int(issue_id))
            return issue.view() if issue else None
