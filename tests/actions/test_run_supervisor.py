"""The supervisor a revert runs under, on its own: only the timeout stops a revert, the lock
lives as long as the command does (even when the supervisor itself is killed), and a run that
started and whose end nobody recorded shows everywhere as "outcome unknown", with its output."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pilot_wait import until
from revert_world import SERVICE, RevertWorld, output_lines, supervisors, wait_for, wait_gone

from cockpit.actions.audit import read_audit
from cockpit.actions.lock import LockHeld, ServiceLock
from cockpit.actions.revert_plan import RevertPlan
from cockpit.actions.runs import RunStatus, follow_run, read_run, start_run
from cockpit.app import CockpitApp
from cockpit.config import load
from cockpit.incident.export import render_incident
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.runtime import Cockpit
from widgets.header import CockpitHeader
from widgets.run_screen import RunScreen, run_summary
from widgets.timeline import TimelineStrip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[RevertWorld]:
    with RevertWorld(tmp_path / "w", healthy=False) as running:
        yield running


def plan(world: RevertWorld, **kw: object) -> RevertPlan:
    config = load(world.config)
    from cockpit.actions.revert_plan import plan_revert
    from cockpit.sources.deploys.log import parse_deploy

    deploys = [d for line in world.deploys.read_text().splitlines() if (d := parse_deploy(line))]
    base = plan_revert(config.service(SERVICE), sorted(deploys, key=lambda d: d.at, reverse=True))
    return replace(base, **kw)  # type: ignore[arg-type]


def locked(world: RevertWorld) -> bool:
    try:
        with ServiceLock(world.data, SERVICE):
            return False
    except LockHeld:
        return True


async def test_sigterm_to_the_supervisor_does_not_stop_the_revert(world: RevertWorld) -> None:
    run = await start_run(world.data, plan(world), "alice")
    wait_for(lambda: any("step 2" in line for line in output_lines(world.data)), 30, "output")
    [supervisor] = supervisors(world.data)
    os.kill(supervisor, signal.SIGTERM)
    wait_for(lambda: any("step 3" in line for line in output_lines(world.data)), 30, "more")
    world.release()
    ended = await follow_run(run, lambda line: None)
    outcome = ended.outcome()
    assert outcome is not None and outcome.ok, outcome
    assert wait_gone(supervisor, 30)


async def test_only_the_recorded_timeout_stops_a_revert(world: RevertWorld) -> None:
    run = await start_run(world.data, plan(world, timeout=3.0), "alice")
    ended = await follow_run(run, lambda line: None)  # the gate is never opened
    outcome = ended.outcome()
    assert outcome is not None and not outcome.ok
    assert outcome.reason == "timed out after 3s" and outcome.result == "timed out"
    assert not world.reverted.exists()
    assert not locked(world)
    assert [e["event"] for e in read_audit(world.data)] == ["started", "finished"]


async def test_a_killed_supervisor_leaves_the_lock_to_the_command_then_outcome_unknown(
    world: RevertWorld,
) -> None:
    run = await start_run(world.data, plan(world), "alice")
    wait_for(lambda: any("step 2" in line for line in output_lines(world.data)), 30, "output")
    [supervisor] = supervisors(world.data)
    os.kill(supervisor, signal.SIGKILL)
    assert wait_gone(supervisor, 30)
    # The revert itself goes on (writing into its raw output file, which nobody copies now),
    # and so does its lock: nobody can start a second one.
    raw = run.path / "output.raw"
    seen = raw.read_bytes().count(b"\n")
    wait_for(lambda: raw.read_bytes().count(b"\n") > seen, 30, "more output")
    assert locked(world)
    current = read_run(run.path)
    assert current is not None and current.status is RunStatus.RUNNING
    world.release()
    wait_for(lambda: world.reverted.exists(), 30, "the command's end")
    wait_for(lambda: not locked(world), 30, "the lock to go with the command")
    ended = read_run(run.path)
    assert ended is not None and ended.status is RunStatus.UNKNOWN
    assert f"by       alice on {ended.host}, started" in run_summary(ended).plain
    outcome = ended.outcome()
    assert outcome is not None and outcome.unknown and not outcome.ok
    assert "reverted to 1" in outcome.output_tail  # the output so far, to judge by
    assert not any("\x1b" in line for line in outcome.output_tail)
    # The audit log says it started, and nothing says it finished.
    assert [e["event"] for e in read_audit(world.data)] == ["started"]

    # A cockpit shows it: the header, the timeline (recorded once), the output on w.
    config = load(world.config)

    async def factory() -> Cockpit:
        return Cockpit(config, world.data, user="bob", spool_dir=world.state / "spool")

    app = CockpitApp(factory, keys=config.keys)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(CockpitHeader)
        await until(pilot, lambda: "OUTCOME UNKNOWN" in header.render().plain)
        strip = app.query_one(TimelineStrip)
        await until(pilot, lambda: "revert.unknown" in strip.render().plain)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await until(pilot, lambda: "reverted to 1" in "\n".join(screen.query_one("#output").lines))  # type: ignore[attr-defined]
        assert "OUTCOME UNKNOWN" in str(screen.query_one("#status").render())
    with IncidentStore.in_data_dir(world.data) as store:
        kinds = [e.kind for e in store.events()]
        assert kinds.count("revert.started") == 1 and kinds.count("revert.unknown") == 1
        assert "revert.finished" not in kinds
        incident = store.declare("after the revert", "SEV2", "bob")
        draft = render_incident(store, incident, "md")
    assert "outcome unknown" in draft


def test_a_run_still_taking_the_lock_is_not_on_the_timeline_as_started(
    world: RevertWorld,
) -> None:
    """Two engineers confirm at once: the loser's supervisor is up, taking the lock, when the
    cockpits look. It must not be recorded as a revert that started: it is refused a moment
    later, and a "started" with no finish would stand on the timeline for good."""
    import json
    import subprocess
    import sys

    from cockpit.actions.runs import STATE, prepare_run
    from cockpit.host.whoami import host_name

    folder = prepare_run(world.data, plan(world), "bob")
    # A process that reads as that run's supervisor (the real one is refused within a moment).
    code = "import sys; print('up', flush=True); sys.stdin.read()"
    argv = [sys.executable, "-c", code, "cockpit.actions.supervisor", str(folder)]
    stand_in = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert stand_in.stdout is not None and stand_in.stdout.readline() == b"up\n"
        for phase in ("locking", "running"):  # as the supervisor writes them
            state = {"pid": stand_in.pid, "host": host_name(), "phase": phase,
                     "started": "2026-12-03T07:47:34.165382Z"}  # fmt: skip
            (folder / STATE).write_text(json.dumps(state))
            run = read_run(folder, world.data)
            assert run is not None
            if phase == "locking":
                assert run.status is RunStatus.STARTING and run.events() == []
            else:
                assert run.status is RunStatus.RUNNING
                assert [e.kind for e in run.events()] == ["revert.started"]
    finally:
        stand_in.communicate(b"")
