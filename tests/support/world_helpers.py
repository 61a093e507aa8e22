"""Shared helpers for the drill world's tests."""

from __future__ import annotations

import asyncio
import base64
import ftplib
import http.client
import json
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncssh
import httpx

REPO = Path(__file__).resolve().parents[2]
SENTRY_SCHEMA = REPO / "tests" / "fixtures" / "sentry" / "openapi-issues-subset.json"

ORG_ISSUES = "/api/0/organizations/{organization_id_or_slug}/issues/"
ORG_ISSUE = "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/"
ORG_ISSUE_EVENT = (
    "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/events/{event_id}/"
)

# Sessions in these tests stay open long enough that requests sent "at once" surely overlap,
# even on a loaded machine. Correctness does not depend on it being any particular value.
TEST_SESSION_HOLD = 0.5

_LINK = re.compile(r'<([^>]*)>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]*)"')


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Re-check a condition until it holds; fails the test if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def simultaneous(urls: list[str]) -> list[tuple[int, bytes]]:
    """GETs on separate, already-open connections, released together: (status, body) per URL."""
    connections = []
    for url in urls:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        connection.connect()
        connections.append(connection)
    barrier = threading.Barrier(len(urls))
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(urls)

    def one(index: int) -> None:
        parts = urlsplit(urls[index])
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        barrier.wait()
        connections[index].request("GET", target)
        response = connections[index].getresponse()
        answers[index] = (response.status, response.read())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return answers


def simultaneous_gets(url: str, count: int) -> list[int]:
    """Statuses of `count` simultaneous GETs of one URL, sorted."""
    return sorted(status for status, _ in simultaneous([url] * count))


def current_version(healthz_url: str) -> str:
    return str(httpx.get(healthz_url, timeout=5).json()["version"])


# ---------------------------------------------------------------------------------------------
# Sentry


def read_token(token_file: Path) -> str:
    return token_file.read_text().strip()


def parse_link(header: str) -> dict[str, tuple[str, bool, str]]:
    """rel -> (url, results, cursor)"""
    found = {
        m.group(2): (m.group(1), m.group(3) == "true", m.group(4)) for m in _LINK.finditer(header)
    }
    assert set(found) == {"previous", "next"}, header
    return found


def openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 marks nullable values with `nullable: true`; JSON Schema spells it as a type."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi_to_jsonschema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(path: str, *, item: bool = False) -> dict[str, Any]:
    document = json.loads(SENTRY_SCHEMA.read_text())
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    converted = openapi_to_jsonschema(schema["schema"])
    return converted["items"] if item else converted


def response_examples(path: str) -> list[Any]:
    document = json.loads(SENTRY_SCHEMA.read_text())
    content = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return [example["value"] for example in content.get("examples", {}).values()]


# ---------------------------------------------------------------------------------------------
# Processes


def read_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The next stdout line of a child, without hanging the test if it never comes."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("no line from the child process in time")
    return process.stdout.readline()


def run_deployctl(
    root: Path, *args: str, user: str = "oncall-tester"
) -> subprocess.CompletedProcess[str]:
    """deployctl as a real subprocess, the way an operator or a cockpit action runs it."""
    env = {**os.environ, "USER": user, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "cockpit.world.deployctl", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


# ---------------------------------------------------------------------------------------------
# FTP, SFTP, WebDAV clients against a world


def world_password(password_file: Path) -> str:
    return password_file.read_text().strip()


def ftp_login(url: str, user: str, password: str) -> ftplib.FTP:
    """A logged-in FTP session (the caller closes it); raises ftplib errors on refusal."""
    parts = urlsplit(url)
    ftp = ftplib.FTP()
    try:
        ftp.connect(parts.hostname or "", parts.port or 21, timeout=10)
        ftp.login(user, password)
    except BaseException:
        ftp.close()
        raise
    return ftp


async def sftp_list(
    url: str, user: str, password: str, known_hosts: Path, *, hold: asyncio.Event | None = None
) -> list[str]:
    """Log in over SFTP and list `/`; with `hold`, keep the session open until it is set."""
    parts = urlsplit(url)
    async with (
        asyncssh.connect(
            parts.hostname or "",
            parts.port or 22,
            username=user,
            password=password,
            known_hosts=str(known_hosts),
            client_keys=None,
            agent_path=None,
        ) as connection,
        connection.start_sftp_client() as sftp,
    ):
        names = sorted(await sftp.listdir("/"))
        if hold is not None:
            await hold.wait()
        return names


def sftp_refused(url: str, user: str, password: str, known_hosts: Path) -> bool:
    try:
        asyncio.run(sftp_list(url, user, password, known_hosts))
    except asyncssh.PermissionDenied:
        return True
    return False


def propfind(url: str, user: str | None, password: str, **headers: str) -> httpx.Response:
    auth = (user, password) if user is not None else None
    return httpx.request("PROPFIND", url, headers={"Depth": "1", **headers}, auth=auth, timeout=10)


def simultaneous_propfinds(url: str, user: str, password: str, count: int) -> list[int]:
    """Statuses of `count` PROPFINDs on already-open connections, released together; sorted."""
    parts = urlsplit(url)
    secret = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {secret}", "Depth": "0"}
    connections = []
    for _ in range(count):
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        connection.connect()  # no request yet: every request would be a session
        connections.append(connection)
    barrier = threading.Barrier(count)
    statuses = [0] * count

    def one(index: int) -> None:
        barrier.wait()
        connections[index].request("PROPFIND", parts.path or "/", headers=headers)
        response = connections[index].getresponse()
        response.read()
        statuses[index] = response.status

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return sorted(statuses)
