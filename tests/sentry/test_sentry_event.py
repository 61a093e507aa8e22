"""The latest event of an issue: parsing Sentry's event document and fetching it."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fixtures.sentry.fake_sentry import ORG, TOKEN, Answer, FakeSentry, load
from servers import serving

from cockpit.config import Secret, SentryConfig
from cockpit.model import SentryIssue
from cockpit.sentry.api import SentryApiError
from cockpit.sentry.event import MAX_FRAMES, fetch_detail, parse_event, safe_link
from cockpit.sentry.source import SentryIssuesSource


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    server = FakeSentry()
    with serving(server):
        try:
            yield server
        finally:
            server.release_all()
    assert server.schema_errors == []


def config(base_url: str, **options: Any) -> SentryConfig:
    return SentryConfig(
        name="sentry",
        base_url=base_url,
        org=ORG,
        token=Secret(TOKEN, "env:SENTRY_TOKEN"),
        **options,
    )


ISSUE = SentryIssue(
    id="4501",
    short_id="FILES-WEB-1A",
    title="OperationalError: could not connect to server: Connection refused",
    level="error",
    count=1532,
    user_count=87,
    first_seen=None,
    last_seen=None,
    permalink="https://sentry.example.com/organizations/files-inc/issues/4501/",
)


def test_parse_the_official_shape() -> None:
    detail = parse_event(load("event-4501-latest.json"), ISSUE, permalink=ISSUE.permalink)
    assert (detail.issue_id, detail.short_id) == ("4501", "FILES-WEB-1A")
    assert detail.event_id == "8f0c6d2e4b1a4c7e9d3f2a1b0c9d8e7f"
    assert detail.platform == "python"
    assert detail.permalink == ISSUE.permalink
    assert detail.exception_type == "OperationalError"
    # Line breaks are kept, the escape sequence is gone.
    assert detail.exception_value == (
        "could not connect to server: Connection refused\n"
        '\tIs the server running on host "db-primary" and accepting\ufffd TCP/IP connections?'
    )
    assert [e.type for e in detail.chain] == ["ConnectionRefusedError", "OperationalError"]
    assert detail.received_at == datetime(2026, 11, 21, 7, 2, 11, 412000, tzinfo=UTC)
    assert (detail.release, detail.environment) == ("files-web@2026.11.21-0652", "production")
    assert detail.culprit == "files.db.pool in acquire"

    handler, pool, library = detail.frames
    assert (handler.filename, handler.function, handler.lineno) == (
        "files/web/handlers/report.py",
        "get",
        42,
    )
    assert handler.in_app and pool.in_app and not library.in_app
    assert handler.pre_context == (
        "    async def get(self, request):",
        "        user = request.user",
    )
    assert handler.context_line == "        async with db.acquire() as conn:"
    assert handler.post_context == (
        "            rows = await conn.fetch(REPORT_SQL, user.id)",
        "        return render(rows)",
    )
    assert pool.pre_context[1] == "        # \ufffd a title-setting escape in a comment"
    assert pool.context_line == "        return await self._pool.acquire(timeout=self.timeout)"
    assert (library.context_line, library.pre_context, library.platform) == (None, (), "python")


def test_parse_an_sdk_shaped_event() -> None:
    event = {
        "event_id": "abc",
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'x'",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app.py",
                                "function": "main",
                                "lineno": 3,
                                "in_app": True,
                                "pre_context": ["a = 1", "b\t= 2"],
                                "context_line": "c = {}['x']",
                                "post_context": ["d = 4"],
                            }
                        ]
                    },
                }
            ]
        },
    }
    detail = parse_event(event)
    (frame,) = detail.frames
    assert (detail.exception_type, detail.exception_value, detail.event_id) == (
        "KeyError",
        "'x'",
        "abc",
    )
    assert frame.pre_context == ("a = 1", "b    = 2")
    assert (frame.context_line, frame.post_context, frame.in_app) == (
        "c = {}['x']",
        ("d = 4",),
        True,
    )


def test_parse_is_bounded_and_tolerant() -> None:
    event = load("event-4501-latest.json")
    values = event["entries"][0]["data"]["values"]
    frame = values[1]["stacktrace"]["frames"][0]
    values[1]["stacktrace"]["frames"] = [copy.deepcopy(frame) for _ in range(MAX_FRAMES + 50)]
    values[1]["stacktrace"]["frames"].append("junk")
    detail = parse_event(event)
    assert (len(detail.frames), detail.frames_omitted) == (MAX_FRAMES, 50)
    assert parse_event(None).frames == ()
    assert parse_event({"entries": "x", "exception": 3}).exception_type == ""
    message = parse_event(
        {"entries": [{"type": "message", "data": {"formatted": "disk \x1b[2Jfull"}}]}
    )
    assert message.message == "disk \ufffdfull"


def test_only_web_links_may_be_opened() -> None:
    assert safe_link("https://sentry.io/organizations/x/issues/1/")
    assert safe_link("http://127.0.0.1:9000/organizations/x/issues/1/")
    for bad in ("", "javascript:alert(1)", "file:///etc/passwd", "https://", "sentry.io/x"):
        assert not safe_link(bad)
    assert parse_event({}, permalink="javascript:alert(1)").permalink == ""


async def test_fetch_detail(sentry: FakeSentry) -> None:
    detail = await fetch_detail(config(sentry.base_url), ISSUE)
    assert detail.exception_type == "OperationalError"
    assert len(detail.frames) == 3
    assert detail.permalink == ISSUE.permalink
    assert [seen.path for seen in sentry.requests] == [
        f"/api/0/organizations/{ORG}/issues/4501/events/latest/"
    ]
    assert sentry.requests[0].authorization == f"Bearer {TOKEN}"


async def test_fetch_detail_asks_for_the_permalink_when_the_issue_has_none(
    sentry: FakeSentry,
) -> None:
    issue = SentryIssue(**{**_fields(ISSUE), "permalink": "javascript:void(0)"})
    detail = await fetch_detail(config(sentry.base_url), issue)
    assert detail.permalink == "https://sentry.example.com/organizations/files-inc/issues/4501/"
    assert sentry.requests[1].path == f"/api/0/organizations/{ORG}/issues/4501/"


async def test_fetch_detail_from_an_older_server(sentry: FakeSentry) -> None:
    sentry.org_endpoint = False
    detail = await fetch_detail(config(sentry.base_url), ISSUE)
    assert detail.exception_type == "OperationalError"
    assert [seen.path for seen in sentry.requests] == [
        f"/api/0/organizations/{ORG}/issues/4501/events/latest/",
        "/api/0/issues/4501/events/latest/",
    ]


async def test_fetch_detail_of_a_gone_issue(sentry: FakeSentry) -> None:
    issue = SentryIssue(**{**_fields(ISSUE), "id": "999"})
    with pytest.raises(SentryApiError) as caught:
        await fetch_detail(config(sentry.base_url), issue)
    assert str(caught.value) == f"404: issue 999 not found in organization '{ORG}'"


async def test_fetch_detail_times_out(sentry: FakeSentry) -> None:
    sentry.hold[1] = threading.Event()
    with pytest.raises(SentryApiError) as caught:
        await fetch_detail(config(sentry.base_url, timeout=0.5), ISSUE)
    assert str(caught.value) == f"no answer from {sentry.base_url[7:]} within 0.5s"


async def test_fetch_detail_shares_the_sources_rate_limit(sentry: FakeSentry) -> None:
    sentry.override[1] = Answer(429, b"{}", {"Retry-After": "60"})
    cfg = config(sentry.base_url)
    source = SentryIssuesSource(cfg)
    try:
        with pytest.raises(SentryApiError):
            await source.poll()
        with pytest.raises(SentryApiError) as caught:
            await fetch_detail(cfg, ISSUE, client=source.client)
    finally:
        await source.aclose()
    assert str(caught.value).startswith("rate limited until ")
    assert sentry.count == 1


async def test_fetch_detail_malformed(sentry: FakeSentry) -> None:
    sentry.override[0] = Answer(200, b"[1, 2]")
    with pytest.raises(SentryApiError) as caught:
        await fetch_detail(config(sentry.base_url), ISSUE)
    assert str(caught.value) == f"unexpected answer from {sentry.base_url[7:]}: not an object"


def _fields(issue: SentryIssue) -> dict[str, Any]:
    return {name: getattr(issue, name) for name in issue.__slots__}  # type: ignore[attr-defined]
