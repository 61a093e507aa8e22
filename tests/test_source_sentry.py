"""SentryIssuesSource against a local server playing Sentry's organization issues API.

The server answers with JSON fixtures from tests/fixtures/sentry/, and those are first checked
against the 200 response schema of that endpoint in Sentry's own OpenAPI document.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from servers import serving

from cockpit.config import Secret, SentryConfig
from cockpit.model import Category
from cockpit.sources import sentry_issues
from cockpit.sources.base import SourceError
from cockpit.sources.sentry_issues import SentryIssuesSource, parse_issue
from cockpit.timeutil import local_hms

FIXTURES = Path(__file__).parent / "fixtures" / "sentry"
ENDPOINT = "/api/0/organizations/{organization_id_or_slug}/issues/"
TOKEN = "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_s3cr3tT0k3nValue"
ORG = "files-inc"


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 marks null with `nullable: true`; JSON Schema spells it as a type."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi_to_json_schema(value) for key, value in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def issues_schema() -> dict[str, Any]:
    document = json.loads((FIXTURES / "openapi-issues-subset.json").read_text())
    response = document["paths"][ENDPOINT]["get"]["responses"]["200"]
    schema: dict[str, Any] = openapi_to_json_schema(response["content"]["application/json"])
    return schema["schema"]


def load_validated_pages() -> list[list[dict[str, Any]]]:
    validator = jsonschema.Draft7Validator(issues_schema())
    pages = []
    for number in (1, 2, 3):
        page = json.loads((FIXTURES / f"org-issues-page-{number}.json").read_text())
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(page)]
        assert not errors, f"org-issues-page-{number}.json: {errors}"
        pages.append(page)
    return pages


def test_fixtures_follow_the_official_schema() -> None:
    pages = load_validated_pages()
    assert [len(p) for p in pages] == [2, 2, 1]
    # The schema itself is strict enough to catch a wrong fixture.
    broken = json.loads(json.dumps(pages[0]))
    broken[0]["count"] = 150
    del broken[1]["title"]
    assert len(list(jsonschema.Draft7Validator(issues_schema()).iter_errors(broken))) == 2


# ---------------------------------------------------------------------------------------------


class FakeSentry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pages: list[list[dict[str, Any]]]):
        super().__init__(("127.0.0.1", 0), SentryHandler)
        self.pages = pages
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        self.last_page_says_more = False  # page 1's next link: results="true" unless this
        self.first_page_has_more = True
        # (status, body bytes, headers) answered instead, by request number (1-based) or 0=all
        self.override: dict[int, tuple[int, bytes, dict[str, str]]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)


class SentryHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeSentry

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        with srv.lock:
            srv.requests.append((url.path, query, self.headers.get("Authorization")))
            number = len(srv.requests)
        override = srv.override.get(number) or srv.override.get(0)
        if override:
            self.send(*override)
            return
        if url.path != f"/api/0/organizations/{ORG}/issues/":
            self.send(404, b'{"detail": "The requested resource does not exist"}', {})
            return
        cursors = ["0:0:0", "0:25:0", "0:50:0"]
        index = cursors.index(query.get("cursor", ["0:0:0"])[0])
        more = index < 2 and (srv.first_page_has_more or index > 0)
        here = f"{srv.base_url}{url.path}"
        previous = f'<{here}?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1"'
        following = cursors[index + 1] if index < 2 else "0:75:0"
        link = (
            f'{previous}, <{here}?cursor={following}>; rel="next"; '
            f'results="{"true" if more else "false"}"; cursor="{following}"'
        )
        self.send(200, json.dumps(srv.pages[index]).encode(), {"Link": link})


@pytest.fixture
def sentry() -> Iterator[FakeSentry]:
    with serving(FakeSentry(load_validated_pages())) as server:
        yield server


def source_for(base_url: str, **options: Any) -> SentryIssuesSource:
    options.setdefault("org", ORG)
    cfg = SentryConfig(
        name="sentry", base_url=base_url, token=Secret(TOKEN, "env:SENTRY_TOKEN"), **options
    )
    return SentryIssuesSource(cfg)


async def poll_error(source: SentryIssuesSource) -> str:
    with pytest.raises(SourceError) as caught:
        await source.poll()
    message = str(caught.value)
    assert TOKEN not in message
    return message


# ---------------------------------------------------------------------------------------------


async def test_follows_three_pages(sentry: FakeSentry) -> None:
    source = source_for(
        sentry.base_url,
        project=("7", "8"),
        environment="production",
        query="is:unresolved level:error",
        stats_period="14d",
        sort="freq",
        limit=25,
    )
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.source == "sentry"
    assert (result.pages, result.rate_limited) == (3, False)
    assert [i.id for i in result.issues] == ["4501", "4502", "4503", "4504", "4505"]
    assert sentry.count == 3
    for number, (path, query, auth) in enumerate(sentry.requests):
        assert path == f"/api/0/organizations/{ORG}/issues/"
        assert auth == f"Bearer {TOKEN}"
        assert query["project"] == ["7", "8"]
        assert query["environment"] == ["production"]
        assert query["query"] == ["is:unresolved level:error"]
        assert query["statsPeriod"] == ["14d"]
        assert query["sort"] == ["freq"]
        assert query["limit"] == ["25"]
        assert query.get("cursor") == [None, ["0:25:0"], ["0:50:0"]][number]

    first, escaped, unseen = result.issues[0], result.issues[1], result.issues[2]
    assert first.short_id == "FILES-WEB-1A"
    assert first.count == 1532 and first.user_count == 87
    assert first.level == "error"
    assert first.culprit == "files.db.pool in acquire"
    assert first.permalink == "https://sentry.example.com/organizations/files-inc/issues/4501/"
    assert first.first_seen == datetime(2026, 11, 20, 22, 14, 3, tzinfo=UTC)
    assert escaped.title == "TimeoutError: upstream files-sftp timed out"  # made inert
    assert escaped.last_seen == datetime(2026, 11, 21, 7, 1, 58, 120000, tzinfo=UTC)
    assert (unseen.first_seen, unseen.last_seen) == (None, None)
    assert (source.category, source.kind) == (Category.SENTRY, "sentry")
    assert source.target == f"{sentry.base_url}/api/0/organizations/{ORG}/issues/"
    assert TOKEN not in source.target


async def test_results_false_stops(sentry: FakeSentry) -> None:
    sentry.first_page_has_more = False
    source = source_for(sentry.base_url)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert result.pages == 1
    assert len(result.issues) == 2
    assert sentry.count == 1
    assert "project" not in sentry.requests[0][1]
    assert "environment" not in sentry.requests[0][1]


async def test_max_pages_caps_the_walk(sentry: FakeSentry) -> None:
    source = source_for(sentry.base_url, max_pages=2)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), sentry.count) == (2, 4, 2)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"detail": "Invalid token"}', "401 Unauthorized: {hint}"),
        (403, b'{"detail": "You do not have permission"}', "403 Forbidden: {hint}"),
        (404, b'{"detail": "not found"}', f"404: organization or project not found (org={ORG})"),
        (500, b"<html>Internal Server Error</html>", "HTTP 500 from {host}"),
        (502, b"", "HTTP 502 from {host}"),
        (400, b'{"detail": "Invalid query: \\u001b[2Jbad"}', "HTTP 400 from {host}: {detail}"),
        (200, b'[{"id": "1", "title": "trunc', "malformed JSON from {host}"),
        (200, b'{"detail": "not a list"}', "unexpected answer from {host}: not a list of issues"),
    ],
)
async def test_failures_have_short_reasons(
    sentry: FakeSentry, status: int, body: bytes, expected: str
) -> None:
    sentry.override[0] = (status, body, {})
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    host = sentry.base_url.removeprefix("http://")
    assert message == expected.format(
        hint="token rejected or missing scope event:read",
        host=host,
        detail="Invalid query: bad",
    )
    assert sentry.requests[0][2] == f"Bearer {TOKEN}"


async def test_token_echoed_by_the_server_is_not_shown(sentry: FakeSentry) -> None:
    echo = json.dumps({"detail": f"bad header Authorization: Bearer {TOKEN}"}).encode()
    sentry.override[0] = (400, echo, {})
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert message.endswith("bad header Authorization: Bearer ***")


async def test_rate_limited_does_not_hammer(
    sentry: FakeSentry, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentry.override[1] = (429, b'{"detail": "too frequently"}', {"Retry-After": "120"})
    source = source_for(sentry.base_url)
    try:
        started = datetime.now(UTC)
        first = await poll_error(source)
        until = source.blocked_until
        assert until is not None
        assert started + timedelta(seconds=119) <= until <= started + timedelta(seconds=125)
        assert first == f"rate limited until {local_hms(until)}"
        for _ in range(5):
            assert await poll_error(source) == first
        assert sentry.count == 1  # asked once, then waited

        later = until + timedelta(seconds=1)
        monkeypatch.setattr(sentry_issues, "utcnow", lambda: later)
        result = await source.poll()
    finally:
        await source.aclose()
    assert len(result.issues) == 5
    assert sentry.count == 4
    assert source.blocked_until is None


async def test_rate_limit_reset_header_is_used(sentry: FakeSentry) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    sentry.override[1] = (429, b"{}", {"X-Sentry-Rate-Limit-Reset": str(reset)})
    source = source_for(sentry.base_url)
    try:
        message = await poll_error(source)
    finally:
        await source.aclose()
    assert source.blocked_until == datetime.fromtimestamp(reset, UTC)
    assert re.fullmatch(r"rate limited until \d\d:\d\d:\d\d", message)


async def test_rate_limited_on_a_later_page_keeps_what_it_has(sentry: FakeSentry) -> None:
    sentry.override[2] = (429, b"{}", {"Retry-After": "30"})
    source = source_for(sentry.base_url)
    try:
        result = await source.poll()
        assert (result.pages, len(result.issues), result.rate_limited) == (1, 2, True)
        await poll_error(source)
    finally:
        await source.aclose()
    assert sentry.count == 2


async def test_no_requests_left_stops_paging(sentry: FakeSentry) -> None:
    reset = int((datetime.now(UTC) + timedelta(seconds=30)).timestamp())
    page = json.dumps(sentry.pages[0]).encode()
    link = (
        f'<{sentry.base_url}/api/0/organizations/{ORG}/issues/?cursor=0:25:0>; rel="next"; '
        'results="true"; cursor="0:25:0"'
    )
    headers = {
        "Link": link,
        "X-Sentry-Rate-Limit-Remaining": "0",
        "X-Sentry-Rate-Limit-Reset": str(reset),
    }
    sentry.override[1] = (200, page, headers)
    source = source_for(sentry.base_url)
    try:
        result = await source.poll()
    finally:
        await source.aclose()
    assert (result.pages, len(result.issues), result.rate_limited) == (1, 2, True)
    assert sentry.count == 1


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


def test_parse_issue_tolerates_odd_items() -> None:
    assert parse_issue("x") is None
    assert parse_issue({"title": "no id"}) is None
    issue = parse_issue({"id": 9, "count": "n/a", "userCount": None, "firstSeen": "garbage"})
    assert issue is not None
    assert (issue.id, issue.count, issue.user_count, issue.first_seen) == ("9", 0, 0, None)
