"""Reverting through the HTTP executor against a local server that records each request."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from revert_world import wait_gone
from servers import serving

from cockpit.actions.audit import attempts, read_audit
from cockpit.actions.revert import RevertPlan, plan_revert, run_revert
from cockpit.config import ConfigError, parse
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Deploy

TOKEN = "deploy-api-token-123"
T0 = datetime(2024, 8, 2, 6, 0, tzinfo=UTC)
HOSTILE = '1.2; rm -rf / $(id) ../../admin?x=1&y="q"'


@dataclass
class Recorder:
    status: int = 200
    body: bytes = b'{"rollback": "queued"}\nline two\n'
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_server(rec: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with rec.lock:
                rec.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                        "x_env": self.headers.get("X-Env"),
                    }
                )
            self.send_response(rec.status)
            self.send_header("Content-Length", str(len(rec.body)))
            self.end_headers()
            self.wfile.write(rec.body)

        do_POST = do_PUT = do_GET = handle_any

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def api() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()
    with serving(make_server(rec)) as server:
        yield rec, f"http://127.0.0.1:{server.server_address[1]}"


def history(previous: str = "1") -> list[Deploy]:
    return [
        Deploy("files-web", "2", "bob", T0 + timedelta(minutes=52), "pool sessions"),
        Deploy("files-web", previous, "alice", T0, "stable"),
    ]


def http_plan(base: str, previous: str = "1", extra: str = "") -> RevertPlan:
    text = f"""
[[services]]
name = "files-web"
revert_url = "{base}/api/services/{{service}}/rollback?to={{previous.version}}"
revert_method = "post"
revert_body = '''{{"service": "{{service}}",
  "from": "{{current.version}}", "to": "{{previous.version}}"}}'''
revert_headers = {{ X-Env = "production" }}
revert_token_env = "DEPLOY_TOKEN"
revert_timeout = 10
{extra}
"""
    config = parse(text, env={"DEPLOY_TOKEN": TOKEN})
    return plan_revert(config.service("files-web"), history(previous))


async def run(plan: RevertPlan, store: IncidentStore, data_dir: Path) -> tuple[Any, list[str]]:
    lines: list[str] = []
    outcome = await run_revert(
        plan, store=store, data_dir=data_dir, user="alice", on_output=lines.append
    )
    return outcome, lines


async def test_the_request_is_sent_as_planned(
    api: tuple[Recorder, str], store: IncidentStore, tmp_path: Path
) -> None:
    rec, base = api
    plan = http_plan(base)
    assert plan.executor == "http"
    assert plan.command_line().startswith(f"POST {base}/api/services/files-web/rollback?to=1 ")
    assert "Bearer token from env:DEPLOY_TOKEN" in plan.command_line()
    assert TOKEN not in plan.command_line() and TOKEN not in repr(plan)

    outcome, lines = await run(plan, store, tmp_path)
    assert outcome.ok and outcome.reason == "ok" and outcome.http_status == 200
    [request] = rec.requests
    assert request["method"] == "POST"
    assert request["path"] == "/api/services/files-web/rollback?to=1"
    assert json.loads(request["body"]) == {"service": "files-web", "from": "2", "to": "1"}
    assert request["authorization"] == f"Bearer {TOKEN}"
    assert request["content_type"] == "application/json"
    assert request["x_env"] == "production"
    assert "< HTTP 200 OK" in lines
    assert outcome.output_tail[-2:] == ('{"rollback": "queued"}', "line two")

    assert [e.kind for e in store.events()] == ["revert.started", "revert.finished"]
    [entry] = attempts(read_audit(tmp_path))
    assert entry["ok"] is True and entry["http_status"] == 200
    assert entry["plan"]["executor"] == "http"
    assert entry["plan"]["request"]["token"] == "env:DEPLOY_TOKEN"
    assert TOKEN not in json.dumps(entry)


async def test_a_hostile_version_cannot_change_the_request(
    api: tuple[Recorder, str], store: IncidentStore, tmp_path: Path
) -> None:
    rec, base = api
    outcome, _ = await run(http_plan(base, previous=HOSTILE), store, tmp_path)
    assert outcome.ok
    [request] = rec.requests
    # Quoted into the query value: no new path segment, no new parameter.
    path, _, query = request["path"].partition("?")
    assert path == "/api/services/files-web/rollback"
    assert query.count("=") == 1 and "&" not in query
    assert json.loads(request["body"])["to"] == HOSTILE  # one JSON string, as written


async def test_a_5xx_answer_is_a_failure_with_its_body(
    api: tuple[Recorder, str], store: IncidentStore, tmp_path: Path
) -> None:
    rec, base = api
    rec.status = 503
    rec.body = f"deploy api overloaded \x1b[31m(echo: Bearer {TOKEN})\n".encode()
    outcome, lines = await run(http_plan(base), store, tmp_path)
    assert not outcome.ok and outcome.http_status == 503
    assert outcome.reason.startswith("HTTP 503 from 127.0.0.1:")
    assert lines[-1] == "deploy api overloaded \ufffd(echo: Bearer ***)"  # inert, token hidden
    finished = store.events()[-1]
    assert finished.kind == "revert.finished" and "failed: HTTP 503" in finished.text
    [entry] = attempts(read_audit(tmp_path))
    assert entry["result"] == "failed" and TOKEN not in json.dumps(entry)


async def test_connection_refused(store: IncidentStore, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    outcome, _ = await run(http_plan(f"http://127.0.0.1:{port}"), store, tmp_path)
    assert not outcome.ok
    assert outcome.reason == f"connection refused by 127.0.0.1:{port}"
    assert [e.kind for e in store.events()] == ["revert.started", "revert.finished"]
    assert attempts(read_audit(tmp_path))[0]["result"] == "failed"


async def test_dry_run_sends_nothing(
    api: tuple[Recorder, str], store: IncidentStore, tmp_path: Path
) -> None:
    rec, base = api
    outcome, lines = await run(http_plan(base, extra="dry_run = true"), store, tmp_path)
    assert outcome.ok and outcome.dry_run
    assert rec.requests == []
    assert lines[-1].startswith(f"dry run: would run: POST {base}/api/services/files-web/")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('revert = ["deployctl"]', "choose one way to revert"),
        ('revert_headers = { Authorization = "Bearer x" }', "credentials go in revert_token_env"),
        ("revert_body = '{not json'", "not a JSON document"),
    ],
)
def test_config_refuses_ambiguous_or_unsafe_http(extra: str, message: str) -> None:
    text = f"""
[[services]]
name = "files-web"
revert_url = "http://127.0.0.1:1/rollback"
{extra}
"""
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_config_refuses_a_service_with_nothing_to_do() -> None:
    with pytest.raises(ConfigError, match="nothing to do for this service"):
        parse('[[services]]\nname = "files-web"\n')


async def test_a_server_that_never_answers_times_out(store: IncidentStore, tmp_path: Path) -> None:
    # A listening socket nobody accepts from: the kernel completes the handshake, then silence.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        plan = http_plan(f"http://127.0.0.1:{port}", extra="")
        plan = replace(plan, timeout=1.0)
        outcome, _ = await run(plan, store, tmp_path)
    assert not outcome.ok
    assert outcome.reason == f"timed out after 1s: no full answer from 127.0.0.1:{port}"
    assert attempts(read_audit(tmp_path))[0]["result"] == "timed out"
    assert [e.kind for e in store.events()] == ["revert.started", "revert.finished"]


async def test_a_token_echoed_to_a_supervised_revert_is_kept_nowhere(
    api: tuple[Recorder, str], tmp_path: Path
) -> None:
    """As the cockpit runs it: under its own supervisor process, which gets the plan (and its
    token) pickled. The server echoes the token; no file in the data dir keeps it."""
    from cockpit.actions.runs import follow_run, start_run
    from cockpit.config import Secret

    rec, base = api
    rec.status = 500
    other = Secret("sentry-token-from-the-config-42", "env:SENTRY_TOKEN")  # read with the config
    # Echoed as servers do: changed in case, or quoted into a URL; and another secret.
    rec.body = (
        f"ROLLBACK REFUSED FOR BEARER {TOKEN.upper()}\nsee /why?t={TOKEN}%20\n"
        f"{other.reveal()} was in the environment\n"
    ).encode()
    data = tmp_path / "data"
    run = await start_run(data, http_plan(base), "alice")
    shown: list[str] = []
    ended = await follow_run(run, shown.append)
    outcome = ended.outcome()
    assert outcome is not None and outcome.http_status == 500
    assert rec.requests[0]["authorization"] == f"Bearer {TOKEN}"  # it was sent, as planned
    assert any("BEARER ***" in line for line in shown), shown
    # The result is on record before the supervisor is done: its timeline events go to the
    # store in the background after it, and its raw output file is removed last. What it
    # keeps is what is there once it has exited.
    assert ended.supervisor_pid is not None
    assert await asyncio.to_thread(wait_gone, ended.supervisor_pid, 30), "supervisor still runs"
    kept = {p: p.read_bytes().lower() for p in data.rglob("*") if p.is_file()}
    assert any(p.name == "output.log" for p in kept) and any(p.suffix == ".sqlite3" for p in kept)
    for secret in (TOKEN, other.reveal()):
        assert [p for p, content in kept.items() if secret.encode() in content] == [], secret
