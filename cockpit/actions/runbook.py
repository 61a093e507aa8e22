"""Named runbook actions per service (`actions = { failover = [...] }` in [[services]]).

An action is a command with the same guardrails as a revert: action_preflight checks, the
service lock, dry-run, timeout, streamed output, "action.started"/"action.finished" timeline
events and an audit line per attempt.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.actions.guarded import Attempt, Done, RevertOutcome, command_done, run_guarded
from cockpit.actions.revert_plan import RevertError, substitute
from cockpit.config import ServiceConfig
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Deploy
from cockpit.timeutil import iso_utc

ActionOutcome = RevertOutcome
ActionError = RevertError  # the action cannot be planned; the message says why


@dataclass(frozen=True, slots=True)
class ActionPlan:
    service: str
    name: str
    argv: tuple[str, ...]  # fully substituted
    preflight: tuple[tuple[str, ...], ...]
    timeout: float
    dry_run: bool

    event_kind = "action"

    def describe(self) -> str:
        """e.g. "action failover on files-web"."""
        return f"action {self.name} on {self.service}"

    def command_line(self) -> str:
        return shlex.join(self.argv)

    def preflight_lines(self) -> tuple[str, ...]:
        return tuple(shlex.join(argv) for argv in self.preflight)

    def audit(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "name": self.name,
            "argv": list(self.argv),
            "preflight": [list(argv) for argv in self.preflight],
            "timeout": self.timeout,
            "dry_run": self.dry_run,
        }


def action_names(service: ServiceConfig | None) -> tuple[str, ...]:
    return tuple(service.actions) if service is not None else ()


def plan_action(
    service: ServiceConfig | None, name: str, deploys: Sequence[Deploy] = ()
) -> ActionPlan:
    """Plan runbook action `name` of `service`. Placeholders: {service}, and {current.*}
    (version, who, at, source) when a deploy of the service is known."""
    if service is None:
        raise ActionError("no [[services]] entry in the config for this service")
    template = service.actions.get(name)
    if template is None:
        known = ", ".join(service.actions) or "none"
        raise ActionError(f"{service.name} has no action {name!r} (actions: {known})")
    values = {"service": service.name}
    own = sorted((d for d in deploys if d.service == service.name), key=lambda d: d.at)
    if own:
        current = own[-1]
        values |= {
            "current.version": current.version,
            "current.who": current.who,
            "current.at": iso_utc(current.at),
            "current.source": current.source,
        }
    return ActionPlan(
        service=service.name,
        name=name,
        argv=substitute(template, values),
        preflight=tuple(substitute(argv, values) for argv in service.action_preflight),
        timeout=service.action_timeout,
        dry_run=service.dry_run,
    )


async def execute_action(attempt: Attempt) -> Done:
    plan = attempt.plan
    assert isinstance(plan, ActionPlan)
    return command_done(await attempt.run(plan.name, plan.argv), plan.timeout)


async def run_action(
    plan: ActionPlan,
    *,
    store: IncidentStore,
    data_dir: Path,
    user: str,
    on_output: Callable[[str], None],
) -> ActionOutcome:
    """Carry out a runbook action under the service lock; mirrors `run_revert`."""
    return await run_guarded(
        plan, execute_action, store=store, data_dir=data_dir, user=user, on_output=on_output
    )
