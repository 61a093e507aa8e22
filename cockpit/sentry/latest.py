"""The latest event of each Sentry issue active lately, read for what it names: the request URL
and method, the transaction, the `url` / `http.method` tags. The blind spot matches issues to
failing routes and probes by these as well as by culprit and title: an issue whose culprit is
`files.sessions in acquire` may be every failing `GET /session` request.

Bounded: at most MAX_PER_POLL event requests a poll, new and rising issues first, within what
is left of the poll's time; cached per issue (read again only once the issue had events since
and REFRESH has passed); at most MAX_CACHED issues remembered. It runs inside the source's poll
(a hub task; large answers are decoded off the event loop), never while the screen draws. A
failure never fails the poll: the issue keeps the culprit-and-title matching and says why in
`event_missing`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cockpit.model import IssueEvent, SentryIssue
from cockpit.sentry.api import NotFound, SentryApiError, SentryClient
from cockpit.sentry.event import issue_event
from cockpit.sentry.rank import rank_issues
from cockpit.timeutil import local_hms

ACTIVE = timedelta(hours=1)  # issues seen this recently may come with a failure
MAX_PER_POLL = 6
REFRESH = timedelta(minutes=5)
MAX_CACHED = 500
NOT_YET = "latest event not read yet"


@dataclass(frozen=True, slots=True)
class _Cached:
    event: IssueEvent | None  # None: the issue or its events are gone (404)
    last_seen: datetime | None  # the issue's lastSeen when it was read
    read_at: datetime


class LatestEvents:
    """Per Sentry source: which issues' latest events were read, and what they name."""

    def __init__(self, client: SentryClient, clock: Callable[[], datetime]):
        self._client = client
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self.requests = 0  # event requests made, for tests and `check`

    def _due(self, issue: SentryIssue, now: datetime) -> bool:
        cached = self._cache.get(issue.id)
        if cached is None:
            return True
        moved = issue.last_seen is not None and (
            cached.last_seen is None or issue.last_seen > cached.last_seen
        )
        return moved and now - cached.read_at >= REFRESH

    async def attach(self, issues: Sequence[SentryIssue], deadline: float) -> list[SentryIssue]:
        """`issues` with the latest event of each active one, as far as known; reads the ones
        due within the bounds, never raises."""
        now = self._clock()
        active = {i.id for i in issues if i.last_seen is not None and i.last_seen >= now - ACTIVE}
        due = [i for i in rank_issues(i for i in issues if i.id in active) if self._due(i, now)]
        failure = ""
        for count, issue in enumerate(due):
            if count >= MAX_PER_POLL:
                break
            blocked = self._client.blocked_until
            if blocked is not None:
                failure = f"Sentry rate limited until {local_hms(blocked)}"
                break
            try:
                async with asyncio.timeout_at(deadline):
                    self.requests += 1
                    body = await self._client.latest_event(issue.id)
            except TimeoutError:
                failure = "no time left in the poll"
                break
            except NotFound:
                self._remember(issue, None, now)
                continue
            except SentryApiError as exc:
                failure = str(exc)
                break
            self._remember(issue, issue_event(body), now)
        return [self._with(i, i.id in active, failure) for i in issues]

    def _remember(self, issue: SentryIssue, event: IssueEvent | None, now: datetime) -> None:
        self._cache.pop(issue.id, None)
        self._cache[issue.id] = _Cached(event, issue.last_seen, now)
        while len(self._cache) > MAX_CACHED:  # the oldest read goes first
            del self._cache[next(iter(self._cache))]

    def _with(self, issue: SentryIssue, active: bool, failure: str) -> SentryIssue:
        cached = self._cache.get(issue.id)
        if cached is not None:
            if cached.event is None:
                return replace(issue, event_missing="latest event not found")
            return replace(issue, event=cached.event)
        if not active:
            return issue
        return replace(
            issue, event_missing=f"latest event not read: {failure}" if failure else NOT_YET
        )
