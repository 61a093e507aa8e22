"""Carrying out reverts with real child processes: outcomes, timeline, audit log, locking."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from cockpit.actions.audit import attempts, audit_path, read_audit
from cockpit.actions.lock import ServiceLock
from cockpit.actions.process import run_command
from cockpit.actions.revert import RevertOutcome, RevertPlan, run_revert
from cockpit.incident.store.sqlite import IncidentStore

PY = sys.executable

AUDIT_FIELDS = {
    "action",
    "who",
    "when",
    "finished",
    "host",
    "plan",
    "preflight",
    "result",
    "ok",
    "exit_code",
    "reason",
    "duration_seconds",
    "output_tail",
}


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def plan(*argv: str, preflight: tuple[tuple[str, ...], ...] = (), **kw: object) -> RevertPlan:
    base = RevertPlan(
        service="files-web",
        from_version="2",
        to_version="1",
        argv=argv,
        preflight=preflight,
        timeout=60.0,
        dry_run=False,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def revert(
    p: RevertPlan, store: IncidentStore, data_dir: Path
) -> tuple[RevertOutcome, list[str]]:
    lines: list[str] = []
    outcome = await run_revert(
        p, store=store, data_dir=data_dir, user="alice", on_output=lines.append
    )
    return outcome, lines


async def test_successful_revert(tmp_path: Path, store: IncidentStore) -> None:
    ok = script(
        tmp_path,
        "ok.py",
        """
        import sys
        print("rolling back to", sys.argv[1], flush=True)
        print("warning on stderr \\x1b[31mred\\x1b[0m", file=sys.stderr, flush=True)
        print("done")
        """,
    )
    outcome, lines = await revert(plan(PY, ok, "1"), store, tmp_path)
    assert outcome.ok and outcome.exit_code == 0 and outcome.reason == "ok"
    assert outcome.started_at <= outcome.finished_at
    assert "rolling back to 1" in lines
    assert "warning on stderr \ufffdred\ufffd" in lines  # merged and inert
    assert lines[-1] == "done"
    assert outcome.output_tail[-1] == "done"

    events = store.events()
    assert [e.kind for e in events] == ["revert.started", "revert.finished"]
    assert events[0].text == "revert files-web 2 -> 1 started by alice"
    assert events[1].text.startswith("revert files-web 2 -> 1 finished: ok")

    started, entry = read_audit(tmp_path)
    # Synced before the command ran: a start with no end would say "outcome unknown".
    assert (started["event"], entry["event"]) == ("started", "finished")
    assert started["run"] == entry["run"] and started["plan"] == entry["plan"]
    assert set(entry) >= AUDIT_FIELDS
    assert entry["who"] == "alice" and entry["ok"] is True and entry["exit_code"] == 0
    assert entry["plan"]["argv"] == [PY, ok, "1"]
    assert entry["plan"]["service"] == "files-web"
    assert entry["when"].endswith("Z")
    assert entry["output_tail"][-1] == "done"
    # The lock is released afterwards.
    with ServiceLock(tmp_path, "files-web"):
        pass


async def test_failing_revert_reports_the_exit_code(tmp_path: Path, store: IncidentStore) -> None:
    fail = script(tmp_path, "fail.py", "print('cannot reach deploy api')\nraise SystemExit(3)\n")
    outcome, lines = await revert(plan(PY, fail), store, tmp_path)
    assert not outcome.ok
    assert outcome.exit_code == 3
    assert outcome.reason == "exit 3"
    assert "cannot reach deploy api" in lines
    assert store.events()[-1].text.startswith("revert files-web 2 -> 1 finished: failed: exit 3")
    assert attempts(read_audit(tmp_path))[0]["result"] == "failed"


async def test_missing_program_is_a_failure_not_an_exception(
    tmp_path: Path, store: IncidentStore
) -> None:
    outcome, _ = await revert(plan(str(tmp_path / "no-such-tool")), store, tmp_path)
    assert not outcome.ok and outcome.exit_code is None
    assert "cannot start" in outcome.reason


async def test_hanging_revert_is_killed_with_its_children(
    tmp_path: Path, store: IncidentStore
) -> None:
    # A shell starts in milliseconds, so the child is up well before the timeout even on a
    # loaded machine; "sleep" stands in for a command that never returns.
    hang = ("/bin/sh", "-c", "sleep 600 & echo $!; wait")
    outcome, lines = await revert(plan(*hang, timeout=1.0), store, tmp_path)
    assert not outcome.ok
    assert outcome.exit_code is None
    assert outcome.reason == "timed out after 1s"
    assert store.events()[-1].text.startswith("revert files-web 2 -> 1 finished: failed: timed")
    assert attempts(read_audit(tmp_path))[0]["result"] == "timed out"
    child_pid = int(lines[1])  # lines[0] is the "$ command" line
    assert _ended(child_pid)


def _ended(pid: int) -> bool:
    """Waits until the process has ended (exited or a zombie); False if it is still running."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # A pidfd becomes readable when its process terminates: an event, not a poll.
        readable, _, _ = select.select([fd], [], [], 30)
    finally:
        os.close(fd)
    return bool(readable)


async def test_a_command_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    # The ignored signal is inherited by "sleep" too, so only SIGKILL ends the group.
    stubborn = ("/bin/sh", "-c", "trap '' TERM; echo ignoring TERM; sleep 600")
    lines: list[str] = []
    result = await run_command(stubborn, timeout=1.0, on_line=lines.append, kill_grace=0.2)
    assert result.timed_out
    assert result.exit_code == -signal.SIGKILL
    assert lines == ["ignoring TERM"]


async def test_leader_exit_ends_the_wait_even_if_a_child_keeps_the_output(
    tmp_path: Path,
) -> None:
    daemonizes = script(
        tmp_path,
        "daemonizes.py",
        """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(child.pid, flush=True)
        """,
    )
    lines: list[str] = []
    result = await run_command([PY, daemonizes], timeout=60.0, on_line=lines.append)
    try:
        assert result.ok and not result.timed_out
    finally:
        os.kill(int(lines[0]), signal.SIGKILL)


async def test_failed_preflight_stops_before_the_command(
    tmp_path: Path, store: IncidentStore
) -> None:
    marker = tmp_path / "reverted"
    command = script(tmp_path, "revert.py", f"open({str(marker)!r}, 'w').close()\n")
    passing = script(tmp_path, "pass.py", "print('healthy')\n")
    failing = script(tmp_path, "check.py", "print('replicas not ready')\nraise SystemExit(2)\n")
    p = plan(PY, command, preflight=((PY, passing), (PY, failing), (PY, passing)))
    outcome, lines = await revert(p, store, tmp_path)
    assert not outcome.ok
    assert outcome.exit_code is None
    assert outcome.reason.startswith("preflight ") and outcome.reason.endswith("failed: exit 2")
    assert not marker.exists()
    assert "replicas not ready" in lines
    assert lines.count("healthy") == 1  # checks after the failing one do not run
    [entry] = attempts(read_audit(tmp_path))
    assert entry["result"] == "preflight failed"
    assert [c["exit_code"] for c in entry["preflight"]] == [0, 2]


async def test_hostile_version_stays_one_argument(tmp_path: Path, store: IncidentStore) -> None:
    record = tmp_path / "argv.json"
    recorder = script(
        tmp_path,
        "record.py",
        f"import json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n",
    )
    hostile = "1.2; rm -rf / $(touch pwned) `id` && echo 'x y'"
    outcome, _ = await revert(plan(PY, recorder, "--to", hostile), store, tmp_path)
    assert outcome.ok
    assert json.loads(record.read_text()) == ["--to", hostile]
    assert not (tmp_path / "pwned").exists()


async def test_dry_run_runs_no_command(tmp_path: Path, store: IncidentStore) -> None:
    marker = tmp_path / "reverted"
    command = script(tmp_path, "revert.py", f"open({str(marker)!r}, 'w').close()\n")
    check = script(tmp_path, "check.py", "print('checked')\n")
    outcome, lines = await revert(
        plan(PY, command, "1", preflight=((PY, check),), dry_run=True), store, tmp_path
    )
    assert outcome.ok and outcome.dry_run and outcome.exit_code is None
    assert not marker.exists()
    assert "checked" in lines  # preflight checks are rehearsed too
    assert lines[-1] == f"dry run: would run: {PY} {command} 1"
    assert store.events()[0].text.endswith("started by alice (dry run)")
    assert attempts(read_audit(tmp_path))[0]["result"] == "dry run"


async def test_two_concurrent_reverts_one_runs(tmp_path: Path, store: IncidentStore) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    runs = tmp_path / "runs"
    slow = script(
        tmp_path,
        "slow.py",
        f"""
        open({str(runs)!r}, "a").write("ran\\n")
        print("holding", flush=True)
        open({str(gate)!r}).read()  # until the test opens and closes the other end
        """,
    )
    holding = asyncio.Event()

    def first_output(line: str) -> None:
        if line == "holding":
            holding.set()

    first = asyncio.create_task(
        run_revert(
            plan(PY, slow), store=store, data_dir=tmp_path, user="alice", on_output=first_output
        )
    )
    await holding.wait()
    second_lines: list[str] = []
    second = await run_revert(
        plan(PY, slow), store=store, data_dir=tmp_path, user="bob", on_output=second_lines.append
    )
    assert not second.ok
    assert second.lock_holder is not None
    assert second.lock_holder.user == "alice"
    assert second.lock_holder.pid == os.getpid()
    assert second.lock_holder.since is not None
    assert "locked by alice" in second.reason
    await asyncio.to_thread(lambda: open(gate, "w").close())
    done = await first
    assert done.ok
    assert runs.read_text() == "ran\n"
    assert [e.text.split(" started by ")[-1] for e in store.events()[:1]] == ["alice"]
    refused, ran = attempts(read_audit(tmp_path))
    assert (refused["result"], refused["who"], ran["result"]) == ("lock held", "bob", "ok")
    assert refused["lock_holder"]["user"] == "alice"
    assert refused["lock_holder"]["pid"] == os.getpid()


async def test_cancelling_kills_the_command_and_leaves_a_trace(
    tmp_path: Path, store: IncidentStore
) -> None:
    hang = script(
        tmp_path, "hang.py", "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(600)\n"
    )
    started = asyncio.Event()
    lines: list[str] = []

    def output(line: str) -> None:
        lines.append(line)
        if line.isdigit():
            started.set()

    task = asyncio.create_task(
        run_revert(plan(PY, hang), store=store, data_dir=tmp_path, user="alice", on_output=output)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _ended(int(lines[-1]))
    assert store.events()[-1].text.startswith("revert files-web 2 -> 1 finished: failed: cancelled")
    assert attempts(read_audit(tmp_path))[0]["result"] == "cancelled"
    with ServiceLock(tmp_path, "files-web"):
        pass


async def test_audit_lines_are_json_and_appended(tmp_path: Path, store: IncidentStore) -> None:
    ok = script(tmp_path, "ok.py", "print('a' * 10)\n" * 80)
    for _ in range(2):
        await revert(plan(PY, ok), store, tmp_path)
    raw = audit_path(tmp_path).read_text().splitlines()
    assert len(raw) == 4  # started, finished; started, finished
    for line in raw:
        entry = json.loads(line)
        if entry["event"] == "finished":
            assert set(entry) >= AUDIT_FIELDS
            assert len(entry["output_tail"]) == 50


async def test_a_revert_that_cannot_be_audited_does_not_run(
    tmp_path: Path, store: IncidentStore
) -> None:
    audit_path(tmp_path).mkdir()  # a directory where the log should be: every append fails
    marker = tmp_path / "reverted"
    command = script(tmp_path, "revert.py", f"open({str(marker)!r}, 'w').close()\n")
    outcome, lines = await revert(plan(PY, command), store, tmp_path)
    assert not outcome.ok and not outcome.ran
    assert outcome.result == "not audited"
    assert "audit log cannot be written" in outcome.reason
    assert not marker.exists()
    assert any("audit log cannot be written" in line for line in lines)
    assert store.events() == []  # nothing started, so the timeline says nothing
    with ServiceLock(tmp_path, "files-web"):  # and the lock is free again
        pass
