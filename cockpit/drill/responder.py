"""A scripted responder: what a person would do in a drill, written down so a drill can run
headless (tests, scripts, a rehearsal of the rehearsal).

    [[step]]
    on = "concurrency"     # wait until the cockpit shows this event kind (SHOWN_KINDS) ...
    # source = "node-*"    # ... from a source of this name (a glob: a probe, a spike's log)
    # at = "07:35"         # ... or until the scenario clock shows this time
    after = 2              # then this many scenario minutes more
    do = "declare"         # declare | note | revert | action | status | end
    text = ""              # note: its text; action: its name; status: mitigated or resolved;
                           # revert: what to revert ("" as the R key does, "latest deploy",
                           # "suspect" = the top suspect change, "suspect 2" the next ...)

Steps run in order. An `on` step is satisfied by an event shown since the previous step began
waiting, so two signals shown together satisfy two steps in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.actions.revert_plan import RevertError
from cockpit.config.base import ConfigError, FieldError
from cockpit.config.loader import Loader
from cockpit.drill.report import DrillReport
from cockpit.drill.scenario import Scenario, _check_clock
from cockpit.drill.session import DrillSession
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Freshness, IncidentStatus, TimelineEvent
from cockpit.runtime import Cockpit
from cockpit.timeutil import utcnow

log = logging.getLogger("cockpit.drill")

DOES = ("declare", "note", "revert", "action", "status", "end")
# What the detector shows, so that a misspelt `on` fails at load instead of waiting forever.
SHOWN_KINDS = (
    "probe.down",
    "probe.up",
    "concurrency",
    "spike.start",
    "spike.peak",
    "spike.end",
    "sentry.new",
    "blind_spot",
    "suspect",
    "deploy",
    "recovered",
    # A page is shown like any other signal, so a script can act when a person is paged.
    "alert.firing",
    "alert.resolved",
)
STATUSES = ("identified", "mitigated", "resolved")
_REVERT_TARGET = re.compile(r"^(?:|latest deploy|suspect(?: ([1-9]\d?))?)$")


@dataclass(frozen=True)
class Step:
    do: str
    on: str | None = None
    at: str | None = None
    after: float = 0.0  # scenario minutes
    text: str = ""
    source: str = ""  # with `on`: only events of a source matching this glob

    def check(self) -> None:
        if self.do not in DOES:
            raise FieldError("do", f"one of: {', '.join(DOES)}")
        if self.on is not None and self.at is not None:
            raise FieldError("at", "wait for an event (on) or a time (at), not both")
        if self.on is not None and self.on not in SHOWN_KINDS:
            raise FieldError("on", f"one of: {', '.join(SHOWN_KINDS)}")
        if self.source and self.on is None:
            raise FieldError("source", "a source narrows an event to wait for: give `on` too")
        if self.at is not None:
            _check_clock("at", self.at)
        if self.after < 0:
            raise FieldError("after", "scenario minutes, 0 or more")
        if self.do in ("note", "action") and not self.text.strip():
            raise FieldError("text", f"{self.do} needs text (the note, or the action's name)")
        if self.do == "status" and self.text not in STATUSES:
            raise FieldError("text", f"the status: one of {', '.join(STATUSES)}")
        if self.do == "revert" and not _REVERT_TARGET.match(self.text.strip()):
            raise FieldError(
                "text", 'what to revert: "" (as R does), "latest deploy", "suspect" or "suspect 2"'
            )


@dataclass(frozen=True)
class ResponderScript:
    steps: tuple[Step, ...]
    path: Path | None = None


def parse_script(text: str, path: Path | None = None) -> ResponderScript:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, "", f"TOML syntax error: {exc}") from None
    loader = Loader(path, text, {})
    unknown = [key for key in data if key != "step"]
    if unknown:
        raise loader.error((unknown[0],), "unknown key; a script is a list of [[step]]")
    raw = data.get("step", [])
    if not isinstance(raw, list) or not raw:
        raise loader.error(("step",), "expected [[step]] entries")
    steps = tuple(loader.section(Step, item, ("step", i)) for i, item in enumerate(raw))
    return ResponderScript(steps, path)


def load_script(path: Path) -> ResponderScript:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "", f"cannot read responder script: {exc}") from None
    return parse_script(text, path)


class Responder:
    """Carries out a script against a drill session's cockpit (the headless stand-in for the
    keys a person presses)."""

    def __init__(self, session: DrillSession, script: ResponderScript):
        self.session = session
        self.script = script
        self.done: list[tuple[Step, datetime]] = []  # real UTC time each step was carried out

    async def run(self) -> bool:
        """Run the steps; True if the script ended the drill, False if it ran out of steps
        or the scenario ended first."""
        session = self.session
        scenario: Scenario = session.scenario
        since = utcnow()
        for step in self.script.steps:
            began = utcnow()
            if step.on is not None:
                seen = await self._shown(step.on, since, step.source)
                if seen is None:
                    return False
                ready = session.scenario_at(seen)
            elif step.at is not None:
                ready = scenario.clock(step.at)
            else:
                ready = session.scenario_now()
            target = ready + timedelta(minutes=step.after)
            if target >= scenario.end:
                return False
            await session.until_scenario(target)
            since = began
            if step.do == "end":
                self.done.append((step, utcnow()))
                return True
            await self._do(step)
            self.done.append((step, utcnow()))
        return False

    async def _shown(self, kind: str, since: datetime, source: str = "") -> datetime | None:
        """When an event of `kind` was first shown at or after `since`; None if the scenario
        ends first."""
        cockpit = self.session.cockpit()
        while True:
            cockpit.changed.clear()
            found = _first(cockpit.shown, kind, since, source)
            if found is not None:
                return found
            left = self.session.real_at(self.session.scenario.end) - utcnow()
            if left.total_seconds() <= 0:
                return None
            try:
                await asyncio.wait_for(cockpit.changed.wait(), left.total_seconds())
            except TimeoutError:
                return None

    async def _suspected(self, count: int) -> bool:
        """Wait until every change source has read its log since now, as a person glances at
        the changes panel after it refreshed, and the cockpit suspects at least `count`
        changes; False if the scenario ends first. (A change made just before the failure may
        not have been read yet when the failure shows: at a drill's speed, one poll of a
        change log is minutes of scenario time.)"""
        cockpit = self.session.cockpit()
        config = cockpit.config
        names = [c.name for c in (*config.deploys, *config.changes)]
        since = utcnow()
        first: dict[str, datetime] = {}
        while True:
            cockpit.refreshed.clear()
            statuses = cockpit.view.snapshot.statuses
            settled = True
            for name in names:
                status = statuses.get(name)
                if status is None or status.freshness is not Freshness.FRESH:
                    continue  # a failing source will not read anything: do not wait for it
                at = status.updated_at
                if at is None or at < since:
                    settled = False
                    continue
                # Polls never overlap: the one that ends after the first seen since `since`
                # began after it.
                first.setdefault(name, at)
                settled = settled and at > first[name]
            if settled and len(cockpit.view.assessment.suspects) >= count:
                return True
            left = self.session.real_at(self.session.scenario.end) - utcnow()
            if left.total_seconds() <= 0:
                return False
            try:
                await asyncio.wait_for(cockpit.refreshed.wait(), left.total_seconds())
            except TimeoutError:
                return False

    async def _do(self, step: Step) -> None:
        cockpit = self.session.cockpit()
        log.info("responder: %s %s", step.do, step.text)
        if step.do == "declare":
            await cockpit.declare(cockpit.declare_request())
        elif step.do == "note":
            await cockpit.note(step.text)
        elif step.do == "revert":
            target = step.text.strip()
            match = _REVERT_TARGET.match(target)
            # Nothing suspected yet (a change log not read since the change): a person looks
            # again a moment later, and so does the script.
            if (
                target.startswith("suspect")
                and match is not None
                and not await self._suspected(int(match.group(1) or 1))
            ):
                return
            try:
                await revert_target(cockpit, target)
            except RevertError as refused:
                # A change with no revert (a maintenance run): the person reads why, goes on.
                log.info("responder: no revert: %s", refused)
        elif step.do == "action":
            await run_action(cockpit, step.text)
        elif step.do == "status":
            status = IncidentStatus(step.text)

            def move(store: IncidentStore) -> None:
                incident = store.open_incident()
                if incident is None:
                    raise LookupError("no open incident to change the status of")
                store.set_status(incident.id, status)

            await cockpit.storage.call(move)
            await cockpit.sync()


async def revert_target(cockpit: Cockpit, target: str) -> None:
    """Revert what a script's step names: as the R key does, the latest deploy, or the n-th
    change the cockpit suspects (a deploy through its service's revert, any other change
    through the revert its source declares)."""
    if target == "latest deploy":
        latest = next(iter(cockpit.view.assessment.deploys), None)
        plan = cockpit.plan_revert(latest.service if latest is not None else None)
        await cockpit.revert(plan, on_output=_ignore)
        return
    match = _REVERT_TARGET.match(target)
    if not target or match is None:
        # R: the top suspect change, or the latest deploy when nothing is suspected.
        await cockpit.revert(cockpit.plan_change_revert(), on_output=_ignore)
        return
    index = int(match.group(1) or 1) - 1
    suspects = cockpit.view.assessment.suspects
    if index >= len(suspects):
        raise LookupError(f"no suspect {index + 1}: the cockpit suspects {len(suspects)}")
    await cockpit.revert(cockpit.plan_change_revert(suspects[index].change), on_output=_ignore)


def _first(
    shown: list[tuple[TimelineEvent, datetime]], kind: str, since: datetime, source: str = ""
) -> datetime | None:
    return next(
        (
            at
            for event, at in shown
            if event.kind == kind
            and at >= since
            and (not source or fnmatch.fnmatchcase(str(event.source), source))
        ),
        None,
    )


def _ignore(line: str) -> None:
    pass


async def run_action(
    cockpit: Cockpit, name: str, on_output: Callable[[str], None] = _ignore
) -> bool:
    """Run a named runbook action of the service (`[[services]] actions = { failover = [...] }`)
    the way the cockpit's own action key does: plan, lock, run, audit, timeline."""
    plan = cockpit.plan_action(name)
    outcome = await cockpit.run_action(plan, on_output=on_output)
    return outcome.ok


async def run_headless(
    scenario: Scenario,
    script: ResponderScript,
    *,
    data_dir: Path,
    speed: float | None = None,
    notifications: str = "mark",
    user: str = "drill-responder",
) -> DrillReport:
    """A whole drill without a screen: world, cockpit, the scripted responder, the report."""
    session = DrillSession(
        scenario, data_dir=data_dir, speed=speed, notifications=notifications, user=user
    )
    await session.start()
    try:
        cockpit = session.cockpit()
        feed = asyncio.create_task(session.feed())
        try:
            ended = await Responder(session, script).run()
            if not ended:
                await session.until_scenario(scenario.end)
            cockpit.refresh()
            await cockpit.sync()  # what was just observed is saved before the report reads it
            return session.finish()
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            await cockpit.aclose()
    finally:
        await session.stop()
