"""The drill world's service: the simultaneous-session bug, health, files, the access log."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from world_helpers import TEST_SESSION_HOLD, simultaneous, simultaneous_gets

from cockpit.world.accesslog import combined_line, escape, time_local
from cockpit.world.world import World

# nginx `combined`, field by field.
_QUOTED = r'(?:[^"\\]|\\x[0-9A-F]{2})*'  # nginx escapes " and \ as \xHH
COMBINED = re.compile(
    rf'^(?P<addr>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>{_QUOTED})" '
    rf'(?P<status>\d{{3}}) (?P<bytes>\d+) "(?P<referer>{_QUOTED})" "(?P<agent>{_QUOTED})"$'
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(
        tmp_path / "world", bad_deploy_after=None, traffic=False, session_hold=TEST_SESSION_HOLD
    ) as running:
        yield running


def log_lines(world: World) -> list[str]:
    return world.access_log_path.read_text().splitlines()


def test_simultaneous_sessions_all_succeed_on_the_good_release(world: World) -> None:
    assert world.urls is not None
    assert simultaneous_gets(world.urls.session, 4) == [200, 200, 200, 200]


def test_bad_release_fails_every_second_simultaneous_session(world: World) -> None:
    assert world.urls is not None
    world.deploy_bad()
    assert world.bad_deployed.is_set()

    assert simultaneous_gets(world.urls.session, 4) == [200, 503, 503, 503]
    single = httpx.get(world.urls.session, timeout=10)
    assert single.status_code == 200
    assert single.json() == {"session": "ok"}
    assert httpx.get(world.urls.healthz, timeout=5).status_code == 200

    conflict = [line for line in log_lines(world) if '"GET /session HTTP/1.1" 503' in line]
    assert len(conflict) == 3


def test_the_bug_is_per_user(world: World) -> None:
    """One customer's parallel sessions collide; different customers at once do not."""
    assert world.urls is not None
    world.deploy_bad()
    a, b = world.urls.session + "?user=a", world.urls.session + "?user=b"
    answers = simultaneous([a, a, b, b])
    assert sorted(status for status, _ in answers[:2]) == [200, 503]
    assert sorted(status for status, _ in answers[2:]) == [200, 503]


def test_conflict_answer_is_json(world: World) -> None:
    assert world.urls is not None
    world.deploy_bad()
    answers = sorted(simultaneous([world.urls.session] * 2))
    assert [(status, json.loads(body)) for status, body in answers] == [
        (200, {"session": "ok"}),
        (503, {"error": "session table conflict"}),
    ]


def test_health_files_report_and_unknown_paths(world: World) -> None:
    assert world.urls is not None
    health = httpx.get(world.urls.healthz, timeout=5)
    assert health.json() == {"status": "ok", "service": "files-web", "version": world.good_version}
    files = httpx.get(world.urls.service + "/files/exports/00042.dat", timeout=5)
    assert files.status_code == 200
    assert files.json()["path"] == "exports/00042.dat"
    assert httpx.get(world.urls.report, timeout=5).status_code == 500
    fixed = httpx.get(world.urls.report + "?from=2026-11-01&to=2026-11-30", timeout=5)
    assert fixed.status_code == 200
    assert httpx.get(world.urls.service + "/nope", timeout=5).status_code == 404
    assert httpx.post(world.urls.healthz, timeout=5).status_code == 501


def test_access_log_has_one_valid_combined_line_per_request(world: World) -> None:
    assert world.urls is not None
    world.deploy_bad()
    expected: list[tuple[str, int]] = []
    with httpx.Client(timeout=10) as client:
        for path in ("/healthz", "/files/a.txt", "/report", "/nope", "/session"):
            response = client.get(world.urls.service + path)
            expected.append((f"GET {path} HTTP/1.1", response.status_code))
        odd = client.get(
            world.urls.healthz,
            headers=[
                (b"User-Agent", 'say "hi"\\ café'.encode()),
                (b"Referer", b"http://example.test/x"),
            ],
        )
        expected.append(("GET /healthz HTTP/1.1", odd.status_code))
    for status in simultaneous_gets(world.urls.session, 3):
        expected.append(("GET /session HTTP/1.1", status))
    # A request line the server cannot parse is logged too, as nginx does.
    assert world.service.port
    with socket.create_connection(("127.0.0.1", world.service.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        while raw.recv(4096):  # the server answers, then closes
            pass
    expected.append(("NONSENSE", 400))

    lines = log_lines(world)
    assert len(lines) == len(expected)
    parsed = [COMBINED.match(line) for line in lines]
    assert all(parsed), [line for line, m in zip(lines, parsed, strict=True) if not m]
    now = datetime.now(UTC)
    for match in parsed:
        assert match is not None
        assert match["addr"] == "127.0.0.1"
        assert match["user"] == "-"
        when = datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z")
        assert when.utcoffset() == timedelta(0)
        assert abs(now - when) < timedelta(minutes=5)
    got = sorted((m["request"], int(m["status"])) for m in parsed if m is not None)
    assert got == sorted(expected)
    odd_line = next(m for m in parsed if m is not None and "say" in m["agent"])
    assert odd_line["agent"] == r"say \x22hi\x22\x5C caf\xC3\xA9"
    assert odd_line["referer"] == "http://example.test/x"


def test_combined_line_matches_nginx_byte_for_byte() -> None:
    when = datetime(2026, 11, 21, 8, 15, 2, tzinfo=UTC)
    line = combined_line(
        remote_addr="127.0.0.1",
        when=when,
        request_line="GET /session HTTP/1.1",
        status=503,
        body_bytes=42,
        user_agent="probe/1.0",
    )
    assert line == (
        '127.0.0.1 - - [21/Nov/2026:08:15:02 +0000] "GET /session HTTP/1.1" 503 42 "-" "probe/1.0"'
    )
    assert time_local(datetime(2026, 1, 5, 0, 0, 9, tzinfo=UTC)) == "05/Jan/2026:00:00:09 +0000"
    assert escape("\x1b[31m\t") == r"\x1B[31m\x09"
