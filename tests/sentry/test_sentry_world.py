"""Errors sent by the real sentry-sdk through a DSN to the drill world's Sentry come back as
issues read by the source, and as stack traces read by fetch_detail. Every answer the cockpit
reads is checked against Sentry's official schema on the way in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from fixtures.sentry.fake_sentry import validate_responses

from cockpit.config import Secret, SentryConfig
from cockpit.sentry.event import fetch_detail
from cockpit.sentry.source import SentryIssuesSource
from cockpit.world.sentry.api import SentryServer
from cockpit.world.sentry.issues import Project

TOKEN = "sntrys_world_read_token_0123456789"
ORG = "files"


@pytest.fixture
def server() -> Iterator[SentryServer]:
    running = SentryServer(
        org=ORG,
        project=Project(id="2", slug="files-web", name="files-web"),
        public_key="0123456789abcdef0123456789abcdef",
        token=TOKEN,
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _render_report(month: int) -> None:
    if month > 12:
        raise ValueError(f"no month {month}")


def _thumbnail(cache: dict[str, bytes]) -> bytes:
    return cache["thumb-1"]


def send(server: SentryServer, calls: list[Any]) -> None:
    client = sentry_sdk.Client(
        dsn=server.dsn,
        environment="drill",
        release="files-web@2026.11.21",
        default_integrations=False,
        auto_enabling_integrations=False,
        enable_backpressure_handling=False,
    )
    try:
        for call in calls:
            try:
                call()
            except Exception as exc:
                with sentry_sdk.isolation_scope() as scope:
                    scope.set_client(client)
                    scope.set_user({"id": f"user-{id(call) % 7}"})
                    sentry_sdk.capture_exception(exc)
        client.flush(timeout=5)
    finally:
        client.close(timeout=5)
    deadline = time.monotonic() + 10
    while server.events_received < len(calls):  # flush returns once sent; this is a backstop
        assert time.monotonic() < deadline, "the events never arrived"
        time.sleep(0.02)


def config(server: SentryServer) -> SentryConfig:
    return SentryConfig(
        name="sentry",
        base_url=server.base_url,
        org=ORG,
        token=Secret(TOKEN, "file:sentry.token"),
        project=("files-web",),
        environment="drill",
        sort="freq",
    )


async def test_sdk_events_become_issues_with_stack_traces(server: SentryServer) -> None:
    send(server, [lambda: _render_report(13)] * 3 + [lambda: _thumbnail({})])
    cfg = config(server)
    source = SentryIssuesSource(cfg)
    errors: list[str] = []
    validate_responses(source.client._http(), errors)
    try:
        reading = await source.poll()
        report = reading.issues[0]
        detail = await fetch_detail(cfg, report, client=source.client)
    finally:
        await source.aclose()
    assert errors == []

    assert [i.title for i in reading.issues] == [
        "ValueError: no month 13",
        "KeyError: 'thumb-1'",
    ]
    assert (reading.pages, reading.matched, reading.rate_limited) == (1, 2, False)
    assert (report.count, report.level, report.project) == (3, "error", "files-web")
    assert report.short_id == "FILES-WEB-1"
    assert sum(report.trend) == 3 and len(report.trend) == 24
    assert report.permalink.startswith(server.base_url + "/")

    assert (detail.exception_type, detail.exception_value) == ("ValueError", "no month 13")
    assert detail.permalink == report.permalink
    assert detail.environment == "drill" and detail.release == "files-web@2026.11.21"
    innermost = detail.frames[-1]
    assert innermost.function == "_render_report"
    assert innermost.filename.endswith("test_sentry_world.py")
    assert innermost.in_app
    assert innermost.context_line == '        raise ValueError(f"no month {month}")'
    assert innermost.pre_context[-1] == "    if month > 12:"
    assert innermost.lineno is not None and innermost.platform == "python"
