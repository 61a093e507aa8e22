"""The issue list's query parameters, filtering, sorting and Link-header pagination.

Cursors look like Sentry's (`value:offset:is_prev`); here the offset is simply the index of the
first issue on the page, and every link carries the other parameters unchanged.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from cockpit.timeutil import parse_iso
from cockpit.world.sentry.issues import IssueView, Project

MAX_LIMIT = 100
DEFAULT_PERIOD = timedelta(days=14)
SORTS = ("date", "new", "freq", "user", "trends", "inbox", "priority")

_PERIOD = re.compile(r"^(\d+)([smhdw]?)$")
_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}
_CURSOR = re.compile(r"^-?\d+(?:\.\d+)?:(\d+):[01]$")
_KEY_VALUE = re.compile(r"^(!?)([A-Za-z_.]+):(.*)$")
# `is:` values an issue here matches (all are unresolved, unarchived, assigned to a team) and
# values it never matches; anything else is rejected like Sentry does.
_IS_TRUE = {"unresolved", "assigned", "for_review", "unlinked"}
_IS_FALSE = {
    "resolved",
    "ignored",
    "archived",
    "muted",
    "unassigned",
    "linked",
    "bookmarked",
    "regressed",
    "escalating",
    "reprocessing",
}


class QueryError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Term:
    key: str | None  # None: free text, matched against title and culprit
    value: str
    negated: bool = False


@dataclass(frozen=True)
class IssueQuery:
    projects: frozenset[str] | None  # project ids; None means every project
    environments: frozenset[str]
    terms: tuple[Term, ...]
    since: datetime | None
    until: datetime | None
    sort: str
    limit: int
    offset: int


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _projects(values: list[str], known: dict[str, Project]) -> frozenset[str] | None:
    if not values or "-1" in values:
        return None
    by_slug = {p.slug: p.id for p in known.values()}
    ids = set()
    for value in values:
        if value in known:
            ids.add(value)
        elif value in by_slug:
            ids.add(by_slug[value])
        else:
            raise QueryError(403, "You do not have permission to perform this action.")
    return frozenset(ids)


def _terms(query: str) -> tuple[Term, ...]:
    try:
        tokens = shlex.split(query)
    except ValueError:
        raise QueryError(400, "Error parsing search query: unbalanced quotes") from None
    terms = []
    for token in tokens:
        match = _KEY_VALUE.match(token)
        if not match:
            terms.append(Term(None, token.lower()))
            continue
        negated, key, value = match.group(1) == "!", match.group(2), match.group(3)
        if key == "is" and value not in _IS_TRUE | _IS_FALSE:
            raise QueryError(400, f'Invalid value for "is" search, got {value!r}')
        terms.append(Term(key, value, negated))
    return tuple(terms)


def parse(query_string: str, projects: dict[str, Project], now: datetime) -> IssueQuery:
    params = parse_qs(query_string, keep_blank_values=True)
    period = _one(params, "statsPeriod")
    start, end = _one(params, "start"), _one(params, "end")
    since: datetime | None
    until: datetime | None = None
    if period:
        match = _PERIOD.match(period)
        if not match:
            raise QueryError(400, f"Invalid statsPeriod: {period!r}")
        since = now - timedelta(seconds=int(match.group(1)) * _PERIOD_UNITS[match.group(2)])
    elif start or end:
        try:
            since = parse_iso(start) if start else None
            until = parse_iso(end) if end else None
        except ValueError:
            raise QueryError(400, "start and end must be ISO-8601 timestamps") from None
    else:
        since = now - DEFAULT_PERIOD

    sort = _one(params, "sort") or "date"
    if sort not in SORTS:
        raise QueryError(400, f"Invalid sort: {sort!r}")

    raw_limit = _one(params, "limit")
    if raw_limit is None or raw_limit == "":
        limit = MAX_LIMIT
    elif raw_limit.isdigit() and int(raw_limit) >= 1:
        limit = min(int(raw_limit), MAX_LIMIT)
    else:
        raise QueryError(400, "limit must be a positive integer")

    cursor = _one(params, "cursor")
    offset = 0
    if cursor:
        match = _CURSOR.match(cursor)
        if not match:
            raise QueryError(400, "Invalid cursor parameter.")
        offset = int(match.group(1))

    query = _one(params, "query")
    return IssueQuery(
        projects=_projects(params.get("project", []), projects),
        environments=frozenset(e for e in params.get("environment", []) if e),
        terms=_terms("is:unresolved" if query is None else query),
        since=since,
        until=until,
        sort=sort,
        limit=limit,
        offset=offset,
    )


def _matches(issue: IssueView, term: Term) -> bool:
    if term.key is None:
        hit = term.value in issue.title.lower() or term.value in issue.culprit.lower()
    elif term.key == "is":
        hit = term.value in _IS_TRUE
    elif term.key == "level":
        hit = issue.level == term.value
    elif term.key == "environment":
        hit = term.value in issue.environments
    else:
        return True  # keys this world does not model do not narrow the list
    return hit != term.negated


def select(issues: Iterable[IssueView], query: IssueQuery) -> list[IssueView]:
    """Issues matching the query, in its sort order (all pages)."""
    chosen = [
        issue
        for issue in issues
        if (query.projects is None or issue.project.id in query.projects)
        and (not query.environments or issue.environments & query.environments)
        and (query.since is None or issue.last_seen >= query.since)
        and (query.until is None or issue.first_seen <= query.until)
        and all(_matches(issue, term) for term in query.terms)
    ]
    if query.sort == "new":
        chosen.sort(key=lambda i: (i.first_seen, int(i.id)), reverse=True)
    elif query.sort == "freq":
        chosen.sort(key=lambda i: (i.count, int(i.id)), reverse=True)
    elif query.sort == "user":
        chosen.sort(key=lambda i: (i.user_count, int(i.id)), reverse=True)
    else:
        chosen.sort(key=lambda i: (i.last_seen, int(i.id)), reverse=True)
    return chosen


def link_header(page_url: str, query_string: str, query: IssueQuery, total: int) -> str:
    """Sentry's pagination header: a previous and a next link, each saying if it has results."""
    kept = "&".join(
        part for part in query_string.split("&") if part and not part.startswith("cursor=")
    )
    base = f"{page_url}?{kept}&" if kept else f"{page_url}?"
    previous_offset = max(0, query.offset - query.limit)
    links = (
        ("previous", f"0:{previous_offset}:1", query.offset > 0),
        ("next", f"0:{query.offset + query.limit}:0", query.offset + query.limit < total),
    )
    return ", ".join(
        f'<{base}cursor={cursor}>; rel="{rel}"; results="{"true" if more else "false"}"; '
        f'cursor="{cursor}"'
        for rel, cursor, more in links
    )
