"""Reverting one change that is not a deploy: a config commit, a package upgrade, a flag.

The change's source declares how (`revert` in its [[changes]] section, an argv template; git
has `git -C {repo} revert --no-edit {commit}` by default). The plan is carried out like a
deploy's revert: preflight checks, typed confirmation, the lock (named after what the change
belongs to: its service, else its host), the supervisor, the audit log, and "revert.started" /
"revert.finished" events whose text names the change (kind, subject, host, source). A deploy
change goes through the deploy revert of its service (`revert_plan.plan_revert`); a change
whose source declares no revert gets no plan, and the reason says so.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from cockpit.actions.guarded import Attempt, Done, command_done
from cockpit.actions.revert_plan import RevertError, substitute
from cockpit.config.changes import ChangeSourceConfig, GitChangesConfig
from cockpit.model import Change
from cockpit.term.textsafe import identity
from cockpit.timeutil import iso_utc


@dataclass(frozen=True, slots=True)
class ChangeRevertPlan:
    service: str  # what the lock and the typed confirmation name: the service, else the host
    kind: str
    subject: str
    host: str
    source: str
    what: str
    at: str
    argv: tuple[str, ...]
    preflight: tuple[tuple[str, ...], ...]
    timeout: float
    dry_run: bool

    event_kind = "revert"  # the same revert.started / revert.finished events as a deploy's

    def describe(self) -> str:
        """e.g. "revert config 1a2b3c4 on web-2 (nginx-config)"."""
        where = f" on {identity(self.host)}" if self.host else ""
        return f"revert {self.kind} {identity(self.subject)}{where} ({self.source})"

    def command_line(self) -> str:
        return shlex.join(self.argv)

    def preflight_lines(self) -> tuple[str, ...]:
        return tuple(shlex.join(argv) for argv in self.preflight)

    def audit(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "change": {
                "kind": self.kind,
                "subject": self.subject,
                "host": self.host,
                "source": self.source,
                "what": self.what,
                "at": self.at,
            },
            "executor": "command",
            "argv": list(self.argv),
            "preflight": [list(argv) for argv in self.preflight],
            "timeout": self.timeout,
            "dry_run": self.dry_run,
        }


def change_values(change: Change, cfg: ChangeSourceConfig) -> dict[str, str]:
    """What a revert template may name, for this change (an empty value is left out: a
    template that names it cannot be filled, and says so)."""
    values = {
        "kind": str(change.kind),
        "host": change.host,
        "service": change.service,
        "subject": change.subject,
        "old": change.old,
        "new": change.new,
        "id": change.id,
        "at": iso_utc(change.at),
        "by": str(change.by),
        "source": str(change.source),
        "package": change.subject,
        "old_version": change.old,
        "new_version": change.new,
        "commit": change.id,
        "path": str(change.paths[0]) if change.paths else "",
    }
    if isinstance(cfg, GitChangesConfig):
        values["repo"] = str(cfg.repo)
    return {k: v for k, v in values.items() if v}


def plan_change_revert(change: Change, cfg: ChangeSourceConfig | None) -> ChangeRevertPlan:
    """The plan that reverts `change`; RevertError says why there is none."""
    what = f"{change.kind} {identity(change.subject or change.what)}"
    if change.reverted_by:
        raise RevertError(f"{what} was already reverted: by {change.reverted_by}")
    if cfg is None:
        raise RevertError(f"{what} comes from {change.source}, which is not a [[changes]] source")
    if cfg.revert is None:
        raise RevertError(
            f"{what} has no revert: {cfg.name} ({cfg.kind}) declares none; "
            "add revert = [...] to its [[changes]] section"
        )
    values = change_values(change, cfg)
    try:
        argv = substitute(cfg.revert, values)
        preflight = tuple(substitute(argv_t, values) for argv_t in cfg.revert_preflight)
    except RevertError as exc:
        raise RevertError(f"cannot revert {what}: {exc.reason}") from None
    return ChangeRevertPlan(
        service=change.service or change.host or str(change.source),
        kind=str(change.kind),
        subject=change.subject or str(change.what),
        host=change.host,
        source=str(change.source),
        what=str(change.what),
        at=iso_utc(change.at),
        argv=argv,
        preflight=preflight,
        timeout=cfg.revert_timeout,
        dry_run=cfg.revert_dry_run,
    )


async def execute_change_revert(attempt: Attempt) -> Done:
    plan = attempt.plan
    assert isinstance(plan, ChangeRevertPlan)
    return command_done(await attempt.run("revert", plan.argv), plan.timeout)
