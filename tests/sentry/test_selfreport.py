"""The cockpit reporting its own errors: a real cockpit process sends through the real sentry-sdk
to the drill world's Sentry ingest, and what arrives carries no credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit import crash_report as selfreport
from cockpit.config import Secret, SentryConfig, parse
from cockpit.crash_report import FILTERED, RELEASE, chosen_dsn, scrub_event, secrets_in
from cockpit.sentry.source import SentryIssuesSource
from cockpit.world.sentry.api import SentryServer
from cockpit.world.sentry.issues import Project

ROOT = Path(__file__).resolve().parents[2]
READ_TOKEN = "sntrys_read_token_for_the_test_0123"
CONFIG_SECRET = "cfg-Secret-7f3a9b21e4"  # a token held by the cockpit's config
OTHER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload.sig"  # a token the cockpit never registered

CHILD = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys

    from cockpit import crash_report as selfreport
    from cockpit.config import parse
    from cockpit.sources.base import SourceError

    SECRET = os.environ["TEST_SECRET"]
    OTHER = os.environ["TEST_OTHER"]
    CONFIG = '''
    [[sentry]]
    name = "sentry"
    base_url = "https://sentry.io"
    org = "files"
    token_env = "SENTRY_TOKEN"
    '''


    async def panel() -> None:
        raise ValueError(f"panel crashed holding {SECRET}")


    async def main() -> dict:
        config = parse(CONFIG, env={"SENTRY_TOKEN": SECRET})
        dsn = config.cockpit.self_report_dsn
        active = selfreport.init_self_report(
            dsn, os.environ, secrets=selfreport.secrets_in(config)
        )
        out = {"active": active, "imported": "sentry_sdk" in sys.modules}
        if not active:
            out["reported"] = selfreport.report_exception(RuntimeError("nobody listens"))
            out["imported_after"] = "sentry_sdk" in sys.modules
            return out
        import sentry_sdk

        sentry_sdk.set_extra("headers", {"Authorization": f"Bearer {OTHER}", "Accept": "*/*"})
        logging.getLogger("cockpit").warning(
            "asked https://bob:hunter2pw@sentry.example/api/0/?token=%s", SECRET
        )
        try:
            raise RuntimeError(
                f"poll failed for https://ci:{SECRET}@deploy.example/hook?api_key=k-123&page=2"
                f" with Authorization: Bearer {OTHER}"
            )
        except RuntimeError as exc:
            out["reported"] = selfreport.report_exception(exc)
        out["source_error_reported"] = selfreport.report_exception(SourceError("HTTP 500"))
        # An error escaping an asyncio task is caught by the asyncio integration.
        await asyncio.gather(asyncio.create_task(panel()), return_exceptions=True)
        selfreport.shutdown_self_report(timeout=5)
        return out


    print(json.dumps(asyncio.run(main())))
    """
)


def run_child(env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**base, "TEST_SECRET": CONFIG_SECRET, "TEST_OTHER": OTHER_TOKEN, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def server() -> Iterator[SentryServer]:
    running = SentryServer(
        org="files",
        project=Project(id="2", slug="oncall-cockpit", name="oncall-cockpit"),
        public_key="fedcba9876543210fedcba9876543210",
        token=READ_TOKEN,
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


async def test_errors_arrive_scrubbed(server: SentryServer) -> None:
    result = run_child({"SENTRY_DSN": server.dsn})
    assert result == {
        "active": True,
        "imported": True,
        "reported": True,
        "source_error_reported": False,
    }
    assert server.events_received == 2  # the caught error and the task's; no SourceError

    raw = [issue.latest_event for issue in server.store.all()]
    dumped = json.dumps(raw)
    for secret in (CONFIG_SECRET, OTHER_TOKEN, "hunter2pw", "k-123", "bob:"):
        assert secret not in dumped
    assert {event["release"] for event in raw} == {RELEASE}
    crumbs = [c["message"] for e in raw for c in e.get("breadcrumbs", {}).get("values", [])]
    assert f"asked https://{FILTERED}@sentry.example/api/0/?token={FILTERED}" in crumbs
    assert all(e["extra"]["headers"]["Authorization"] == FILTERED for e in raw)
    assert all(e["extra"]["headers"]["Accept"] == "*/*" for e in raw)

    # And read back the way the cockpit reads any Sentry.
    cfg = SentryConfig(
        name="sentry",
        base_url=server.base_url,
        org="files",
        token=Secret(READ_TOKEN, "env:T"),
        sort="new",
    )
    source = SentryIssuesSource(cfg)
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    assert sorted(i.title for i in reading.issues) == [
        f"RuntimeError: poll failed for https://{FILTERED}@deploy.example/hook"
        f"?api_key={FILTERED}&page=2 with Authorization: {FILTERED}",
        f"ValueError: panel crashed holding {FILTERED}",
    ]


def test_nothing_is_sent_or_imported_without_a_dsn(server: SentryServer) -> None:
    result = run_child({})
    assert result == {
        "active": False,
        "imported": False,
        "reported": False,
        "imported_after": False,
    }
    assert server.events_received == 0


def test_the_configured_dsn_wins_over_the_environment() -> None:
    env = {"SENTRY_DSN": "http://env@127.0.0.1:1/1"}
    assert chosen_dsn("http://cfg@127.0.0.1:1/2", env) == "http://cfg@127.0.0.1:1/2"
    assert chosen_dsn(None, env) == "http://env@127.0.0.1:1/1"
    assert chosen_dsn("  ", {"SENTRY_DSN": ""}) is None
    assert selfreport.init_self_report(None, {}) is False


def test_secrets_in_a_config_are_found() -> None:
    config = parse(
        """
[[sentry]]
name = "a"
base_url = "https://sentry.io"
org = "x"
token_env = "A"

[[sentry]]
name = "b"
base_url = "https://de.sentry.io"
org = "y"
token_file = "{path}"
""".replace("{path}", str(ROOT / "tests" / "fixtures" / "sentry" / "NOTICE.md")),
        env={"A": "token-a-123"},
    )
    found = secrets_in(config)
    assert found[0] == "token-a-123"
    assert len(found) == 2 and found[1].startswith("# Sentry API schema subset")


def test_scrub_event_walks_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selfreport, "_secrets", {"s3cr3t-value"})
    event = {
        "message": "x s3cr3t-value y",
        "request": {
            "url": "https://h/p?access_token=abc&q=1",
            "headers": [["Authorization", "Basic dXNlcjpwYXNz"], ["Accept", "json"]],
            "cookies": "sid=1",
        },
        "extra": {"cfg": {"password": "pw", "nested": ["Bearer abc.DEF.123", 5, None]}},
        "exception": {"values": [{"value": "token sntrys_abcdefghijklmnop leaked"}]},
        "contexts": {"session_id": "42", "secret_count": None, "token_ok": True},
    }
    scrubbed = scrub_event(event)
    assert scrubbed["message"] == f"x {FILTERED} y"
    assert scrubbed["request"]["url"] == f"https://h/p?access_token={FILTERED}&q=1"
    assert scrubbed["request"]["headers"] == [["Authorization", FILTERED], ["Accept", "json"]]
    assert scrubbed["request"]["cookies"] == FILTERED
    assert scrubbed["extra"]["cfg"]["password"] == FILTERED
    assert scrubbed["extra"]["cfg"]["nested"] == [f"Bearer {FILTERED}", 5, None]
    assert scrubbed["exception"]["values"][0]["value"] == f"token {FILTERED} leaked"
    assert scrubbed["contexts"] == {"session_id": FILTERED, "secret_count": None, "token_ok": True}
    assert "s3cr3t" not in json.dumps(scrubbed)
