"""The guardrails every destructive action shares: lock -> audit -> preflight -> execute -> record.

A revert and a runbook action differ only in their plan and in what "execute" does; both get
the service lock (or say who holds it), write a durable "started" audit entry before anything
runs (an action that cannot be audited does not run), run the preflight checks, honour dry-run,
keep their output, and leave a "<kind>.started" / "<kind>.finished" pair in the timeline plus a
"finished" audit entry per attempt, even a refused, failed or cancelled one. Expected failures
are returned.

The lock's descriptor is handed to the command, so the lock lives exactly as long as the
command runs, even if the process that started it dies; it is released (LOCK_UN, which frees
it for every holder of that descriptor) as soon as the attempt is over.

Timeline events are written in the background and retried: a store that is locked, full or
damaged never delays a revert. They carry the run's id in their key, so whoever records them
(this process, or a cockpit reading the run's files later) records each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cockpit.actions.audit import append_audit
from cockpit.actions.lock import LockHeld, LockHolder, ServiceLock
from cockpit.actions.process import CommandResult, run_command
from cockpit.host.whoami import host_name
from cockpit.incident.store.errors import StoreError
from cockpit.model import TimelineEvent
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import duration, iso_utc, utcnow

if TYPE_CHECKING:
    from cockpit.incident.store.pg.connect import PgTarget

log = logging.getLogger(__name__)

OUTPUT_TAIL_LINES = 50
EVENT_SOURCE = "cockpit"
RECORD_PATIENCE = 60.0  # seconds an attempt's end waits for its timeline events to be saved


class GuardedPlan(Protocol):
    @property
    def service(self) -> str: ...
    @property
    def preflight(self) -> tuple[tuple[str, ...], ...]: ...
    @property
    def timeout(self) -> float: ...
    @property
    def dry_run(self) -> bool: ...

    event_kind: str  # "revert", "action": the timeline events are <kind>.started/.finished

    def describe(self) -> str: ...
    def command_line(self) -> str: ...
    def audit(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    ok: bool
    exit_code: int | None  # of the command; None when it did not run to an exit (or was HTTP)
    reason: str  # "ok", "dry run: ...", "exit 1", "timed out after 120s", "preflight ...", ...
    output_tail: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    lock_holder: LockHolder | None = None  # set when someone else held the lock
    dry_run: bool = False  # ok then means "checks passed", not "reverted"
    http_status: int | None = None  # the HTTP executor's answer
    result: str = ""  # the audit log's word: "ok", "failed", "lock held", "not audited", ...
    unknown: bool = False  # it started, and nothing recorded how it ended

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def ran(self) -> bool:
        """False when nothing was run at all (lock held, audit log not writable)."""
        return self.result not in NOT_RUN_RESULTS


NOT_RUN_RESULTS = ("lock held", "not audited", "error")


@dataclass(frozen=True, slots=True)
class Done:
    """What an executor reports back."""

    ok: bool
    reason: str  # shown to the person: "ok", "exit 3", "HTTP 503 from host", ...
    result: str  # the audit log's word: "ok", "failed", "timed out"
    exit_code: int | None = None
    http_status: int | None = None


def command_done(result: CommandResult, timeout: float) -> Done:
    return Done(
        ok=result.ok,
        reason=result.describe(timeout),
        result="ok" if result.ok else ("timed out" if result.timed_out else "failed"),
        exit_code=None if result.timed_out else result.exit_code,
    )


def new_run_id(service: str) -> str:
    """Sortable by time, unique across processes and hosts."""
    from urllib.parse import quote

    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{quote(service, safe='')[:40]}-{uuid.uuid4().hex[:8]}"


def run_event(plan_kind: str, run_id: str, phase: str, at: datetime, text: str) -> TimelineEvent:
    """The timeline event of a run's phase ("started", "finished", "unknown"); whoever makes it
    (the supervisor, or a cockpit reading the run's files afterwards) makes the same one."""
    return TimelineEvent(
        at=at,
        kind=f"{plan_kind}.{phase}",
        text=one_line(text),
        source=EVENT_SOURCE,
        key=f"run:{run_id}:{phase}",
    )


def started_text(describe: str, user: str, dry_run: bool) -> str:
    return f"{describe} started by {user}{' (dry run)' if dry_run else ''}"


def finished_text(describe: str, outcome: RevertOutcome) -> str:
    text = f"{describe} finished: {'ok' if outcome.ok else 'failed'}"
    if not outcome.ok or outcome.dry_run:
        text += f": {outcome.reason}"
    return text + f" ({duration(outcome.seconds)})"


class EventSink(Protocol):
    def add_event(self, event: TimelineEvent, incident_id: int | None = None) -> bool: ...


class EventRecorder:
    """Writes an attempt's timeline events in the background, retrying while the store
    refuses them (locked, full, damaged), so that the store never holds up the action."""

    def __init__(
        self,
        store: EventSink | Callable[[], EventSink],
        patience: float = RECORD_PATIENCE,
    ):
        self._store = store if hasattr(store, "add_event") else None
        self._open = None if self._store is not None else store
        self.patience = patience
        self.failures: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._deadline: float | None = None

    def record(self, event: TimelineEvent) -> None:
        self._tasks.append(asyncio.create_task(self._write(event)))

    async def settle(self) -> None:
        """Wait for the writes, up to `patience` seconds from now; what is left is given up
        (the run's files still say it all, and cockpits record it from them)."""
        self._deadline = time.monotonic() + self.patience
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self.patience + 1)
        for task in late:
            task.cancel()

    def _sink(self) -> EventSink:
        if self._store is None:
            assert self._open is not None
            self._store = self._open()  # type: ignore[operator]
        return self._store

    async def _write(self, event: TimelineEvent) -> None:
        delay = 0.2
        while True:
            try:
                await asyncio.to_thread(lambda: self._sink().add_event(event))
                return
            except (StoreError, OSError) as exc:
                reason = getattr(exc, "reason", "") or str(exc)
                if not self.failures or self.failures[-1] != reason:
                    self.failures.append(reason)
                log.warning("timeline not updated (%s), retrying: %s", event.kind, reason)
            if self._deadline is not None and time.monotonic() > self._deadline:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class Attempt:
    """One attempt's bookkeeping: output, preflight results, the audit entries."""

    def __init__(
        self,
        plan: GuardedPlan,
        recorder: EventRecorder,
        data_dir: Path,
        user: str,
        on_output: Callable[[str], None],
        *,
        run_id: str,
        output_fd: int | None = None,
        raw_fd: int | None = None,
        on_raw: Callable[[int], None] | None = None,
    ):
        self.plan = plan
        self.recorder = recorder
        self.data_dir = data_dir
        self.user = user
        self.on_output = on_output
        self.run_id = run_id
        self.output_fd = output_fd  # the run's output: every line said, inert
        self.raw_fd = raw_fd  # where the command writes, as it writes (read back as lines)
        self.on_raw = on_raw  # told how far the raw output has been read
        self.shared: PgTarget | None = None  # the team's store: its audit log gets a copy
        self.lock_fds: tuple[int, ...] = ()  # the lock's descriptors: the command keeps them
        self.tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self.preflight: list[dict[str, Any]] = []
        self.notes: list[str] = []  # said once, kept in the audit entry (e.g. a stale lock)
        self.started_at = utcnow()

    def say(self, line: str) -> None:
        """A line of our own (not the command's), as the command's lines go: to the output
        file, the tail and the watcher, inert."""
        self._heard(line)

    def _heard(self, line: str) -> None:
        line = Inert(line)  # command and server output: shown, kept in the audit, all inert
        if self.output_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.output_fd, (line + "\n").encode())
        self.tail.append(line)
        with contextlib.suppress(Exception):  # the display failing must not stop the action
            self.on_output(line)

    def record(self, phase: str, text: str, at: datetime | None = None) -> None:
        self.recorder.record(
            run_event(self.plan.event_kind, self.run_id, phase, at or utcnow(), text)
        )

    async def run(self, what: str, argv: tuple[str, ...]) -> CommandResult:
        self.say(f"$ {shlex.join(argv)}")
        result = await run_command(
            argv,
            timeout=self.plan.timeout,
            on_line=self._heard,
            output_fd=self.raw_fd,
            on_read=self.on_raw,
            pass_fds=self.lock_fds,
        )
        if result.start_error:
            self.say(result.start_error)
        log.info("%s %s: %s", what, shlex.join(argv), result.describe(self.plan.timeout))
        return result

    def outcome(
        self,
        done: Done | None,
        reason: str = "",
        lock_holder: LockHolder | None = None,
        result: str = "",
    ) -> RevertOutcome:
        return RevertOutcome(
            ok=done.ok if done else False,
            exit_code=done.exit_code if done else None,
            reason=done.reason if done else reason,
            output_tail=tuple(self.tail),
            started_at=self.started_at,
            finished_at=utcnow(),
            lock_holder=lock_holder,
            dry_run=self.plan.dry_run,
            http_status=done.http_status if done else None,
            result=done.result if done else result,
        )

    def _entry(self, event: str) -> dict[str, Any]:
        return {
            "event": event,
            "run": self.run_id,
            "action": self.plan.event_kind,
            "who": self.user,
            "when": iso_utc(self.started_at),
            "host": host_name(),
            "pid": os.getpid(),
            "plan": self.plan.audit(),
        }

    def audit_started(self) -> None:
        """The durable record that it is about to run, synced before anything runs; raises
        OSError when it cannot be written (then nothing may run)."""
        entry = self._entry("started")
        append_audit(self.data_dir, entry)
        self._team_audit(entry)

    def _team_audit(self, entry: dict[str, Any]) -> None:
        """The team's copy of an entry, in the PostgreSQL store (the local log, written and
        synced first, is the record that decides; a copy that fails is logged)."""
        if self.shared is None:
            return
        from cockpit.actions.audit import audit_text
        from cockpit.incident.store.pg.store import PgIncidentStore

        try:
            store = PgIncidentStore(self.shared)
            try:
                store.append_audit(host_name(), audit_text(entry))
            finally:
                store.close()
        except StoreError as exc:
            log.warning("the team's audit log not written: %s", exc)

    def audit(self, outcome: RevertOutcome) -> RevertOutcome:
        entry = self._entry("finished")
        entry.update(
            {
                "finished": iso_utc(outcome.finished_at),
                "preflight": self.preflight,
                "result": outcome.result,
                "ok": outcome.ok,
                "exit_code": outcome.exit_code,
                "http_status": outcome.http_status,
                "reason": outcome.reason,
                "duration_seconds": round(outcome.seconds, 3),
                "output_tail": list(outcome.output_tail),
            }
        )
        if self.notes:
            entry["notes"] = self.notes
        holder = outcome.lock_holder
        if holder is not None:
            entry["lock_holder"] = {
                "user": holder.user,
                "pid": holder.pid,
                "host": holder.host,
                "since": iso_utc(holder.since) if holder.since else None,
            }
        try:
            append_audit(self.data_dir, entry)
        except OSError as exc:
            log.error("audit log not written: %s", exc)
            return replace(
                outcome, reason=f"{outcome.reason}; audit log not written: {exc.strerror or exc}"
            )
        finally:
            self._team_audit(entry)
        return outcome


Execute = Callable[[Attempt], Awaitable[Done]]


async def run_guarded(
    plan: GuardedPlan,
    execute: Execute,
    *,
    store: EventSink | Callable[[], EventSink],
    data_dir: Path,
    user: str,
    on_output: Callable[[str], None],
    run_id: str = "",
    output_fd: int | None = None,
    raw_fd: int | None = None,
    on_raw: Callable[[int], None] | None = None,
    record_patience: float = RECORD_PATIENCE,
    on_locked: Callable[[], None] | None = None,
    on_finished: Callable[[RevertOutcome], None] | None = None,
    started_at: datetime | None = None,
    shared_lock: PgTarget | None = None,
) -> RevertOutcome:
    """Carry out `plan` under the service lock (and the team's, in `shared_lock`: the
    PostgreSQL store, which must be reachable for anything to run); returns what happened,
    never raises for it.

    Preflight commands run even in a dry run (they only check); `execute` then does not run.
    `on_locked` is called once the lock is held, `on_finished` with the outcome before the
    lock is released (a supervisor writes its result file there, so that no moment exists
    when the lock is free and the run's end is not on record). Cancelling the task stops the
    running step, records the attempt and re-raises.
    """
    recorder = EventRecorder(store, record_patience)
    attempt = Attempt(
        plan,
        recorder,
        data_dir,
        user,
        on_output,
        run_id=run_id or new_run_id(plan.service),
        output_fd=output_fd,
        raw_fd=raw_fd,
        on_raw=on_raw,
    )
    if started_at is not None:
        attempt.started_at = started_at
    attempt.shared = shared_lock

    def finished(outcome: RevertOutcome) -> RevertOutcome:
        if on_finished is not None:
            try:
                on_finished(outcome)
            except Exception:
                log.exception("recording the end of %s failed", plan.describe())
        return outcome

    lock = ServiceLock(
        data_dir,
        plan.service,
        user=user,
        what=plan.describe(),
        run=attempt.run_id,
        shared=shared_lock,
    )
    try:
        await asyncio.to_thread(lock.acquire)
    except LockHeld as held:
        attempt.say(f"not started: {held}")
        outcome = attempt.outcome(None, f"lock held: {held}", held.holder, "lock held")
        return finished(await asyncio.to_thread(attempt.audit, outcome))
    except StoreError as exc:
        reason = f"the team's lock cannot be taken, the store is unreachable: {exc.reason}"
        attempt.say(f"not started: {reason}")
        outcome = attempt.outcome(None, reason, result="error")
        return finished(await asyncio.to_thread(attempt.audit, outcome))
    except OSError as exc:
        reason = f"cannot take the lock {lock.path}: {exc.strerror}"
        attempt.say(f"not started: {reason}")
        outcome = attempt.outcome(None, reason, result="error")
        return finished(await asyncio.to_thread(attempt.audit, outcome))
    try:
        attempt.lock_fds = lock.filenos()
        if on_locked is not None:
            on_locked()
        try:
            await asyncio.to_thread(attempt.audit_started)
        except OSError as exc:
            reason = f"not run: the audit log cannot be written ({exc.strerror or exc})"
            attempt.say(reason)
            return finished(attempt.outcome(None, reason, result="not audited"))
        stale = lock.stale_message()
        if stale:
            attempt.say(stale)
            attempt.notes.append(stale)
        outcome = finished(await _locked(attempt, execute))
    finally:
        lock.release()
        # Shielded: a cancelled attempt's "finished" event is the one that matters most.
        await asyncio.shield(recorder.settle())
    if recorder.failures:
        log.warning("timeline not updated: %s", recorder.failures[-1])
    return outcome


async def _locked(attempt: Attempt, execute: Execute) -> RevertOutcome:
    plan = attempt.plan
    attempt.record(
        "started", started_text(plan.describe(), attempt.user, plan.dry_run), attempt.started_at
    )
    try:
        outcome = await _steps(attempt, execute)
    except BaseException as exc:
        # Cancelled, or a bug: the attempt still gets its timeline entry and audit line.
        cancelled = isinstance(exc, asyncio.CancelledError)
        reason = "cancelled while running" if cancelled else f"error: {type(exc).__name__}"
        if not cancelled:
            log.exception("%s failed", plan.describe())
        outcome = attempt.outcome(None, reason, result="cancelled" if cancelled else "error")
        # Shielded: a cancelled action is exactly the one whose record matters.
        await asyncio.shield(_finish(attempt, outcome))
        raise
    return await asyncio.shield(_finish(attempt, outcome))


async def _finish(attempt: Attempt, outcome: RevertOutcome) -> RevertOutcome:
    attempt.record("finished", finished_text(attempt.plan.describe(), outcome), outcome.finished_at)
    return await asyncio.to_thread(attempt.audit, outcome)


async def _steps(attempt: Attempt, execute: Execute) -> RevertOutcome:
    plan = attempt.plan
    for argv in plan.preflight:
        check = await attempt.run("preflight", argv)
        attempt.preflight.append(
            {
                "argv": list(argv),
                "exit_code": check.exit_code,
                "result": check.describe(plan.timeout),
                "seconds": round(check.seconds, 3),
            }
        )
        if not check.ok:
            reason = f"preflight {shlex.join(argv)} failed: {check.describe(plan.timeout)}"
            attempt.say(f"stopped: {reason}; the {plan.event_kind} did not run")
            return attempt.outcome(None, reason, result="preflight failed")
    if plan.dry_run:
        attempt.say(f"dry run: would run: {plan.command_line()}")
        done = Done(True, f"dry run: would run {plan.command_line()}", "dry run")
        return attempt.outcome(done)
    done = await execute(attempt)
    return attempt.outcome(done)


def describe_outcome(outcome: RevertOutcome) -> str:
    """One line for a person: "ok", "FAILED: exit 3", "NOT RUN: ...", "OUTCOME UNKNOWN: ..."."""
    if outcome.unknown:
        return f"OUTCOME UNKNOWN: {outcome.reason}"
    if not outcome.ran:
        return f"NOT RUN: {outcome.reason}"
    if outcome.ok:
        return "ok" if not outcome.dry_run else f"dry run: {outcome.reason}"
    return f"FAILED: {outcome.reason}"
