"""Reverting the latest deploy: plan (revert_plan), then lock -> preflight -> execute -> audit.

Everything a person needs afterwards is kept: "revert.started"/"revert.finished" timeline
events, streamed output, and one audit line per attempt, even a refused or failed one.
Expected failures (lock held, preflight failed, non-zero exit, timeout, HTTP 5xx) are
returned, not raised. The guardrails live in `guarded`, the executors in `executors`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cockpit.actions.guarded import RevertOutcome, run_guarded
from cockpit.actions.lock import LockHeld, LockHolder, ServiceLock
from cockpit.actions.revert_plan import (
    KNOWN_PLACEHOLDERS,
    HttpRequest,
    RevertError,
    RevertPlan,
    SymlinkSwitch,
    find_target,
    plan_revert,
    substitute,
)
from cockpit.incident.store.sqlite import IncidentStore

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "HttpRequest",
    "LockHeld",
    "LockHolder",
    "RevertError",
    "RevertOutcome",
    "RevertPlan",
    "ServiceLock",
    "SymlinkSwitch",
    "find_target",
    "plan_revert",
    "run_revert",
    "substitute",
]


async def run_revert(
    plan: RevertPlan,
    *,
    store: IncidentStore,
    data_dir: Path,
    user: str,
    on_output: Callable[[str], None],
) -> RevertOutcome:
    """Carry out a plan under the service lock; returns what happened, never raises for it.

    Preflight commands run even in a dry run (they only check); the revert itself then is
    only shown. Cancelling the task stops the running step, records the attempt and
    re-raises.
    """
    # The executors bring httpx: loaded when a revert runs, not when the cockpit starts.
    from cockpit.actions.executors import execute_revert

    return await run_guarded(
        plan, execute_revert, store=store, data_dir=data_dir, user=user, on_output=on_output
    )
