"""The latest event of each active Sentry issue, read for what it names (request URL, method,
transaction, `url` / `http.method` tags), bounded and cached per issue; failures fall back.

The server (tests/fixtures/sentry/fake_sentry.py) checks every body it serves against the
official schema; the events here are the recorded 4501 event with its request and tags changed.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
import sentry_sdk
from fixtures.sentry.fake_sentry import ORG, TOKEN, Answer, FakeSentry, load, many_issues
from servers import serving
from world_helpers import ORG_ISSUE_EVENT, response_examples, response_schema

from cockpit.config import Secret, SentryConfig, parse
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Detector
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Deploy,
    Deploys,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    Reading,
    Route,
    RouteErrors,
    SentryIssues,
    SourceStatus,
)
from cockpit.sentry.event import issue_event
from cockpit.sentry.latest import MAX_PER_POLL, REFRESH
from cockpit.sentry.source import SentryIssuesSource
from cockpit.world.sentry.api import SentryServer
from cockpit.world.sentry.issues import Project

# The fixture issues were last seen 07:02:11 (4501), 07:01:58 (4502), 06:58 (4505), 05:30
# (4504) and never (4503): at 07:05 the first three are active, the others not.
NOW = datetime(2026, 11, 21, 7, 5, tzinfo=UTC)
EVENT_PATH = f"/api/0/organizations/{ORG}/issues/{{}}/events/latest/"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

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


def source_for(server: FakeSentry, clock: Clock, **options: Any) -> SentryIssuesSource:
    cfg = SentryConfig(
        name="sentry",
        base_url=server.base_url,
        org=ORG,
        token=Secret(TOKEN, "env:SENTRY_TOKEN"),
        **options,
    )
    return SentryIssuesSource(cfg, clock=clock)


def recorded_event(
    issue_id: str, *, url: str | None, method: str | None = "GET", tags: dict[str, str]
) -> dict[str, Any]:
    """The recorded latest event of issue 4501, re-aimed at `issue_id`, with a request entry
    (when `url`) and `tags` as the API returns them: [{key, value}, ...]."""
    event = copy.deepcopy(load("event-4501-latest.json"))
    event["groupID"] = issue_id
    event["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
    event["entries"] = [e for e in event["entries"] if e.get("type") != "request"]
    if url is not None:
        event["entries"].append(
            {
                "type": "request",
                "data": {
                    "fragment": None,
                    "cookies": [],
                    "inferredContentType": None,
                    "env": None,
                    "headers": [["User-Agent", "curl/8.5"]],
                    "url": url,
                    "query": [["user", "alice"]],
                    "data": None,
                    "method": method,
                },
            }
        )
    return event


async def poll_once(source: SentryIssuesSource) -> SentryIssues:
    try:
        return await source.poll()
    finally:
        await source.aclose()


def event_requests(server: FakeSentry) -> list[str]:
    return [s.path for s in server.requests if "/events/" in s.path]


def test_what_an_event_names() -> None:
    (example,) = response_examples(ORG_ISSUE_EVENT)
    official = issue_event(example)
    assert official.url == "https://sentry.io/organizations/hellboy-meowmeow/issues/"
    assert official.method == ""  # the example's request says null
    api = issue_event(
        recorded_event(
            "1",
            url="https://files.example/session?user=alice",
            method="post",
            tags={"transaction": "/session", "url": "https://files.example/session"},
        )
    )
    assert (api.url, api.method, api.transaction) == (
        "https://files.example/session?user=alice",
        "POST",
        "/session",
    )
    assert api.tag_urls == ("https://files.example/session",)
    # Tags alone, as an event without a request entry has them.
    tagged = issue_event(
        recorded_event("1", url=None, tags={"url": "/files/a.txt", "http.method": "GET"})
    )
    assert (tagged.url, tagged.method) == ("/files/a.txt", "GET")
    # An SDK-shaped event: `request` and `transaction` at the top, tags as a mapping.
    sdk = issue_event(
        {
            "event_id": "ab" * 16,
            "request": {"url": "http://127.0.0.1:8080/report", "method": "GET"},
            "transaction": "/report",
            "tags": {"http.method": "GET"},
        }
    )
    assert (sdk.url, sdk.transaction, sdk.event_id) == (
        "http://127.0.0.1:8080/report",
        "/report",
        "ab" * 16,
    )
    hostile = issue_event(
        recorded_event("1", url="https://x/\x1b]52;c;AAAA\x07session", tags={"transaction": 5})  # type: ignore[dict-item]
    )
    assert "\x1b" not in hostile.url and hostile.transaction == ""
    assert issue_event(None) == issue_event({}) and issue_event([]).url == ""


async def test_the_latest_events_of_active_issues_are_read_once(sentry: FakeSentry) -> None:
    sentry.events = {
        "4501": recorded_event("4501", url="https://files.example/files/x", tags={}),
        "4502": recorded_event(
            "4502", url=None, tags={"transaction": "sftp session", "url": "/session"}
        ),
        "4505": recorded_event("4505", url="https://files.example/thumbs/1", tags={}),
    }
    clock = Clock()
    source = source_for(sentry, clock)
    try:
        first = await source.poll()
        assert sorted(event_requests(sentry)) == sorted(
            EVENT_PATH.format(i) for i in ("4501", "4502", "4505")
        )
        by_id = {i.id: i for i in first.issues}
        assert by_id["4501"].event is not None and by_id["4501"].event.url.endswith("/files/x")
        assert by_id["4502"].event is not None and by_id["4502"].event.url == "/session"
        assert by_id["4502"].event.transaction == "sftp session"
        # Not active (last seen 05:30, or never): not asked for, nothing missing.
        assert by_id["4504"].event is None and by_id["4504"].event_missing == ""
        assert by_id["4503"].event is None and by_id["4503"].event_missing == ""
        # Cached per issue: the next polls ask for no event, and still carry them.
        clock.now += timedelta(seconds=30)
        again = await source.poll()
        assert len(event_requests(sentry)) == 3
        assert {i.id for i in again.issues if i.event is not None} == {"4501", "4502", "4505"}
        # An issue with new events is read again, but only once REFRESH has passed.
        sentry.issues[0]["lastSeen"] = "2026-11-21T07:05:10Z"
        clock.now = NOW + timedelta(seconds=40)
        await source.poll()
        assert len(event_requests(sentry)) == 3
        clock.now = NOW + REFRESH + timedelta(seconds=1)
        await source.poll()
        assert event_requests(sentry)[3:] == [EVENT_PATH.format("4501")]
    finally:
        await source.aclose()


async def test_event_reads_are_bounded_per_poll(sentry: FakeSentry) -> None:
    make = many_issues(40)

    def active(offset: int, limit: int) -> list[dict[str, Any]]:
        items = make(offset, limit)
        for item in items:
            item["lastSeen"] = "2026-11-21T07:04:00Z"
        return items

    sentry.generate, sentry.total, sentry.obey_limit = active, 40, True
    # Every issue's latest event is the recorded one (its id need not match to be read).
    sentry.events = {str(100_000 + n): recorded_event("x", url="/x", tags={}) for n in range(40)}
    clock = Clock()
    source = source_for(sentry, clock, limit=40)
    try:
        reading = await source.poll()
        assert len(event_requests(sentry)) == MAX_PER_POLL
        missing = [i for i in reading.issues if i.event is None]
        assert len(missing) == 40 - MAX_PER_POLL
        assert {i.event_missing for i in missing} == {"latest event not read yet"}
        clock.now += timedelta(seconds=30)
        await source.poll()
        assert len(event_requests(sentry)) == 2 * MAX_PER_POLL
        assert len(set(event_requests(sentry))) == 2 * MAX_PER_POLL  # none read twice
    finally:
        await source.aclose()


async def test_a_failing_event_endpoint_falls_back_and_says_why(sentry: FakeSentry) -> None:
    sentry.events = {"4501": recorded_event("4501", url="/files/x", tags={})}
    sentry.event_answer = Answer(500, b'{"detail": "Internal Error"}')
    clock = Clock()
    source = source_for(sentry, clock)
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    # The list is read all the same; the poll makes one failing event request, not three.
    assert len(reading.issues) == 5 and not reading.rate_limited
    assert len(event_requests(sentry)) == 1
    by_id = {i.id: i for i in reading.issues}
    host = sentry.base_url[7:]
    for issue_id in ("4501", "4502", "4505"):
        assert by_id[issue_id].event is None
        assert by_id[issue_id].event_missing == f"latest event not read: HTTP 500 from {host}"
    assert TOKEN not in repr(reading)


async def test_a_gone_issue_is_not_asked_again(sentry: FakeSentry) -> None:
    sentry.legacy_issue_paths = False
    sentry.events = {"4501": recorded_event("4501", url="/files/x", tags={})}
    clock = Clock()
    source = source_for(sentry, clock)
    try:
        reading = await source.poll()
        by_id = {i.id: i for i in reading.issues}
        assert by_id["4502"].event_missing == "latest event not found"
        asked = len(event_requests(sentry))
        clock.now += timedelta(seconds=30)
        await source.poll()
        assert len(event_requests(sentry)) == asked
    finally:
        await source.aclose()


async def test_a_rate_limit_stops_the_event_reads_not_the_list(sentry: FakeSentry) -> None:
    sentry.events = {"4501": recorded_event("4501", url="/files/x", tags={})}
    clock = Clock()
    source = source_for(sentry, clock)
    sentry.event_answer = Answer(429, b"{}", {"Retry-After": "60"})
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    assert len(reading.issues) == 5 and not reading.rate_limited
    assert len(event_requests(sentry)) == 1
    missing = {i.event_missing for i in reading.issues if i.id in ("4501", "4502", "4505")}
    assert len(missing) == 1 and missing.pop().startswith(
        "latest event not read: rate limited until "
    )


# -- the drill world's Sentry -----------------------------------------------------------------


@pytest.fixture
def world_sentry() -> Iterator[SentryServer]:
    server = SentryServer(
        org="files",
        project=Project("2", "files-web", "files-web"),
        public_key="0123456789abcdef0123456789abcdef",
        token="world-read-token",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def report(
    server: SentryServer,
    error: Exception,
    *,
    request: dict[str, Any] | None = None,
    transaction: str | None = None,
    at: datetime | None = None,
) -> None:
    """One exception sent by the real sentry-sdk, with the request a web integration adds,
    stamped `at` (an event sent late carries the time it happened)."""
    client = sentry_sdk.Client(
        dsn=server.dsn,
        environment="drill",
        default_integrations=False,
        auto_enabling_integrations=False,
        enable_backpressure_handling=False,
    )

    def add_request(event: Any, hint: Any) -> Any:
        if request is not None:
            event["request"] = request
        if at is not None:
            event["timestamp"] = at.timestamp()
        return event

    try:
        try:
            raise error
        except Exception as exc:
            with sentry_sdk.isolation_scope() as scope:
                scope.set_client(client)
                if transaction:
                    scope.set_transaction_name(transaction)
                scope.add_event_processor(add_request)
                sentry_sdk.capture_exception(exc)
    finally:
        client.close(timeout=5)


def test_the_world_serves_the_request_and_its_tags(world_sentry: SentryServer) -> None:
    report(
        world_sentry,
        KeyError("session handle"),
        request={
            "url": "http://127.0.0.1:8080/session",
            "method": "GET",
            "query_string": "user=alice",
            "headers": {"User-Agent": "lftp/4.9"},
        },
    )
    report(world_sentry, ValueError("bad range"), transaction="/report")
    api = httpx.Client(
        base_url=world_sentry.base_url,
        headers={"Authorization": "Bearer world-read-token"},
        timeout=10,
    )
    with api:
        issues = {i["title"]: i for i in api.get("/api/0/organizations/files/issues/").json()}
        session = issues["KeyError: 'session handle'"]
        assert "/session" not in session["culprit"]  # only its request names the route
        paths = [
            f"/api/0/organizations/files/issues/{session['id']}/events/latest/",
            f"/api/0/issues/{session['id']}/events/latest/",
        ]
        bodies = [api.get(p).json() for p in paths]
        event_id = bodies[0]["eventID"]
        bodies.append(api.get(f"/api/0/projects/files/files-web/events/{event_id}/").json())
        assert api.get("/api/0/projects/files/files-web/events/feedface/").status_code == 404
        assert api.get(f"/api/0/issues/{session['id']}/").json()["id"] == session["id"]
    for body in bodies:
        jsonschema.validate(body, response_schema(ORG_ISSUE_EVENT))
        (request,) = [e["data"] for e in body["entries"] if e["type"] == "request"]
        assert request["url"] == "http://127.0.0.1:8080/session"
        assert request["method"] == "GET" and request["query"] == [["user", "alice"]]
        assert {"key": "url", "value": "http://127.0.0.1:8080/session"} in body["tags"]

    cfg = SentryConfig(
        name="sentry",
        base_url=world_sentry.base_url,
        org="files",
        token=Secret("world-read-token", "env:SENTRY_TOKEN"),
    )
    reading = asyncio.run(poll_once(SentryIssuesSource(cfg)))
    events = {i.title: i.event for i in reading.issues}
    found = events["KeyError: 'session handle'"]
    assert found is not None and (found.url, found.method) == (
        "http://127.0.0.1:8080/session",
        "GET",
    )
    report_event = events["ValueError: bad range"]
    assert report_event is not None and report_event.transaction == "/report"


def test_the_blind_spot_from_what_the_worlds_issues_name(world_sentry: SentryServer) -> None:
    """Three issues in the world's Sentry, sent by the real SDK, judged against a failure of
    GET /session (most of the 5xx) and GET /files/{id} that began 4 minutes ago: a young
    issue on /report and a busy old one on /session cancel nothing; an issue whose culprit
    names only a module, with requests to /session, covers /session."""
    now = datetime.now(UTC)
    began = now - timedelta(minutes=4)
    bad = Deploy("files-web", "v42", "alice", began - timedelta(seconds=30), "v42", "log")
    # Young: first seen a minute before the bad deploy, everything since.
    for _ in range(3):
        report(
            world_sentry,
            ValueError("end before start"),
            request={"url": "http://127.0.0.1:8080/report", "method": "GET"},
            transaction="/report",
            at=bad.at - timedelta(minutes=1),
        )
    # Busy and old: four events an hour for a day, on GET /session, as steady as ever.
    for hour in range(24, 0, -1):
        for _ in range(4):
            report(
                world_sentry,
                TimeoutError("thumbnailer"),
                request={"url": "http://127.0.0.1:8080/session", "method": "GET"},
                at=now - timedelta(hours=hour - 1, minutes=30),
            )
    for _ in range(5):
        report(
            world_sentry,
            KeyError("session handle"),
            request={"url": "http://127.0.0.1:8080/session?user=alice", "method": "GET"},
            at=began + timedelta(seconds=20),
        )
    cfg = SentryConfig(
        name="sentry",
        base_url=world_sentry.base_url,
        org="files",
        token=Secret("world-read-token", "env:SENTRY_TOKEN"),
        limit=10,
    )
    issues = asyncio.run(poll_once(SentryIssuesSource(cfg)))
    assert {i.title for i in issues.issues if i.event is not None} == {
        "ValueError: end before start",
        "TimeoutError: thumbnailer",
        "KeyError: 'session handle'",
    }
    session_issue = next(i for i in issues.issues if i.title.startswith("KeyError"))
    assert "/session" not in session_issue.culprit

    detector = Detector(WATCHED, DetectSettings(blind_spot_grace=0))
    readings: dict[str, Reading] = {
        "edge": failing_by_route(now, began),
        "log": Deploys("log", (bad,)),
        "sentry": issues,
    }
    statuses = {
        name: SourceStatus(name, "k", category, Freshness.FRESH, updated_at=now)
        for name, category in (
            ("edge", Category.ERRORS),
            ("log", Category.DEPLOYS),
            ("sentry", Category.SENTRY),
        )
    }
    a = detector.observe(Snapshot(now, 1, statuses, readings))
    assert a.degraded and a.suspect == bad and a.blind_spot is not None
    assert [r.route for r in a.blind_routes] == [Route("GET", "/files/{id}")]
    assert "judged by culprit" not in a.blind_spot

    # Without the events (the endpoint failing), the same issues leave /session uncovered,
    # and the blind spot says why.
    bare = SentryIssues(
        "sentry",
        tuple(
            replace(i, event=None, event_missing="latest event not read: HTTP 500 from x")
            for i in issues.issues
        ),
    )
    readings["sentry"] = bare
    b = Detector(WATCHED, DetectSettings(blind_spot_grace=0)).observe(
        Snapshot(now, 1, statuses, readings)
    )
    assert [r.route for r in b.blind_routes] == [
        Route("GET", "/session"),
        Route("GET", "/files/{id}"),
    ]
    assert b.blind_spot is not None and "judged by culprit and title only" in b.blind_spot


WATCHED = parse(
    """
[[errors]]
name = "edge"
kind = "nginx_combined"
path = "/var/log/nginx/access.log"
""",
    None,
    env={},
)


def failing_by_route(now: datetime, began: datetime, bucket: int = 5) -> ErrorSeries:
    """Ten minutes of an access log by route: /report fails now and then all along, then
    from `began` GET /session fails with 503 (nine in ten of the 5xx) and some /files."""
    newest = now - timedelta(seconds=now.timestamp() % bucket)
    count = 600 // bucket
    buckets = []
    for i in range(count):
        start = newest - timedelta(seconds=bucket * (count - 1 - i))
        failing = [RouteErrors(Route("GET", "/report"), 500, 1)] if i % 4 == 0 else []
        if start >= began:
            failing = [
                RouteErrors(Route("GET", "/session"), 503, 9),
                RouteErrors(Route("GET", "/files/{id}"), 502, 1),
                *failing,
            ]
        errors = sum(r.count for r in failing)
        buckets.append(ErrorBucket(start, 40 if start < newest else 3, errors, tuple(failing)))
    return ErrorSeries("edge", bucket, tuple(buckets), routes_known=True)
