"""The process a revert or runbook action runs under: `python -m cockpit.actions.supervisor DIR`.

Started detached by a cockpit (`runs.spawn_supervisor`): its own session, no terminal, stdin
closed once the job is read. It ignores SIGHUP, SIGINT and SIGPIPE (and the command inherits
that), and does not stop for SIGTERM: only the revert's recorded timeout stops a revert. It
takes the service lock, writes the "started" audit entry, runs the action with its output in
DIR/output.log, writes DIR/result.json, the "finished" audit entry and the timeline events,
and releases the lock: the lock is held exactly as long as the action runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any

from cockpit.actions.guarded import Execute, GuardedPlan, RevertOutcome, run_guarded
from cockpit.actions.runs import OUTPUT, RAW, RAW_READ, RESULT, STATE
from cockpit.host.datadir import open_file, write_atomic
from cockpit.host.whoami import host_name
from cockpit.term.textsafe import register_secret
from cockpit.timeutil import iso_utc, iso_utc_precise, utcnow

log = logging.getLogger("cockpit.supervisor")


class _InertFormatter(logging.Formatter):
    """The supervisor's log quotes servers and commands: inert, like every other record."""

    def format(self, record: logging.LogRecord) -> str:
        from cockpit.term.textsafe import Inert

        return Inert(super().format(record))


def _executor(plan: GuardedPlan) -> Execute:
    from cockpit.actions.revert_plan import RevertPlan

    if isinstance(plan, RevertPlan):
        from cockpit.actions.executors import execute_revert

        return execute_revert
    from cockpit.actions.change_revert import ChangeRevertPlan

    if isinstance(plan, ChangeRevertPlan):
        from cockpit.actions.change_revert import execute_change_revert

        return execute_change_revert
    from cockpit.actions.runbook import execute_action

    return execute_action


def _write_state(folder: Path, phase: str, started: str) -> None:
    state = {"pid": os.getpid(), "host": host_name(), "started": started, "phase": phase}
    write_atomic(folder / STATE, json.dumps(state).encode())


def _result(outcome: RevertOutcome) -> dict[str, Any]:
    holder = outcome.lock_holder
    return {
        "ok": outcome.ok,
        "result": outcome.result,
        "reason": outcome.reason,
        "exit_code": outcome.exit_code,
        "http_status": outcome.http_status,
        "dry_run": outcome.dry_run,
        "started_at": iso_utc_precise(outcome.started_at),
        "finished_at": iso_utc_precise(outcome.finished_at),
        "output_tail": list(outcome.output_tail),
        "lock_holder": (
            {
                "user": holder.user,
                "pid": holder.pid,
                "host": holder.host,
                "since": iso_utc(holder.since) if holder.since else None,
                "what": holder.what,
            }
            if holder is not None
            else None
        ),
    }


async def supervise(folder: Path, job: dict[str, Any]) -> RevertOutcome:
    plan: GuardedPlan = job["plan"]
    data_dir = Path(job["data_dir"])
    began = utcnow()
    started = iso_utc_precise(began)
    _write_state(folder, "locking", started)

    def open_store() -> Any:
        from cockpit.incident.store.backend import open_target

        return open_target(job.get("store"), data_dir)  # the cockpit's store, SQLite or not

    output_fd = open_file(folder / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    # Read-write: the command appends to it, and its lines are read back from it.
    raw_fd = open_file(folder / RAW, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    read_fd = open_file(folder / RAW_READ, os.O_WRONLY | os.O_CREAT)

    def copied(offset: int) -> None:
        os.pwrite(read_fd, f"{offset:>20}\n".encode(), 0)

    try:
        outcome = await run_guarded(
            plan,
            _executor(plan),
            store=open_store,
            data_dir=data_dir,
            user=job["user"],
            on_output=lambda line: None,  # the output file is where it is said
            run_id=folder.name,
            output_fd=output_fd,
            raw_fd=raw_fd,
            on_raw=copied,
            started_at=began,
            shared_lock=job.get("store"),
            on_locked=lambda: _write_state(folder, "running", started),
            on_finished=lambda outcome: write_atomic(
                folder / RESULT, json.dumps(_result(outcome), default=str).encode()
            ),
        )
    finally:
        for fd in (output_fd, raw_fd, read_fd):
            os.close(fd)
    # All of it is in output.log now, inert: the raw bytes go.
    for name in (RAW, RAW_READ):
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    return outcome


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m cockpit.actions.supervisor RUN_DIR", file=sys.stderr)
        return 2
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    folder = Path(argv[1])
    handler = logging.StreamHandler()
    handler.setFormatter(_InertFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs the server's reason raw
    job = pickle.load(sys.stdin.buffer)
    sys.stdin.close()
    for value in job.get("secrets", ()):
        register_secret(value)
    with contextlib.suppress(OSError):  # nothing is read from stdin again
        os.close(0)
        os.open(os.devnull, os.O_RDONLY)

    loop = asyncio.new_event_loop()

    def on_term() -> None:
        log.warning("SIGTERM ignored: a %s stops only at its timeout", job["plan"].event_kind)

    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        outcome = loop.run_until_complete(supervise(folder, job))
    except BaseException as exc:  # still say how it ended, then fail loudly in the log
        log.exception("supervisor failed")
        now = utcnow()
        outcome = RevertOutcome(
            ok=False,
            exit_code=None,
            reason=f"supervisor error: {type(exc).__name__}: {exc}",
            output_tail=(),
            started_at=now,
            finished_at=now,
            result="error",
        )
        if not (folder / RESULT).exists():
            write_atomic(folder / RESULT, json.dumps(_result(outcome)).encode())
        return 1
    finally:
        loop.close()
    if not (folder / RESULT).exists():
        write_atomic(folder / RESULT, json.dumps(_result(outcome), default=str).encode())
    log.info("%s: %s", job["plan"].describe(), outcome.reason)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
