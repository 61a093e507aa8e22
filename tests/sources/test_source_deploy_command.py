"""Deploys printed by a real program as JSON, and every way its output can be wrong."""

from __future__ import annotations

import json
import os
import select
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.config.deploys import CommandDeploysConfig
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.command import CommandDeploys

PY = sys.executable


def printer(tmp_path: Path, body: str) -> tuple[str, ...]:
    path = tmp_path / "list_deploys.py"
    path.write_text(textwrap.dedent(body))
    return (PY, str(path))


def source(command: tuple[str, ...], **kw: object) -> CommandDeploys:
    cfg = CommandDeploysConfig(name="cmd", command=command, **kw)  # type: ignore[arg-type]
    return CommandDeploys(cfg)


RECORDS = [
    {"service": "files-web", "version": "1", "who": "alice", "at": "2024-08-01T10:00:00Z"},
    {
        "service": "files-web",
        "version": "2",
        "who": "bob",
        "at": "2024-08-02T08:52:00+02:00",
        "summary": "pool \u001b]0;owned\u0007sessions",
    },
]


async def test_a_json_array(tmp_path: Path) -> None:
    command = printer(tmp_path, f"import json\nprint(json.dumps({RECORDS!r}))\n")
    reading = await source(command).poll()
    assert [d.version for d in reading.deploys] == ["2", "1"]
    newest = reading.deploys[0]
    assert newest.at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    assert newest.summary == "pool \ufffdsessions"
    assert newest.source == "cmd"


async def test_json_lines_with_a_default_service(tmp_path: Path) -> None:
    records = [{k: v for k, v in r.items() if k != "service"} for r in RECORDS]
    lines = "\n".join(json.dumps(r) for r in records)
    command = printer(tmp_path, f"print({lines!r})\n")
    reading = await source(command, service="files-web", max_deploys=1).poll()
    [deploy] = reading.deploys
    assert (deploy.service, deploy.version) == ("files-web", "2")


async def test_no_output_is_no_deploys(tmp_path: Path) -> None:
    assert (await source(printer(tmp_path, "pass\n")).poll()).deploys == ()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ('[{"service": "a", "version": "1"', "output is not valid JSON"),
        ('{"a": 1}', 'output line 1 is not a deploy: no "service" string'),
        (
            '{"service": "a", "version": "1", "at": "2024-08-01T10:00:00Z"}\nnot json',
            "output line 2 is not JSON: 'not json'",
        ),
        ('[{"service": "a", "version": "1", "at": "yesterday"}]', "item 1 is not a deploy"),
        ('{"deploys": []}', 'line 1 is not a deploy: no "service"'),
        ("[1, 2]", "item 1 is not a deploy: not a JSON object"),
    ],
)
async def test_bad_output_is_a_clear_error(tmp_path: Path, output: str, message: str) -> None:
    command = printer(tmp_path, f"print({output!r})\n")
    with pytest.raises(SourceError) as failed:
        await source(command).poll()
    assert message in str(failed.value)


async def test_failing_program_says_why(tmp_path: Path) -> None:
    command = printer(
        tmp_path,
        """
        import sys
        print("partial output")
        print("deploy api: 503 \\x1b[31mService Unavailable\\x1b[0m", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(SourceError) as failed:
        await source(command).poll()
    assert (
        str(failed.value)
        == f"{PY} failed (exit 3): deploy api: 503 \ufffdService Unavailable\ufffd"
    )


async def test_too_much_output_is_refused(tmp_path: Path) -> None:
    command = printer(tmp_path, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    with pytest.raises(SourceError, match="printed more than 4096 bytes"):
        await source(command, max_output_bytes=4096).poll()


async def test_a_hanging_program_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    command = (
        "/bin/sh",
        "-c",
        f"sleep 600 & echo $! > {pid_file}; wait",
    )
    with pytest.raises(SourceError, match="timed out after 2s"):
        await source(command, timeout=2.0).poll()
    assert _ended(int(pid_file.read_text()))


async def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot start .*: not found"):
        await source((str(tmp_path / "nope"),)).poll()


def _ended(pid: int) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 30)
    finally:
        os.close(fd)
    return bool(readable)
