"""Reverting the latest deploy: plan (revert_plan), then lock -> preflight -> command -> audit.

Everything a person needs afterwards is kept: "revert.started"/"revert.finished" timeline
events, streamed output, and one audit line per attempt, even a refused or failed one.
Expected failures (lock held, preflight failed, non-zero exit, timeout) are returned, not raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.actions.audit import append_audit
from cockpit.actions.lock import LockHeld, LockHolder, ServiceLock
from cockpit.actions.process import CommandResult, run_command
from cockpit.actions.revert_plan import (
    KNOWN_PLACEHOLDERS,
    RevertError,
    RevertPlan,
    find_target,
    plan_revert,
    substitute,
)
from cockpit.actions.whoami import host_name
from cockpit.incident.store import IncidentStore
from cockpit.model import TimelineEvent
from cockpit.textsafe import one_line
from cockpit.timeutil import duration, iso_utc, utcnow

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "LockHeld",
    "LockHolder",
    "RevertError",
    "RevertOutcome",
    "RevertPlan",
    "ServiceLock",
    "find_target",
    "plan_revert",
    "run_revert",
    "substitute",
]

log = logging.getLogger(__name__)

OUTPUT_TAIL_LINES = 50
EVENT_SOURCE = "cockpit"


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    ok: bool
    exit_code: int | None  # of the revert command; None when it did not run to an exit
    reason: str  # "ok", "dry run: ...", "exit 1", "timed out after 120s", "preflight ...", ...
    output_tail: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    lock_holder: LockHolder | None = None  # set when someone else held the lock
    dry_run: bool = False  # ok then means "checks passed", not "reverted"

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class _Run:
    """One attempt's bookkeeping: output tail, preflight results, the audit entry."""

    def __init__(
        self,
        plan: RevertPlan,
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
        self.started_at = utcnow()

    def say(self, line: str) -> None:
        self.tail.append(line)
        with contextlib.suppress(Exception):  # the display failing must not stop the revert
            self.on_output(line)

    async def record(self, kind: str, text: str) -> None:
        event = TimelineEvent(at=utcnow(), kind=kind, text=one_line(text), source=EVENT_SOURCE)
        try:
            await asyncio.to_thread(self.store.add_event, event)
        except Exception as exc:
            # The revert matters more than its timeline entry; the audit log still has it.
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
        self,
        ok: bool,
        exit_code: int | None,
        reason: str,
        lock_holder: LockHolder | None = None,
    ) -> RevertOutcome:
        return RevertOutcome(
            ok=ok,
            exit_code=exit_code,
            reason=reason,
            output_tail=tuple(self.tail),
            started_at=self.started_at,
            finished_at=utcnow(),
            lock_holder=lock_holder,
            dry_run=self.plan.dry_run,
        )

    def audit(self, outcome: RevertOutcome, result: str) -> RevertOutcome:
        entry = {
            "action": "revert",
            "who": self.user,
            "when": iso_utc(outcome.started_at),
            "finished": iso_utc(outcome.finished_at),
            "host": host_name(),
            "plan": {**asdict(self.plan), "argv": list(self.plan.argv)},
            "preflight": self.preflight,
            "result": result,
            "ok": outcome.ok,
            "exit_code": outcome.exit_code,
            "reason": outcome.reason,
            "duration_seconds": round(outcome.seconds, 3),
            "output_tail": list(outcome.output_tail),
        }
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


async def run_revert(
    plan: RevertPlan,
    *,
    store: IncidentStore,
    data_dir: Path,
    user: str,
    on_output: Callable[[str], None],
) -> RevertOutcome:
    """Carry out a plan under the service lock; returns what happened, never raises for it.

    Preflight commands run even in a dry run (they only check); the revert command then is
    only shown. Cancelling the task stops the running command, records the attempt and
    re-raises.
    """
    attempt = _Run(plan, store, data_dir, user, on_output)
    lock = ServiceLock(data_dir, plan.service, user=user)
    try:
        lock.acquire()
    except LockHeld as held:
        attempt.say(f"not started: {held}")
        outcome = attempt.outcome(False, None, f"lock held: {held}", held.holder)
        return await asyncio.to_thread(attempt.audit, outcome, "lock held")
    except OSError as exc:
        outcome = attempt.outcome(False, None, f"cannot take the lock {lock.path}: {exc.strerror}")
        return await asyncio.to_thread(attempt.audit, outcome, "error")
    try:
        return await _locked(attempt)
    finally:
        lock.release()


async def _locked(attempt: _Run) -> RevertOutcome:
    plan = attempt.plan
    dry = " (dry run)" if plan.dry_run else ""
    await attempt.record("revert.started", f"{plan.describe()} started by {attempt.user}{dry}")
    try:
        outcome, result = await _steps(attempt)
    except BaseException as exc:
        # Cancelled, or a bug: the attempt still gets its timeline entry and audit line.
        cancelled = isinstance(exc, asyncio.CancelledError)
        reason = "cancelled while running" if cancelled else f"error: {type(exc).__name__}"
        outcome = attempt.outcome(False, None, reason)
        # Shielded: a cancelled revert is exactly the one whose record matters.
        await asyncio.shield(_finish(attempt, outcome, "cancelled" if cancelled else "error"))
        raise
    return await asyncio.shield(_finish(attempt, outcome, result))


async def _finish(attempt: _Run, outcome: RevertOutcome, result: str) -> RevertOutcome:
    plan = attempt.plan
    text = f"{plan.describe()} finished: {'ok' if outcome.ok else 'failed'}"
    if not outcome.ok or plan.dry_run:
        text += f": {outcome.reason}"
    text += f" ({duration(outcome.seconds)})"
    await attempt.record("revert.finished", text)
    return await asyncio.to_thread(attempt.audit, outcome, result)


async def _steps(attempt: _Run) -> tuple[RevertOutcome, str]:
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
            attempt.say(f"stopped: {reason}; the revert command did not run")
            return attempt.outcome(False, None, reason), "preflight failed"
    if plan.dry_run:
        attempt.say(f"dry run: would run: {plan.command_line()}")
        return attempt.outcome(True, None, f"dry run: would run {plan.command_line()}"), "dry run"
    done = await attempt.run("revert", plan.argv)
    reason = done.describe(plan.timeout)
    result = "ok" if done.ok else ("timed out" if done.timed_out else "failed")
    exit_code = None if done.timed_out else done.exit_code
    return attempt.outcome(done.ok, exit_code, reason), result
