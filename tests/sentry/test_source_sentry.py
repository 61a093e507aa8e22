"""SentryIssuesSource against a local server playing Sentry's issues API.

The server (tests/fixtures/sentry/fake_sentry.py) checks every body it serves against the 200
response schema of that endpoint in Sentry's own OpenAPI document; each test ends by asserting
it found nothing to complain about.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import jsonschema
import pytest
from fixtures.sentry.fake_sentry import (
    ORG,
    ORG_ISSUE,
    ORG_ISSUE_EVENT,
    ORG_ISSUES,
    PROJECT_ISSUES,
    TOKEN,
    Answer,
    FakeSentry,
    fixture_issues,
    load,
    many_issues,
    schema_errors,
    seen_issues,
    validator,
)
from servers import serving

from cockpit.config import Secret, SentryConfig
from cockpit.hub import Hub
from cockpit.model import Category, Freshness, SentryIssue
from cockpit.sentry.source import (
    SentryIssuesSource,
    is_rising,
    parse_issue,
    parse_trend,
    rank_issues,
)
from cockpit.sources.base import SourceError
from cockpit.timeutil import local_hms


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    server = FakeSentry()
    with serving(server):
        try:
            yield server
        finally:
            server.release_all()
    assert server.schema_errors == []


def source_for(base_url: str, clock: Clock | None = None, **options: Any) -> SentryIssuesSource:
    options.setdefault("org", ORG)
    cfg = SentryConfig(
        name="sentry", base_url=base_url, token=Secret(TOKEN, "env:SENTRY_TOKEN"), **options
    )
    return SentryIssuesSource(cfg, clock=clock or Clock())


async def poll_error(source: SentryIssuesSource) -> str:
    with pytest.raises(SourceError) as caught:
        await source.poll()
    message = str(caught.value)
    assert TOKEN not in message
    return message


async def wait_for(event: Any) -> None:
    """Wait for a threading.Event set by the server thread, without blocking the loop."""
    assert await asyncio.to_thread(event.wait, 10)


# -- the fixtures ---------------------------------------------------------------------------------


def test_fixtures_follow_the_official_schema() -> None:
    assert schema_errors(ORG_ISSUES, fixture_issues()) == []
    assert schema_errors(PROJECT_ISSUES, seen_issues()) == []
    assert schema_errors(ORG_ISSUE, load("issue-4501.json")) == []
    assert schema_errors(ORG_ISSUE_EVENT, load("event-4501-latest.json")) == []
    # The schema is strict enough to catch a wrong fixture: `count` is a string.
    broken = json.loads(json.dumps(fixture_issues()[:2]))
    broken[0]["count"] = 150
    del broken[1]["title"]
    assert len(list(validator(ORG_ISSUES).iter_errors(broken))) == 2
    event = load("event-4501-latest.json")
    del event["entries"]
    with pytest.raises(jsonschema.ValidationError):
        validator(ORG_ISSUE_EVENT).validate(event)


# -- reading --------------------------------------------------------------------------------------


async def test_follows_every_page(sentry: FakeSentry) -> None:
    source = source_for(
        sentry.base_url,
        project=("files-web", "8"),
        environment="production",
        query="is:unresolved level:error",
        stats_period="14d",
        trend_period="24h",
        sort="freq",
        limit=25,
    )
    sentry.projects.append({"id": "8", "slug": "files-ftp", "name": "files-ftp"})
    try:
        result = await source.poll()
        again = await source.poll()
    finally:
        await source.aclose()
    assert result.source == "sentry"
    assert (result.pages, result.rate_limited, result.matched) == (3, False, 5)
    assert [i.id for i in result.issues] == ["4501", "4502", "4503", "4504", "4505"]
    assert again == result
    # The slug was turned into the id the endpoint wants, once: 1 + 3 pages + 3 pages.
    paths = [seen.path for seen in sentry.requests]
    assert paths[0] == f"/api/0/organizations/{ORG}/projects/"
    assert paths[1:] == [f"/api/0/organizations/{ORG}/issues/"] * 6
    for number, seen in enumerate(sentry.requests[1:4]):
        assert seen.authorization == f"Bearer {TOKEN}"
        assert seen.query["project"] == ["7", "8"]
        assert seen.query["environment"] == ["production"]
        assert seen.query["query"] == ["is:unresolved level:error"]
        assert seen.query["statsPeriod"] == ["14d"]
        assert seen.query["groupStatsPeriod"] == ["24h"]
        assert seen.query["sort"] == ["freq"]
        assert seen.query["limit"] == ["25"]
        assert seen.query.get("cursor") == [None, ["0:2:0"], ["0:4:0"]][number]

    first, escaped, unseen = result.issues[0], result.issues[1], result.issues[2]
    assert first.short_id == "FILES-WEB-1A"
    assert first.count == 1532 and first.user_count == 87
    assert first.level == "error"
    assert first.culprit == "files.db.pool in acquire"
    assert first.permalink == "https://sentry.example.com/organizations/files-inc/issues/4501/"
    assert first.first_seen == datetime(2026, 11, 20, 22, 14, 3, tzinfo=UTC)
    assert first.trend == (3, 9)
    assert first.project == "files-web"
    # Made inert: each run of removed sequences is marked.
    assert escaped.title == "TimeoutError: upstream \ufffdfiles-sftp\ufffd timed out\ufffd"
    assert escaped.last_seen == datetime(2026, 11, 21, 7, 1, 58, 120000, tzinfo=UTC)
    assert (unseen.first_seen, unseen.last_seen) == (None, None)
    assert (source.category, source.kind) == (Category.SENTRY, "sentry")
    assert source.target == f"{sentry.base_url}/api/0/organizations/{ORG}/issues/"
    assert TOKEN not in source.target


async def test_results_false_stops(sentry: FakeSentry) -> None:
    sentry.issues = sentry.issues[:2]
    sentry.send_hits = False
    source = source_for(sentry.base_url)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), sentry.count) == (1, 2, 1)
    assert result.matched == 2  # no X-Hits: the count read
    assert "project" not in sentry.requests[0].query
    assert "environment" not in sentry.requests[0].query


async def test_max_pages_caps_the_walk(sentry: FakeSentry) -> None:
    source = source_for(sentry.base_url, max_pages=2)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), sentry.count) == (2, 4, 2)
    assert result.matched == 5  # X-Hits says how many match beyond the pages read


async def test_ten_thousand_issues_cost_a_few_pages(sentry: FakeSentry) -> None:
    sentry.generate, sentry.total = many_issues(10_000), 10_000
    sentry.obey_limit = True
    source = source_for(sentry.base_url, limit=40, max_pages=3)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), result.matched) == (3, 120, 10_000)
    assert sentry.count == 3
    assert result.issues[0].short_id == "FILES-WEB-1" and result.issues[0].count == 10_000


async def test_a_page_longer_than_asked_is_cut(sentry: FakeSentry) -> None:
    sentry.generate, sentry.total = many_issues(60), 60
    sentry.page_size = 60  # the server ignores `limit`
    source = source_for(sentry.base_url, limit=10, max_pages=1)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert len(result.issues) == 10


async def test_a_huge_answer_is_refused(
    sentry: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit.sentry import api as sentry_api

    monkeypatch.setattr(sentry_api, "MAX_LIST_BYTES", 16 * 1024)
    sentry.generate, sentry.total = many_issues(20), 20
    sentry.page_size = 20
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    host = sentry.base_url.removeprefix("http://")
    assert message.startswith(f"answer from {host} too large")


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"detail": "Invalid token"}', "401 Unauthorized: the token was rejected{more}"),
        (403, b'{"detail": "no"}', "403 Forbidden: the token lacks scope event:read"),
        (500, b"<html>Internal Server Error</html>", "HTTP 500 from {host}"),
        (502, b"", "HTTP 502 from {host}"),
        (400, b'{"detail": "Invalid query: \\u001b[2Jbad"}', "HTTP 400 from {host}: {detail}"),
        (200, b'[{"id": "1", "title": "trunc', "malformed JSON from {host}"),
        (200, b'{"detail": "not a list"}', "unexpected answer from {host}: not a list"),
    ],
)
async def test_failures_have_short_reasons(
    sentry: FakeSentry, status: int, body: bytes, expected: str
) -> None:
    sentry.override[0] = Answer(status, body)
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    host = sentry.base_url.removeprefix("http://")
    assert message == expected.format(
        host=host, detail="Invalid query: \ufffdbad", more=" (expired or revoked?)"
    )
    assert sentry.requests[0].authorization == f"Bearer {TOKEN}"


async def test_wrong_org_is_named(sentry: FakeSentry) -> None:
    source = source_for(sentry.base_url, org="files-typo")
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    host = sentry.base_url.removeprefix("http://")
    assert message == f"404: organization 'files-typo' not found at {host}"


async def test_wrong_project_slug_is_named(sentry: FakeSentry) -> None:
    source = source_for(sentry.base_url, project=("files-wbe",))
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message == f"404: project 'files-wbe' not found in organization '{ORG}'"


async def test_project_list_forbidden_asks_for_ids(sentry: FakeSentry) -> None:
    sentry.override[1] = Answer(403, b'{"detail": "You do not have permission"}')
    source = source_for(sentry.base_url, project=("files-web",))
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message.startswith("403 Forbidden: cannot list projects")
    assert message.endswith("give project ids instead")


async def test_token_echoed_by_the_server_is_not_shown(sentry: FakeSentry) -> None:
    echo = json.dumps({"detail": f"bad header Authorization: Bearer {TOKEN}"}).encode()
    sentry.override[0] = Answer(400, echo)
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message.endswith("bad header Authorization: Bearer ***")


async def test_connection_refused() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        source = source_for(f"http://127.0.0.1:{port}")
        try:
            message = await poll_error(source)
        finally:
            await source.aclose()
    assert message == f"connection refused by 127.0.0.1:{port}"


async def test_silent_server_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        source = source_for(f"http://127.0.0.1:{port}", timeout=0.5)
        try:
            message = await poll_error(source)
        finally:
            await source.aclose()
    assert message == f"no answer from 127.0.0.1:{port} within 0.5s"


async def test_the_hub_shows_a_failing_sentry_as_stale(sentry: FakeSentry) -> None:
    source = source_for(sentry.base_url)
    hub = Hub([source])
    try:
        assert await hub.poll(source)
        sentry.override[0] = Answer(503, b"")
        assert not await hub.poll(source)
    finally:
        await source.aclose()
    snapshot = hub.snapshot()
    status = snapshot.statuses["sentry"]
    assert status.freshness is Freshness.STALE
    assert status.reason == f"HTTP 503 from {sentry.base_url.removeprefix('http://')}"
    assert len(snapshot.readings["sentry"].issues) == 5  # type: ignore[union-attr]


# -- slow pages -----------------------------------------------------------------------------------


async def test_a_slow_page_is_waited_for(sentry: FakeSentry) -> None:
    gate = sentry.hold[2] = threading.Event()
    source = source_for(sentry.base_url)
    try:
        task = asyncio.create_task(source.poll())
        await wait_for(sentry.arrival(2))
        assert not task.done()
        gate.set()
        result = await task
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues)) == (3, 5)


async def test_a_page_that_never_comes_ends_the_walk_with_what_was_read(
    sentry: FakeSentry,
) -> None:

    sentry.hold[2] = threading.Event()  # released only at teardown
    source = source_for(sentry.base_url, timeout=2.0)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, [i.id for i in result.issues]) == (1, ["4501", "4502"])


async def test_a_first_page_that_never_comes_fails_the_poll(sentry: FakeSentry) -> None:

    sentry.hold[1] = threading.Event()
    source = source_for(sentry.base_url, timeout=0.5)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message == f"no answer from {sentry.base_url.removeprefix('http://')} within 0.5s"


# -- rate limits ----------------------------------------------------------------------------------


async def test_rate_limited_first_poll_waits(sentry: FakeSentry) -> None:
    sentry.override[1] = Answer(429, b'{"detail": "too frequently"}', {"Retry-After": "120"})
    clock = Clock()
    source = source_for(sentry.base_url, clock)
    try:
        first = await poll_error(source)
        until = source.blocked_until
        assert until == clock.now + timedelta(seconds=120)
        assert first == f"rate limited until {local_hms(until)}"
        for _ in range(5):
            assert await poll_error(source) == first
        assert sentry.count == 1  # asked once, then waited

        clock.now = until + timedelta(seconds=1)
        result = await source.poll()
    finally:
        await source.aclose()
    assert len(result.issues) == 5
    assert (result.rate_limited, result.rate_limited_until) == (False, None)
    assert sentry.count == 4
    assert source.blocked_until is None


async def test_rate_limited_keeps_the_last_good_issues(sentry: FakeSentry) -> None:
    clock = Clock()
    reset = int((clock.now + timedelta(minutes=10)).timestamp())
    source = source_for(sentry.base_url, clock)
    try:
        good = await source.poll()
        sentry.override[4] = Answer(429, b"{}", {"X-Sentry-Rate-Limit-Reset": str(reset)})
        limited = await source.poll()
        again = await source.poll()
    finally:
        await source.aclose()
    until = datetime.fromtimestamp(reset, UTC)
    assert limited.issues == good.issues
    assert (limited.rate_limited, limited.rate_limited_until) == (True, until)
    assert again == limited
    assert sentry.count == 4  # nothing asked while waiting


async def test_retry_after_as_a_date(sentry: FakeSentry) -> None:
    clock = Clock()
    when = (clock.now + timedelta(minutes=5)).replace(microsecond=0)
    sentry.override[1] = Answer(429, b"{}", {"Retry-After": format_datetime(when, usegmt=True)})
    source = source_for(sentry.base_url, clock)
    try:
        await poll_error(source)
    finally:
        await source.aclose()
    assert source.blocked_until == when


async def test_a_garbage_reset_does_not_silence_the_panel_for_days(sentry: FakeSentry) -> None:
    clock = Clock()
    sentry.override[1] = Answer(429, b"{}", {"X-Sentry-Rate-Limit-Reset": "99999999999"})
    source = source_for(sentry.base_url, clock)
    try:
        await poll_error(source)
    finally:
        await source.aclose()
    assert source.blocked_until == clock.now + timedelta(hours=1)


async def test_rate_limited_on_a_later_page_keeps_what_it_has(sentry: FakeSentry) -> None:
    clock = Clock()
    sentry.override[2] = Answer(429, b"{}", {"Retry-After": "30"})
    source = source_for(sentry.base_url, clock)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), result.rate_limited) == (1, 2, True)
    assert result.rate_limited_until == clock.now + timedelta(seconds=30)
    assert sentry.count == 2


async def test_no_requests_left_stops_paging(sentry: FakeSentry) -> None:
    clock = Clock()
    reset = int((clock.now + timedelta(seconds=30)).timestamp())
    sentry.rate_headers = {
        "X-Sentry-Rate-Limit-Limit": "40",
        "X-Sentry-Rate-Limit-Remaining": "0",
        "X-Sentry-Rate-Limit-Reset": str(reset),
    }
    source = source_for(sentry.base_url, clock)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), result.rate_limited) == (1, 2, True)
    assert result.rate_limited_until == datetime.fromtimestamp(reset, UTC)
    assert sentry.count == 1


# -- older servers --------------------------------------------------------------------------------


async def test_older_server_is_read_per_project(sentry: FakeSentry) -> None:
    sentry.org_endpoint = False
    sentry.issues = seen_issues()
    source = source_for(sentry.base_url, project=("7",), environment="production", limit=2)
    try:
        first = await source.poll()
        second = await source.poll()
    finally:
        await source.aclose()
    assert [i.id for i in first.issues] == ["4501", "4502", "4503", "4504", "4505"]
    assert second == first
    paths = [seen.path for seen in sentry.requests]
    project_path = f"/api/0/projects/{ORG}/7/issues/"
    assert paths == [f"/api/0/organizations/{ORG}/issues/"] + [project_path] * 6
    query = sentry.requests[1].query
    assert query["statsPeriod"] == ["24h"]  # here it picks the stats buckets
    assert query["query"] == ["is:unresolved"]
    assert query["environment"] == ["production"]
    assert source.target == f"{sentry.base_url}{project_path}"


async def test_older_server_with_a_wrong_project(sentry: FakeSentry) -> None:
    sentry.org_endpoint = False
    source = source_for(sentry.base_url, project=("99",))
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message == f"404: project '99' not found in organization '{ORG}'"


async def test_older_server_without_projects_says_what_to_do(sentry: FakeSentry) -> None:
    sentry.org_endpoint = False
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert "has no organization issues endpoint" in message
    assert "[[sentry]] project" in message


# -- parsing and ranking --------------------------------------------------------------------------


def test_parse_issue_tolerates_odd_items() -> None:
    assert parse_issue("x") is None
    assert parse_issue({"title": "no id"}) is None
    assert parse_issue({"id": True}) is None
    issue = parse_issue(
        {"id": 9, "count": "n/a", "userCount": None, "firstSeen": "garbage", "stats": "x"}
    )
    assert issue is not None
    assert (issue.id, issue.count, issue.user_count, issue.first_seen) == ("9", 0, 0, None)
    assert issue.trend == ()


def test_parse_trend_prefers_the_asked_period() -> None:
    stats = {"24h": [[1, 2], [2, 3]], "14d": [[1, 40], [2, "5"], "junk", [3]]}
    assert parse_trend(stats, "24h") == (2, 3)
    assert parse_trend(stats, "14d") == (40, 5)
    assert parse_trend({"14d": [[1, 7]]}, "24h") == (7,)
    assert parse_trend(None) == ()


def issue(issue_id: str, trend: tuple[int, ...], count: int, first_seen: datetime) -> SentryIssue:
    return SentryIssue(
        id=issue_id,
        short_id=f"S-{issue_id}",
        title="t",
        level="error",
        count=count,
        user_count=1,
        first_seen=first_seen,
        last_seen=first_seen,
        trend=trend,
    )


def test_new_and_rising_first() -> None:
    deploy = datetime(2026, 11, 21, 6, 52, tzinfo=UTC)
    old = deploy - timedelta(days=3)
    flat = (5,) * 24
    rising = (1,) * 22 + (9, 14)
    assert is_rising(rising) and not is_rising(flat) and not is_rising((0,) * 23 + (2,))
    busy_old = issue("1", flat, 5000, old)
    rising_old = issue("2", rising, 300, old)
    new_quiet = issue("3", (0,) * 23 + (1,), 1, deploy + timedelta(minutes=1))
    quiet_old = issue("4", (0,) * 24, 10, old)
    ranked = rank_issues([busy_old, quiet_old, rising_old, new_quiet], new_since=deploy)
    assert [i.id for i in ranked] == ["3", "2", "1", "4"]
    assert [i.id for i in rank_issues([busy_old, rising_old])] == ["2", "1"]
