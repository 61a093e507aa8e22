"""Deploys from a local server speaking the GitHub Deployments API with documented payloads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from servers import serving

from cockpit.config import Secret, parse
from cockpit.config.deploys import GitHubDeploymentsConfig
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.github import GitHubDeployments

TOKEN = "ghp_test_token_value"
SHA_2 = "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d"


def deployment(ident: int, ref: str, sha: str, created: str, login: str, desc: str) -> dict:
    # Shape from https://docs.github.com/en/rest/deployments/deployments (trimmed).
    return {
        "url": f"https://api.github.com/repos/files-inc/files-web/deployments/{ident}",
        "id": ident,
        "node_id": "MDEwOkRlcGxveW1lbnQx",
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": "production",
        "environment": "production",
        "description": desc,
        "creator": {"login": login, "id": ident, "type": "User"},
        "created_at": created,
        "updated_at": created,
        "statuses_url": f"https://api.github.com/repos/files-inc/files-web/deployments/{ident}/statuses",
        "repository_url": "https://api.github.com/repos/files-inc/files-web",
        "transient_environment": False,
        "production_environment": True,
    }


def status(state: str, created: str) -> dict:
    return {
        "id": 1,
        "state": state,
        "creator": {"login": "deploy-bot"},
        "description": f"Deployment {state}",
        "environment": "production",
        "target_url": "https://example.com/deployment/42/output",
        "created_at": created,
        "updated_at": created,
        "log_url": "https://example.com/deployment/42/output",
    }


@dataclass
class FakeGitHub:
    deployments: list[dict] = field(default_factory=list)
    statuses: dict[int, list[dict]] = field(default_factory=dict)
    etag: str = '"v1"'
    answer: tuple[int, dict[str, str], bytes] | None = None  # forced reply to every request
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_server(fake: FakeGitHub) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def reply(self, code: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with fake.lock:
                fake.requests.append(
                    {
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "authorization": self.headers.get("Authorization"),
                        "if_none_match": self.headers.get("If-None-Match"),
                        "accept": self.headers.get("Accept"),
                    }
                )
            if fake.answer is not None:
                code, headers, body = fake.answer
                self.reply(code, body, headers)
                return
            prefix = "/api/v3/repos/files-inc/files-web/deployments"
            if parts.path == prefix:
                if self.headers.get("If-None-Match") == fake.etag:
                    self.reply(304, b"", {"ETag": fake.etag})
                    return
                env = parse_qs(parts.query).get("environment", [None])[0]
                items = [d for d in fake.deployments if env is None or d["environment"] == env]
                body = json.dumps(items).encode()
                self.reply(200, body, {"ETag": fake.etag, "Content-Type": "application/json"})
                return
            if parts.path.startswith(prefix + "/") and parts.path.endswith("/statuses"):
                ident = int(parts.path[len(prefix) + 1 : -len("/statuses")])
                body = json.dumps(fake.statuses.get(ident, [])).encode()
                self.reply(200, body, {"Content-Type": "application/json"})
                return
            self.reply(404, b'{"message": "Not Found"}', {"Content-Type": "application/json"})

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub(
        deployments=[
            deployment(3, "v3", "c" * 40, "2024-08-02T07:30:00Z", "carol", "failed rollout"),
            deployment(2, SHA_2, SHA_2, "2024-08-02T06:52:00Z", "bob", "pool \x1b[31msessions"),
            deployment(1, "v1", "b" * 40, "2024-08-01T10:00:00Z", "alice", "Deploy v1"),
        ],
        statuses={
            3: [status("failure", "2024-08-02T07:31:00Z")],
            # Newest first, as the API returns them.
            2: [status("success", "2024-08-02T06:53:00Z"), status("in_progress", "x")],
            1: [status("inactive", "2024-08-02T06:53:00Z")],
        },
    )
    with serving(make_server(fake)) as server:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/v3"


def make_source(base_url: str, **kw: Any) -> GitHubDeployments:
    cfg = GitHubDeploymentsConfig(
        name="gh",
        owner="files-inc",
        repo="files-web",
        base_url=base_url,
        environment="production",
        token=Secret(TOKEN, "env:GITHUB_TOKEN"),
        **kw,
    )
    return GitHubDeployments(cfg)


async def test_deployments_with_their_latest_status(github: tuple[FakeGitHub, str]) -> None:
    fake, base = github
    source = make_source(base)
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    # The failed one changed nothing and is left out.
    assert [d.version for d in reading.deploys] == ["a84d88e", "v1"]
    newest = reading.deploys[0]
    assert newest.service == "files-web"  # the repository's name by default
    assert newest.who == "bob"
    assert newest.at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    assert newest.summary == "[success] pool \ufffdsessions"
    assert reading.deploys[1].summary == "[inactive] Deploy v1"

    listing = fake.requests[0]
    assert listing["path"] == "/api/v3/repos/files-inc/files-web/deployments"
    assert listing["query"]["environment"] == ["production"]
    assert listing["authorization"] == f"Bearer {TOKEN}"
    assert listing["accept"] == "application/vnd.github+json"
    status_paths = sorted(r["path"] for r in fake.requests[1:])
    assert status_paths == [
        f"/api/v3/repos/files-inc/files-web/deployments/{n}/statuses" for n in (1, 2, 3)
    ]


async def test_unchanged_list_is_asked_with_its_etag(github: tuple[FakeGitHub, str]) -> None:
    fake, base = github
    source = make_source(base, include_failed=True, service="web")
    try:
        first = await source.poll()
        fake.requests.clear()
        second = await source.poll()
    finally:
        await source.aclose()
    assert first == second
    assert [d.version for d in second.deploys] == ["v3", "a84d88e", "v1"]
    assert second.deploys[0].summary == "[failure] failed rollout"
    assert second.deploys[0].service == "web"
    # One conditional request; settled statuses are not asked again.
    assert [(r["path"], r["if_none_match"]) for r in fake.requests] == [
        ("/api/v3/repos/files-inc/files-web/deployments", '"v1"')
    ]


@pytest.mark.parametrize(
    ("code", "headers", "body", "message"),
    [
        (401, {}, b'{"message": "Bad credentials"}', "401 from 127.0.0.1:"),
        (404, {}, b'{"message": "Not Found"}', "no repository files-inc/files-web"),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1722581000"},
            b'{"message": "API rate limit exceeded"}',
            "rate limited by 127.0.0.1",
        ),
        (502, {}, b"<html>bad gateway</html>", "HTTP 502 from 127.0.0.1"),
        (200, {}, b"not json", "malformed JSON"),
        (200, {}, b'{"message": "x"}', "not a list of deployments"),
        (500, {}, json.dumps({"message": f"echo {TOKEN}"}).encode(), "echo ***"),
    ],
)
async def test_errors_are_clear_and_hold_no_token(
    github: tuple[FakeGitHub, str], code: int, headers: dict, body: bytes, message: str
) -> None:
    fake, base = github
    fake.answer = (code, headers, body)
    source = make_source(base)
    try:
        with pytest.raises(SourceError) as failed:
            await source.poll()
    finally:
        await source.aclose()
    assert message in str(failed.value)
    assert TOKEN not in str(failed.value)


async def test_connection_refused() -> None:
    # Bind and close: nothing listens on that port any more.
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    source = make_source(f"http://127.0.0.1:{port}/api/v3")
    try:
        with pytest.raises(SourceError, match=f"connection refused by 127.0.0.1:{port}"):
            await source.poll()
    finally:
        await source.aclose()


def test_config_reads_the_token_from_the_environment() -> None:
    text = """
[[deploys]]
name = "gh"
kind = "github"
owner = "files-inc"
repo = "files-web"
base_url = "https://github.example.com/api/v3"
token_env = "GH_TOKEN"
"""
    config = parse(text, env={"GH_TOKEN": TOKEN})
    cfg = config.deploys[0]
    assert isinstance(cfg, GitHubDeploymentsConfig)
    assert cfg.token is not None and cfg.token.reveal() == TOKEN
    assert TOKEN not in repr(cfg)
