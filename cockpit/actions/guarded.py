"""The guardrails every destructive action shares: lock -> preflight -> execute -> record.

A revert and a runbook action differ only in their plan and in what "execute" does; both get
the service lock (or say who holds it), run the preflight checks, honour dry-run, stream their
output, and leave a "<kind>.started" / "<kind>.finished" pair in the timeline plus one audit
line per attempt, even a refused, failed or cancelled one. Expected failures are returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cockpit.actions.audit import append_audit
from cockpit.actions.lock import LockHeld, LockHolder, ServiceLock
from cockpit.actions.process import CommandResult, run_command
from cockpit.actions.whoami import host_name
from cockpit.incident.store import IncidentStore
from cockpit.model import TimelineEvent
from cockpit.textsafe import Inert, one_line
from cockpit.timeutil import duration, iso_utc, utcnow

log = logging.getLogger(__name__)

OUTPUT_TAIL_LINES = 50
EVENT_SOURCE = "cockpit"


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

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


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


class Attempt:
    """One attempt's bookkeeping: output tail, preflight results, the audit entry."""

    def __init__(
        self,
        plan: GuardedPlan,
        store: IncidentStore,
        data_dir: Path,
        user: str,
        on_output: Callable[[str], None],
    ):
        self.plan = plan
        self.store = store
        self.data_dir = data_dir
        self.user = user
        self.on_output = on_output
        self.tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self.preflight: list[dict[str, Any]] = []
        self.notes: list[str] = []  # said once, kept in the audit entry (e.g. a stale lock)
        self.started_at = utcnow()

    def say(self, line: str) -> None:
        line = Inert(line)  # command and server output: shown, kept in the audit, all inert
        self.tail.append(line)
        with contextlib.suppress(Exception):  # the display failing must not stop the action
            self.on_output(line)

    async def record(self, kind: str, text: str) -> None:
        event = TimelineEvent(at=utcnow(), kind=kind, text=one_line(text), source=EVENT_SOURCE)
        try:
            await asyncio.to_thread(self.store.add_event, event)
        except Exception as exc:
            # The action matters more than its timeline entry; the audit log still has it.
            log.warning("could not record %s in the incident store: %s", kind, exc)
            self.say(f"warning: timeline not updated ({type(exc).__name__})")

    async def run(self, what: str, argv: tuple[str, ...]) -> CommandResult:
        self.say(f"$ {shlex.join(argv)}")
        result = await run_command(argv, timeout=self.plan.timeout, on_line=self.say)
        if result.start_error:
            self.say(result.start_error)
        log.info("%s %s: %s", what, shlex.join(argv), result.describe(self.plan.timeout))
        return result

    def outcome(
        self, done: Done | None, reason: str = "", lock_holder: LockHolder | None = None
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
        )

    def audit(self, outcome: RevertOutcome, result: str) -> RevertOutcome:
        entry: dict[str, Any] = {
            "action": self.plan.event_kind,
            "who": self.user,
            "when": iso_utc(outcome.started_at),
            "finished": iso_utc(outcome.finished_at),
            "host": host_name(),
            "plan": self.plan.audit(),
            "preflight": self.preflight,
            "result": result,
            "ok": outcome.ok,
            "exit_code": outcome.exit_code,
            "http_status": outcome.http_status,
            "reason": outcome.reason,
            "duration_seconds": round(outcome.seconds, 3),
            "output_tail": list(outcome.output_tail),
        }
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
            return replace(outcome, reason=f"{outcome.reason}; audit log not written: {exc}")
        return outcome


Execute = Callable[[Attempt], Awaitable[Done]]


async def run_guarded(
    plan: GuardedPlan,
    execute: Execute,
    *,
    store: IncidentStore,
    data_dir: Path,
    user: str,
    on_output: Callable[[str], None],
) -> RevertOutcome:
    """Carry out `plan` under the service lock; returns what happened, never raises for it.

    Preflight commands run even in a dry run (they only check); `execute` then does not run.
    Cancelling the task stops the running step, records the attempt and re-raises.
    """
    attempt = Attempt(plan, store, data_dir, user, on_output)
    lock = ServiceLock(data_dir, plan.service, user=user)
    try:
        lock.acquire()
    except LockHeld as held:
        attempt.say(f"not started: {held}")
        outcome = attempt.outcome(None, f"lock held: {held}", held.holder)
        return await asyncio.to_thread(attempt.audit, outcome, "lock held")
    except OSError as exc:
        outcome = attempt.outcome(None, f"cannot take the lock {lock.path}: {exc.strerror}")
        return await asyncio.to_thread(attempt.audit, outcome, "error")
    try:
        stale = lock.stale_message()
        if stale:
            attempt.say(stale)
            attempt.notes.append(stale)
        return await _locked(attempt, execute)
    finally:
        lock.release()


async def _locked(attempt: Attempt, execute: Execute) -> RevertOutcome:
    plan = attempt.plan
    kind = plan.event_kind
    dry = " (dry run)" if plan.dry_run else ""
    await attempt.record(f"{kind}.started", f"{plan.describe()} started by {attempt.user}{dry}")
    try:
        outcome, result = await _steps(attempt, execute)
    except BaseException as exc:
        # Cancelled, or a bug: the attempt still gets its timeline entry and audit line.
        cancelled = isinstance(exc, asyncio.CancelledError)
        reason = "cancelled while running" if cancelled else f"error: {type(exc).__name__}"
        if not cancelled:
            log.exception("%s failed", plan.describe())
        outcome = attempt.outcome(None, reason)
        # Shielded: a cancelled action is exactly the one whose record matters.
        await asyncio.shield(_finish(attempt, outcome, "cancelled" if cancelled else "error"))
        raise
    return await asyncio.shield(_finish(attempt, outcome, result))


async def _finish(attempt: Attempt, outcome: RevertOutcome, result: str) -> RevertOutcome:
    plan = attempt.plan
    text = f"{plan.describe()} finished: {'ok' if outcome.ok else 'failed'}"
    if not outcome.ok or plan.dry_run:
        text += f": {outcome.reason}"
    text += f" ({duration(outcome.seconds)})"
    await attempt.record(f"{plan.event_kind}.finished", text)
    return await asyncio.to_thread(attempt.audit, outcome, result)


async def _steps(attempt: Attempt, execute: Execute) -> tuple[RevertOutcome, str]:
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
            return attempt.outcome(None, reason), "preflight failed"
    if plan.dry_run:
        attempt.say(f"dry run: would run: {plan.command_line()}")
        done = Done(True, f"dry run: would run {plan.command_line()}", "dry run")
        return attempt.outcome(done), "dry run"
    done = await execute(attempt)
    return attempt.outcome(done), done.result
