"""Opened in the middle of an incident, end to end: a real nginx has already logged a 5xx spike
on one route when the cockpit starts; the world's Sentry knows only an unrelated issue on
another route. The first judgement: DEGRADED, the spike dated by its own first bucket, the
deploy just before it as suspect (not the one made during it), and a blind spot naming the
failing route with its share of the 5xx."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nginx_servers import running_nginx, wait_for_lines

from cockpit.config import parse
from cockpit.runtime import Cockpit
from cockpit.timeutil import iso_utc, utcnow
from cockpit.world.sentry.api import SentryServer
from cockpit.world.sentry.issues import Project

TOKEN = "first-look-read-token"


def routed_server(prefix: Path, port: int, upstream: int) -> str:
    # Each route answers the status the client asks for (?s=503): the route is the path.
    return f"""server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream}/status/$arg_s;
            proxy_http_version 1.1;
        }}
    }}"""


@pytest.fixture
def sentry() -> Iterator[SentryServer]:
    server = SentryServer(
        org="files", project=Project("2", "files-web", "files-web"), public_key="k", token=TOKEN
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def report_error(sentry: SentryServer) -> None:
    """The unrelated bug, as sentry-sdk reports it: a ValueError in the /report transaction."""
    event = {
        "level": "error",
        "transaction": "/report",
        "exception": {"values": [{"type": "ValueError", "value": "end before start"}]},
    }
    sentry.store.ingest("2", event, utcnow())


def get(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except urllib.error.HTTPError as err:
        err.read()


def traffic(base: str, seconds: float, session_status: int, sentry: SentryServer) -> int:
    """About 40 requests a second: /files and /session, and now and then the /report bug."""
    sent, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        get(f"{base}/files/{sent % 7}?s=200")
        get(f"{base}/session?s={session_status if sent % 2 else 200}")
        sent += 2
        if sent % 20 == 0:
            get(f"{base}/report?s=500")
            report_error(sentry)
            sent += 1
        time.sleep(0.04)
    return sent


def deploy(log: Path, version: str, at: datetime) -> None:
    record = {"service": "files-web", "version": version, "who": "alice", "at": iso_utc(at)}
    with log.open("a", encoding="utf-8") as out:
        out.write(json.dumps({**record, "summary": f"release {version}"}) + "\n")


async def test_opened_on_a_log_that_already_holds_a_spike(
    tmp_path: Path, sentry: SentryServer
) -> None:
    deploys = tmp_path / "deploys.jsonl"
    deploy(deploys, "v1", utcnow() - timedelta(hours=3))
    with running_nginx(tmp_path, routed_server) as nginx:
        sent = traffic(nginx.url, 4.0, 200, sentry)  # the quiet time before
        # The bad release goes out on a whole second, so its bucket is the spike's first.
        await asyncio.sleep(1 - utcnow().timestamp() % 1 + 0.05)
        bad_at = utcnow()
        deploy(deploys, "v2", bad_at)
        sent += traffic(nginx.url, 2.0, 503, sentry)
        deploy(deploys, "v3", utcnow())  # made during the spike: not its cause
        sent += traffic(nginx.url, 2.0, 503, sentry)
        wait_for_lines(sent, nginx.access_log)
        (tmp_path / "token").write_text(TOKEN)
        config = parse(
            f"""
[cockpit]
service = "files-web"

[detect]
blind_spot_grace = 0

[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = "{deploys}"

[[errors]]
name = "edge"
kind = "nginx_combined"
path = "{nginx.access_log}"
bucket_seconds = 1
window = 60
read_back = 60

[[sentry]]
name = "sentry"
base_url = "{sentry.base_url}"
org = "files"
project = ["files-web"]
token_file = "{tmp_path / "token"}"
""",
            None,
            env={},
        )
        cockpit = Cockpit(config, tmp_path / "data")
        try:
            views = cockpit.views(min_gap=0.05)
            deadline = time.monotonic() + 15
            async for view in views:
                a = view.assessment
                if (a.blind_spot and a.suspect) or time.monotonic() > deadline:
                    break
        finally:
            await cockpit.aclose()
    assert a.degraded and a.found_on_open
    (spike,) = a.spikes
    first_bucket = bad_at.replace(microsecond=0)
    assert spike.start_known and spike.start == first_bucket, (spike, bad_at)
    assert spike.baseline < 0.06  # the /report trickle before it, not the spike itself
    assert a.suspect is not None and a.suspect.version == "v2"
    assert a.first_failure_at is not None and a.first_failure_at >= first_bucket
    assert a.blind_spot is not None, a
    assert [str(r.route.path) for r in a.blind_routes][:1] == ["/session"]
    assert a.blind_routes[0].share > 0.8
    assert "/session" in a.blind_spot and "/report" not in a.blind_spot
    started = next(e for e in view.timeline if e.kind == "spike.start")
    assert started.at == first_bucket and "found on open" in started.text
    assert first_bucket.tzinfo is UTC
