"""A revert or runbook action as its own process: the run folder, starting it, watching it.

Each run lives in `<data_dir>/runs/<id>/`:
    job.json     what runs, by whom, with what timeout (written by the cockpit; no secrets)
    state.json   written by the supervisor first thing: its pid, when it started
    output.log   everything said and printed, as it happens, inert (no escape sequences)
    result.json  how it ended (written once, atomically, by the supervisor)

The supervisor (`cockpit.actions.supervisor`) runs detached from the cockpit's terminal and
session, so an SSH link that drops, a SIGHUP, a SIGTERM or a quit leave it running to its end.
Any cockpit on the host (the restarted one, another engineer's) reads the same folder: it shows
a running revert live, follows its output, and shows its end. A run that started and whose
supervisor is gone without a result (killed, host crash) is "outcome unknown", with the output
it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.actions.guarded import (
    OUTPUT_TAIL_LINES,
    GuardedPlan,
    RevertOutcome,
    finished_text,
    new_run_id,
    run_event,
    started_text,
)
from cockpit.actions.lock import LockHolder, ServiceLock
from cockpit.actions.process import FileReader
from cockpit.host.datadir import make_dir, open_file, write_atomic
from cockpit.model import TimelineEvent

if TYPE_CHECKING:
    from cockpit.incident.store.pg.connect import PgTarget
from cockpit.host.whoami import host_name
from cockpit.term.textsafe import one_line, registered_secrets
from cockpit.timeutil import iso_utc_precise, local_hms, parse_iso, utcnow

RUNS_DIR = "runs"
JOB, STATE, RESULT, OUTPUT = "job.json", "state.json", "result.json", "output.log"
LOG = "supervisor.log"
# The command's own bytes, as it writes them (escapes and all), straight into a file: never a
# pipe, so nothing that watches it can kill it with SIGPIPE. The supervisor copies them into
# output.log as inert lines, notes in RAW_READ how far, and removes both when the run ends; they
# stay only when the supervisor died, and are read (inert) for what it did not copy.
RAW, RAW_READ = "output.raw", "output.raw.read"
START_WAIT = 20.0  # seconds a new supervisor gets to say it is alive
FOLLOW_EVERY = 0.2  # seconds between looks at a run being followed
RECENT = timedelta(days=7)  # runs older than this are not looked at


class RunStatus(StrEnum):
    STARTING = "starting"  # the supervisor is up and taking the lock
    RUNNING = "running"
    FINISHED = "finished"  # ran (ok or failed), or was refused: result.json says which
    UNKNOWN = "unknown"  # started, and nothing recorded how it ended


class RunError(Exception):
    """A run could not be started; the message says why."""


@dataclass(frozen=True, slots=True)
class Run:
    """What the run folder says right now."""

    path: Path
    id: str
    kind: str  # "revert", "action"
    service: str
    describe: str  # "revert files-web 2 -> 1"
    command_line: str
    timeout: float
    user: str
    host: str
    created: datetime
    dry_run: bool
    status: RunStatus
    started: datetime | None = None  # when the supervisor started
    supervisor_pid: int | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in (RunStatus.STARTING, RunStatus.RUNNING)

    @property
    def output_path(self) -> Path:
        return self.path / OUTPUT

    def headline(self) -> str:
        """One line for the header: what, by whom, since when, and how it stands."""
        since = local_hms(self.started or self.created)
        if self.status is RunStatus.UNKNOWN:
            return f"{self.describe} by {self.user} at {since}: OUTCOME UNKNOWN"
        if self.active:
            return f"{self.describe} by {self.user} RUNNING since {since}"
        outcome = self.outcome()
        word = "ok" if outcome and outcome.ok else "failed"
        return f"{self.describe} by {self.user} at {since}: {word}"

    def outcome(self) -> RevertOutcome | None:
        """How it ended; for an unknown outcome, one that says so. None while it runs."""
        if self.status is RunStatus.UNKNOWN:
            return RevertOutcome(
                ok=False,
                exit_code=None,
                reason=(
                    f"its supervisor (pid {self.supervisor_pid}) ended without recording how "
                    "it ended; check the service by hand"
                ),
                output_tail=tuple(read_output(self, OUTPUT_TAIL_LINES)),
                started_at=self.started or self.created,
                finished_at=utcnow(),
                dry_run=self.dry_run,
                result="unknown",
                unknown=True,
            )
        if self.status is not RunStatus.FINISHED:
            return None
        r = self.result
        holder = r.get("lock_holder")
        return RevertOutcome(
            ok=bool(r.get("ok")),
            exit_code=r.get("exit_code"),
            reason=str(r.get("reason", "")),
            output_tail=tuple(str(line) for line in r.get("output_tail", ())),
            started_at=_time(r.get("started_at")) or self.created,
            finished_at=_time(r.get("finished_at")) or self.created,
            lock_holder=_holder(holder) if isinstance(holder, dict) else None,
            dry_run=bool(r.get("dry_run")),
            http_status=r.get("http_status"),
            result=str(r.get("result", "")),
        )

    def events(self) -> list[TimelineEvent]:
        """The timeline events this run stands for, as its supervisor records them; a cockpit
        records them from here when the supervisor could not (same keys, so once)."""
        out = []
        outcome = self.outcome()
        # A run still taking the lock has not started: it may be refused (two engineers at
        # once), and a "started" recorded now would never get its finish.
        taking_the_lock = self.status is RunStatus.STARTING
        if self.started is not None and not taking_the_lock and (outcome is None or outcome.ran):
            text = started_text(self.describe, self.user, self.dry_run)
            out.append(run_event(self.kind, self.id, "started", self.started, text))
        if outcome is not None and outcome.unknown:
            last = outcome.output_tail[-1] if outcome.output_tail else "(no output)"
            text = (
                f"{self.describe} started by {self.user}: outcome unknown ({outcome.reason}); "
                f"last output: {last}"
            )
            out.append(run_event(self.kind, self.id, "unknown", outcome.finished_at, text))
        elif outcome is not None and outcome.ran:
            text = finished_text(self.describe, outcome)
            out.append(run_event(self.kind, self.id, "finished", outcome.finished_at, text))
        return out


def runs_dir(data_dir: Path) -> Path:
    return data_dir / RUNS_DIR


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _holder(record: dict[str, Any]) -> LockHolder:
    pid = record.get("pid")
    return LockHolder(
        user=one_line(str(record.get("user", "")), 64),
        pid=pid if isinstance(pid, int) else None,
        host=one_line(str(record.get("host", "")), 255),
        since=_time(record.get("since")),
        what=one_line(str(record.get("what", "")), 300),
    )


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int | None, host: str) -> bool:
    """Whether the supervisor process still runs (only knowable on its own host)."""
    if pid is None or host != host_name():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another account's supervisor: it exists
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"cockpit.actions.supervisor" in cmdline  # not a recycled pid


def read_run(path: Path, data_dir: Path | None = None) -> Run | None:
    """The run in `path` as it stands now; None when the folder is not (yet) a run."""
    job = _load(path / JOB)
    if job is None:
        return None
    state = _load(path / STATE) or {}
    result = _load(path / RESULT)
    created = _time(job.get("created")) or utcnow()
    pid = state.get("pid")
    host = str(state.get("host", job.get("host", "")))
    supervisor_pid = pid if isinstance(pid, int) else None
    if result is not None:
        status = RunStatus.FINISHED
    elif not state:
        # Nothing started yet: a cockpit is starting the supervisor right now, or it never ran.
        status = (
            RunStatus.STARTING
            if utcnow() - created < timedelta(seconds=START_WAIT)
            else (RunStatus.FINISHED)
        )
        if status is RunStatus.FINISHED:
            result = {"ok": False, "result": "error", "reason": "its supervisor never started"}
    elif _holds_lock(data_dir or path.parent.parent, str(job.get("service", "")), path.name):
        status = RunStatus.RUNNING
    elif _alive(supervisor_pid, host):
        status = RunStatus.STARTING if state.get("phase") == "locking" else RunStatus.RUNNING
    else:
        # Gone without a result; one more look, in case it wrote the result just now.
        result = _load(path / RESULT)
        status = RunStatus.FINISHED if result is not None else RunStatus.UNKNOWN
    return Run(
        path=path,
        id=path.name,
        kind=str(job.get("kind", "revert")),
        service=str(job.get("service", "")),
        describe=one_line(str(job.get("describe", "")), 300),
        command_line=one_line(str(job.get("command_line", "")), 2000),
        timeout=float(job.get("timeout", 0) or 0),
        user=one_line(str(job.get("user", "")), 64),
        host=one_line(str(job.get("host", "")), 255),
        created=created,
        dry_run=bool(job.get("dry_run")),
        status=status,
        started=_time(state.get("started")),
        supervisor_pid=supervisor_pid,
        result=result or {},
    )


def _holds_lock(data_dir: Path, service: str, run_id: str) -> bool:
    try:
        holder = ServiceLock(data_dir, service).holder()
    except OSError:
        return False
    return holder is not None and holder.run == run_id


class RunCatalog:
    """The runs of a data dir, re-read cheaply: a finished run never changes again."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._finished: dict[str, Run] = {}

    def scan(self) -> list[Run]:
        """Every recent run, oldest first (blocking: call it off the event loop)."""
        folder = runs_dir(self.data_dir)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        oldest = (utcnow() - RECENT).strftime("%Y%m%dT%H%M%S")
        out = []
        for name in names:
            if name < oldest or name.startswith("."):
                continue
            known = self._finished.get(name)
            if known is not None:
                out.append(known)
                continue
            run = read_run(folder / name, self.data_dir)
            if run is None:
                continue
            if run.status in (RunStatus.FINISHED, RunStatus.UNKNOWN):
                self._finished[name] = run
            out.append(run)
        return out


def shown_runs(runs: list[Run]) -> tuple[Run, ...]:
    """What the screen must say: every run still going, and per service the latest run when
    its outcome is unknown (until a newer run of that service supersedes it)."""
    latest: dict[str, Run] = {}
    for run in runs:
        latest[run.service] = run
    active = [r for r in runs if r.active]
    unknown = [r for r in latest.values() if r.status is RunStatus.UNKNOWN]
    return tuple(sorted({r.id: r for r in active + unknown}.values(), key=lambda r: r.id))


def _read_lines(path: Path, offset: int = 0) -> list[str]:
    lines: list[str] = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return lines
    try:
        reader = FileReader(fd, lines.append, offset)
        reader.read_available()
        reader.close()
    finally:
        os.close(fd)
    return lines


def uncopied_output(run: Run) -> list[str]:
    """What the command wrote after its supervisor stopped copying it (a supervisor that died),
    as inert lines; empty when there is none."""
    raw = run.path / RAW
    if run.status is not RunStatus.UNKNOWN or not raw.exists():
        return []
    try:
        offset = int((run.path / RAW_READ).read_text().strip() or 0)
    except (OSError, ValueError):
        offset = 0
    rest = _read_lines(raw, offset)
    return ["(what it printed after its supervisor stopped:)", *rest] if rest else []


def read_output(run: Run, last: int | None = None) -> list[str]:
    """The run's output as inert lines (the last `last` of them)."""
    lines = _read_lines(run.output_path) + uncopied_output(run)
    return lines[-last:] if last else lines


# -- starting ---------------------------------------------------------------------------------


def prepare_run(data_dir: Path, plan: GuardedPlan, user: str) -> Path:
    """The run's folder with its job.json (blocking)."""
    run_id = new_run_id(plan.service)
    folder = make_dir(runs_dir(data_dir)) / run_id
    make_dir(folder)
    job = {
        "run": run_id,
        "kind": plan.event_kind,
        "service": plan.service,
        "describe": plan.describe(),
        "command_line": plan.command_line(),
        "timeout": plan.timeout,
        "dry_run": plan.dry_run,
        "user": user,
        "host": host_name(),
        "created": iso_utc_precise(utcnow()),
        "plan": plan.audit(),
    }
    write_atomic(folder / JOB, json.dumps(job, ensure_ascii=False, default=str).encode())
    fd = open_file(folder / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.close(fd)
    return folder


def spawn_supervisor(
    folder: Path, plan: GuardedPlan, user: str, data_dir: Path, store: PgTarget | None = None
) -> int:
    """Start the supervisor detached: its own session (no controlling terminal, so no SIGHUP
    when the link drops), stdin closed after the job is handed over, output to a file.

    The plan goes over stdin, not into job.json: it may carry a secret (an HTTP revert's
    token), and so does the shared store's target (its password). Returns the supervisor's
    pid. Blocking.
    """
    log_fd = open_file(folder / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "cockpit.actions.supervisor", str(folder)],
            stdin=subprocess.PIPE,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        os.close(log_fd)
    assert process.stdin is not None
    try:
        job = {"plan": plan, "user": user, "data_dir": str(data_dir), "store": store}
        # The cockpit's secrets too: none is kept in what the supervisor writes.
        pickle.dump({**job, "secrets": registered_secrets()}, process.stdin)
        process.stdin.close()
    except OSError as exc:
        process.kill()
        raise RunError(f"cannot hand the job to its supervisor: {exc.strerror or exc}") from None
    # Reaped in the background: the supervisor may well outlive this process.
    import threading

    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return process.pid


async def start_run(
    data_dir: Path, plan: GuardedPlan, user: str, store: PgTarget | None = None
) -> Run:
    """Start a supervised run and return it once its supervisor is alive (or has already
    refused, e.g. the lock is held). Raises RunError when it cannot even start."""
    try:
        folder = await asyncio.to_thread(prepare_run, data_dir, plan, user)
        pid = await asyncio.to_thread(spawn_supervisor, folder, plan, user, data_dir, store)
    except OSError as exc:
        raise RunError(f"cannot start the {plan.event_kind}: {exc.strerror or exc}") from None
    deadline = asyncio.get_running_loop().time() + START_WAIT
    while True:
        run = await asyncio.to_thread(read_run, folder, data_dir)
        if run is not None and (run.started is not None or run.status is RunStatus.FINISHED):
            return run
        if asyncio.get_running_loop().time() > deadline or not _exists(pid):
            log = (
                (folder / LOG).read_text(errors="replace")[-500:] if (folder / LOG).exists() else ""
            )
            raise RunError(
                f"the {plan.event_kind}'s supervisor (pid {pid}) did not start"
                + (f": {one_line(log, 300)}" if log.strip() else "")
            )
        await asyncio.sleep(0.05)


def _tail_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-500:]
    except OSError:
        return ""


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ours, not reaped yet) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


# -- following --------------------------------------------------------------------------------


async def follow_run(
    run: Run,
    on_output: Callable[[str], None],
    on_status: Callable[[Run], None] | None = None,
    every: float = FOLLOW_EVERY,
) -> Run:
    """Pass the run's output (from its first line) to `on_output` as it grows, until it ends
    (finished or outcome unknown); returns the run as it ended. Cancelling only stops the
    following: the run goes on."""
    try:
        fd = await asyncio.to_thread(os.open, run.output_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = None

    def emit(line: str) -> None:
        with contextlib.suppress(Exception):
            on_output(line)

    reader = FileReader(fd, emit) if fd is not None else None
    status = run.status
    try:
        while True:
            if reader is not None:
                await asyncio.to_thread(reader.read_available)
            current = await asyncio.to_thread(read_run, run.path, run.path.parent.parent)
            if current is not None:
                run = current
            if on_status is not None and run.status is not status:
                status = run.status
                with contextlib.suppress(Exception):
                    on_status(run)
            if not run.active:
                if reader is not None:
                    await asyncio.to_thread(reader.read_available)
                    reader.close()
                for line in await asyncio.to_thread(uncopied_output, run):
                    emit(line)
                return run
            await asyncio.sleep(every)
    finally:
        if fd is not None:
            os.close(fd)
