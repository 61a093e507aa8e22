"""Guardrails across processes: one revert at a time per service, a dead holder's stale lock,
a command killed by a signal. Every attempt leaves an audit line; every start has a finish."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from cockpit.actions.audit import attempts, read_audit
from cockpit.actions.revert import RevertPlan, run_revert
from cockpit.incident.store.sqlite import IncidentStore

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]

# Runs one revert in its own process and prints its outcome as JSON.
_REVERT_PROCESS = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from cockpit.actions.revert import RevertPlan, run_revert
    from cockpit.incident.store.connection import store_path
    from cockpit.incident.store.sqlite import IncidentStore

    data, user, *argv = sys.argv[1:]
    plan = RevertPlan("files-web", "2", "1", tuple(argv), (), 60.0, False)

    async def main():
        with IncidentStore(store_path(Path(data))) as store:
            outcome = await run_revert(
                plan, store=store, data_dir=Path(data), user=user,
                on_output=lambda line: print("out:", line, flush=True),
            )
        print("outcome:", json.dumps({"ok": outcome.ok, "reason": outcome.reason,
              "holder": outcome.lock_holder.user if outcome.lock_holder else None}), flush=True)

    asyncio.run(main())
    """
)


def start_revert(tmp_path: Path, user: str, *argv: str) -> subprocess.Popen[str]:
    script = tmp_path / "revert_process.py"
    script.write_text(_REVERT_PROCESS)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [PY, str(script), str(tmp_path), user, *argv],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def outcome_of(proc: subprocess.Popen[str]) -> dict:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("outcome: "):
            return json.loads(line.removeprefix("outcome: "))
    raise AssertionError("no outcome printed")


def test_two_processes_reverting_at_once_only_one_runs(
    tmp_path: Path, store: IncidentStore
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    runs = tmp_path / "runs"
    slow = tmp_path / "slow.py"
    slow.write_text(
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        "print('holding', flush=True)\n"
        f"open({str(gate)!r}).read()\n"
    )
    first = start_revert(tmp_path, "alice", PY, str(slow))
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stdout is not None
        for line in first.stdout:  # until alice's command runs under the lock
            if line.strip() == "out: holding":
                break
        second = start_revert(tmp_path, "bob", PY, str(slow))
        refused = outcome_of(second)
        assert refused["ok"] is False
        assert refused["holder"] == "alice"
        assert "locked by alice" in refused["reason"]
        gate.open("w").close()  # let alice's command finish
        assert outcome_of(first)["ok"] is True
    finally:
        for proc in (first, second):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                if proc.stdout:
                    proc.stdout.close()
    assert runs.read_text() == "ran\n"
    entries = attempts(read_audit(tmp_path))
    assert sorted((e["who"], e["result"]) for e in entries) == [
        ("alice", "ok"),
        ("bob", "lock held"),
    ]
    events = store.events()
    assert [e.kind for e in events] == ["revert.started", "revert.finished"]
    assert "started by alice" in events[0].text


_DIES_HOLDING = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cockpit.actions.lock import ServiceLock
    ServiceLock(Path(sys.argv[1]), "files-web", user="carol").acquire()
    print(os.getpid(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no release, no cleanup
    """
)


def _die_holding_the_lock(tmp_path: Path) -> int:
    script = tmp_path / "dies.py"
    script.write_text(_DIES_HOLDING)
    died = subprocess.run(
        [PY, str(script), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert died.returncode == -signal.SIGKILL
    return int(died.stdout)


async def test_a_stale_lock_record_is_reported_and_the_revert_goes_on(
    tmp_path: Path, store: IncidentStore
) -> None:
    dead_pid = await asyncio.to_thread(_die_holding_the_lock, tmp_path)
    lines: list[str] = []
    plan = RevertPlan("files-web", "2", "1", (PY, "-c", "print('reverted')"), (), 60.0, False)
    outcome = await run_revert(
        plan, store=store, data_dir=tmp_path, user="dave", on_output=lines.append
    )
    assert outcome.ok
    assert lines[0].startswith(f"stale lock from pid {dead_pid} (gone) cleared")
    assert "carol" in lines[0]
    [entry] = attempts(read_audit(tmp_path))
    assert entry["notes"] == [lines[0]]


async def test_a_command_killed_by_a_signal(tmp_path: Path, store: IncidentStore) -> None:
    killer = (
        PY,
        "-c",
        "import os, signal; print('about to die', flush=True); "
        "os.kill(os.getpid(), signal.SIGKILL)",
    )
    plan = RevertPlan("files-web", "2", "1", killer, (), 60.0, False)
    lines: list[str] = []
    outcome = await run_revert(
        plan, store=store, data_dir=tmp_path, user="alice", on_output=lines.append
    )
    assert not outcome.ok
    assert outcome.reason == "killed by SIGKILL"
    assert outcome.exit_code == -signal.SIGKILL
    assert "about to die" in lines
    assert [e.kind for e in store.events()] == ["revert.started", "revert.finished"]
    assert "failed: killed by SIGKILL" in store.events()[-1].text
    assert attempts(read_audit(tmp_path))[0]["result"] == "failed"
