"""One drill run: the world child, a drill cockpit on its world, and the report at the end.

    session = DrillSession(scenario, data_dir=..., speed=600)
    config = await session.start()          # the child is up, the clock anchored
    cockpit = session.cockpit()             # what the TUI or a responder drives
    ...
    report = session.finish()               # figures, written as Markdown and JSON
    await session.stop()

Every run keeps its own directory under <data dir>/drills/: the drill's incident store (a drill
never collides with a real open incident), the world's files with faults.jsonl, and the report.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from math import ceil
from pathlib import Path
from typing import Any, cast

from cockpit.actions.runs import Run
from cockpit.config import Config, load
from cockpit.config.sections import DRILL_NOTIFY_POLICIES, DrillNotifyPolicy
from cockpit.drill.cause import ChangeRef, plan_ref, suspect_refs
from cockpit.drill.report import DrillReport, build_report, export_section, write_report
from cockpit.drill.scenario import Scenario
from cockpit.drill.schedule import (
    MIN_INTERVAL,
    MIN_TIMEOUT,
    DrillClock,
    FaultRecord,
    read_clock,
    read_faults,
    time_factor,
)
from cockpit.drill.world_process import WorldChild, WorldError
from cockpit.model import Freshness, TimelineEvent
from cockpit.runtime import Cockpit, View
from cockpit.timeutil import utcnow

MIN_BUCKET = 1
MIN_SPIKE_WINDOW = 2.0  # real seconds of access log a spike is judged over, at least
MIN_GRACE = 2.0  # real seconds for a Sentry event to be ingested and polled back
MIN_VERIFY_MINUTES = 0.5  # real minutes a revert's recovery check waits at least


def noticing_factor(speed: float) -> float:
    """How much shorter the cockpit's noticing delays get at `speed`: 1/speed, never longer."""
    return min(1.0, 1.0 / speed)


class DrillError(Exception):
    """The drill cannot run; the message is meant for the person who started it."""


def drill_config(config: Config, speed: float, notifications: str = "mark") -> Config:
    """The world's config as a drill cockpit uses it: marked as a drill, and noticing on the
    drill's clock. What the cockpit needs to notice a failure (probe intervals, log buckets,
    Sentry and deploy polling, the detector's windows) shrinks by the speed itself, down to
    floors, so the tool's own latency in scenario minutes stays what it is at 1x and the drill
    scores the responder, not the tool. Deadlines shrink only as the world's delays do
    (`time_factor`): a slow answer must stay a failed probe at every speed."""
    if notifications not in DRILL_NOTIFY_POLICIES:
        raise ValueError(f"notifications: one of {', '.join(DRILL_NOTIFY_POLICIES)}")
    factor = time_factor(speed)
    clock = noticing_factor(speed)

    def faster(section: Any, *, deadline: bool = False) -> Any:
        changes: dict[str, Any] = {}
        if deadline and hasattr(section, "timeout"):
            changes["timeout"] = max(MIN_TIMEOUT, min(section.timeout, section.timeout * factor))
        if hasattr(section, "interval"):
            changes["interval"] = max(MIN_INTERVAL, min(section.interval, section.interval * clock))
        if hasattr(section, "bucket_seconds"):
            changes["bucket_seconds"] = max(MIN_BUCKET, round(section.bucket_seconds * clock))
        return replace(section, **changes)

    detect = config.detect
    recent = detect.spike_recent_buckets
    buckets = [b for e in config.errors if (b := getattr(e, "bucket_seconds", None))]
    if buckets:
        # A spike is judged on the same stretch of scenario time as at 1x, in whole buckets
        # (an access log's clock has one-second steps: the bucket floor is a second).
        window = recent * min(buckets) * clock
        bucket = min(max(MIN_BUCKET, round(b * clock)) for b in buckets)
        recent = max(1, min(recent, round(window / bucket)))
        # ... but never fewer real seconds than the world's traffic needs for a ratio: a
        # bucket of a second holds a handful of requests, and one without an error would end
        # a spike that is still under way (and open it again a bucket later).
        recent = max(recent, ceil(MIN_SPIKE_WINDOW / bucket))
    detect = replace(
        detect,
        spike_recent_buckets=recent,
        # Sentry's own ingestion takes real time: the grace never drops below it.
        blind_spot_grace=max(MIN_GRACE, detect.blind_spot_grace * clock),
        blind_spot_window=detect.blind_spot_window * clock,
        verify_minutes=max(MIN_VERIFY_MINUTES, detect.verify_minutes * clock),
    )
    return replace(
        config,
        cockpit=replace(
            config.cockpit,
            drill=True,
            drill_notifications=cast(DrillNotifyPolicy, notifications),  # checked above
        ),
        detect=detect,
        probes=tuple(faster(p, deadline=True) for p in config.probes),
        deploys=tuple(faster(d) for d in config.deploys),
        # Change sources are polled like deploy sources: on the drill's clock.
        changes=tuple(faster(c) for c in config.changes),
        errors=tuple(faster(e) for e in config.errors),
        sentry=tuple(faster(s) for s in config.sentry),
        alerts=tuple(faster(a) for a in config.alerts),
    )


class DrillCockpit(Cockpit):
    """A cockpit that remembers when each detector event was first shown: a signal counts from
    the moment someone could have seen it, not from the evidence it points back to. It also
    remembers which change it suspected first, and when, and which changes were reverted."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shown: list[tuple[TimelineEvent, datetime]] = []
        # Each change at the top of the suspects, when it got there (in order).
        self.named: list[tuple[ChangeRef, datetime]] = []
        # Each change anywhere in the suspects, when it first was.
        self.listed: dict[ChangeRef, datetime] = {}
        # What each revert started set out to revert (None: could not tell), and when.
        self.reverted: list[tuple[ChangeRef | None, str, datetime]] = []
        self.changed = asyncio.Event()
        self.refreshed = asyncio.Event()  # set by every refresh: someone waits on the sources
        # Called once before the store closes: the report needs it, however the drill ends.
        self.before_close: Callable[[], object] | None = None
        self.closing = False  # from the first moment of aclose: nothing may score the run again
        # When every source had answered once: starting takes wall seconds no drill speed
        # shortens (a scenario minute each at 60x); the report counts them at 1x.
        self.looking_since: datetime | None = None

    async def aclose(self) -> None:
        self.closing = True
        hook, self.before_close = self.before_close, None
        try:
            if hook is not None:
                # What was observed last is saved before the report reads the store.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.sync(), 10)
                hook()
        finally:
            await super().aclose()

    def refresh(self) -> View:
        view = super().refresh()
        self.refreshed.set()
        now = utcnow()
        if self.looking_since is None and all(
            status.freshness is not Freshness.LOADING for status in view.snapshot.statuses.values()
        ):
            self.looking_since = now
        if view.assessment.events:
            self.shown.extend((event, now) for event in view.assessment.events)
            self.changed.set()
        refs = suspect_refs(view.assessment)
        if refs and (not self.named or self.named[-1][0] != refs[0]):
            self.named.append((refs[0], now))
            self.changed.set()  # a responder may wait for a suspect to act on
        for ref in refs:
            if ref not in self.listed:
                self.listed[ref] = now
                self.changed.set()
        return view

    async def start(self, plan: Any) -> Run:
        if getattr(plan, "event_kind", "") == "revert":
            describe = getattr(plan, "describe", None)
            text = str(describe()) if callable(describe) else "revert"
            self.reverted.append((plan_ref(plan), text, utcnow()))
        return await super().start(plan)


class DrillSession:
    def __init__(
        self,
        scenario: Scenario,
        *,
        data_dir: Path,
        speed: float | None = None,
        notifications: str = "mark",
        user: str | None = None,
    ):
        if scenario.path is None:
            raise DrillError(f"scenario {scenario.name} has no file for the world to read")
        self.scenario = scenario
        self.speed = speed or scenario.speed
        if not self.speed > 0:
            raise DrillError("speed must be above 0")
        self.notifications = notifications
        self.user = user
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        self.run_dir = data_dir / "drills" / f"{stamp}-{scenario.name}"
        self.world_dir = self.run_dir / "world"
        self.log_path = self.run_dir / "world.log"
        self.config: Config | None = None
        self.clock: DrillClock | None = None
        self.last_view: View | None = None
        self.report: DrillReport | None = None
        self.opened_at: datetime | None = None  # real time the cockpit could first look
        self._cockpit: DrillCockpit | None = None
        self._child = WorldChild([], self.log_path)  # replaced by start()

    # -- the world ----------------------------------------------------------------------------

    async def start(self) -> Config:
        assert self.scenario.path is not None
        self.world_dir.mkdir(parents=True)
        self._child = WorldChild(
            [
                "cockpit.drill.child",
                "--scenario",
                str(self.scenario.path),
                "--dir",
                str(self.world_dir),
                "--speed",
                repr(self.speed),
            ],
            self.log_path,
            stop_grace=10.0,
        )
        try:
            config_path = await self._child.start()
        except WorldError as exc:
            raise DrillError(str(exc)) from None
        self.clock = read_clock(self.world_dir)
        world_config = load(config_path)
        self.config = drill_config(world_config, self.speed, self.notifications)
        if self.scenario.open_at is not None:
            # Opened mid-incident: the world runs (and fails) without anyone watching.
            await self.until_scenario(self.scenario.open_at)
        self.opened_at = utcnow()
        return self.config

    async def stop(self) -> None:
        await self._child.stop()

    def faults(self) -> list[FaultRecord]:
        return read_faults(self.world_dir)

    # -- the cockpit --------------------------------------------------------------------------

    def cockpit(self) -> DrillCockpit:
        if self.config is None:
            raise DrillError("the drill has not started")
        if self._cockpit is None:
            self._cockpit = DrillCockpit(self.config, self.run_dir, user=self.user)
            self._cockpit.before_close = self._finish_once
            # The export of a drill's incident carries the drill's figures so far.
            self._cockpit.export_sections.append(lambda: export_section(self.finish()))
        return self._cockpit

    def _finish_once(self) -> None:
        if self.report is None:
            self.finish()

    async def feed(self, min_gap: float = 0.05) -> None:
        """Keep the cockpit's views coming (what the TUI does for itself)."""
        async for view in self.cockpit().views(min_gap=min_gap):
            self.last_view = view

    # -- the clock ----------------------------------------------------------------------------

    def _clock(self) -> DrillClock:
        if self.clock is None:
            raise DrillError("the drill has not started")
        return self.clock

    def scenario_now(self) -> datetime:
        return self._clock().scenario_at(utcnow())

    def scenario_at(self, real: datetime) -> datetime:
        return self._clock().scenario_at(real)

    def real_at(self, scenario: datetime) -> datetime:
        return self._clock().real_at(scenario)

    async def until_scenario(self, at: datetime) -> None:
        """Sleep until the scenario clock shows `at` (the one wait that is about time itself)."""
        delay = (self._clock().real_at(at) - utcnow()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    @property
    def ended(self) -> bool:
        return self.scenario_now() >= self.scenario.end

    # -- the end ------------------------------------------------------------------------------

    def _own_time(self, cockpit: DrillCockpit) -> list[tuple[datetime, datetime]]:
        """The cockpit's own wall time, real times the report counts at 1x: from the moment it
        could open until every source had answered once, and each of its runs (a revert, an
        action) from the request to its end (still running: until now)."""
        now = utcnow()
        spans = []
        if self.opened_at is not None:
            spans.append((self.opened_at, cockpit.looking_since or now))
        if cockpit.catalog is None:
            return spans
        for run in cockpit.catalog.scan():
            if run.created < self._clock().real_start:
                continue
            outcome = run.outcome()
            ended = outcome.finished_at if outcome is not None and not outcome.unknown else now
            spans.append((run.created, ended))
        return spans

    def finish(self, last_view: View | None = None) -> DrillReport:
        """Score the run and write the report files; call before the cockpit is closed."""
        cockpit = self.cockpit()
        view = last_view or self.last_view or cockpit.view
        report = build_report(
            self.scenario,
            self._clock(),
            faults=self.faults(),
            events=cockpit.store.events(since=self._clock().real_start),
            shown=cockpit.shown,
            incidents=cockpit.store.list(),
            last_view=view,
            named=cockpit.named,
            listed=cockpit.listed,
            reverted=cockpit.reverted,
            ended_at=utcnow(),
            opened_at=self.opened_at if self.scenario.open_at is not None else None,
            own_time=self._own_time(cockpit),
        )
        self.report = write_report(self.run_dir, report)
        return self.report
