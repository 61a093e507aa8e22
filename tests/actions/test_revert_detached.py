"""A revert outlives the cockpit that started it: real cockpits in pseudo-terminals, real
signals, a revert that prints a line a second. Whatever happens to the cockpit (its terminal
hangs up, SIGTERM, ctrl+q), the revert runs to its end under its own supervisor, holds the lock
exactly that long, and its end is audited and on the timeline; a second cockpit started
meanwhile shows it running, follows its output and cannot start another."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_harness import PtyRun
from revert_world import (
    COCKPIT,
    SERVICE,
    RevertWorld,
    alive,
    main_screen,
    output_lines,
    start_revert,
    supervisors,
    wait_for,
    wait_gone,
)

from cockpit.actions.audit import read_audit
from cockpit.actions.lock import LockHeld, ServiceLock
from cockpit.incident.store.sqlite import IncidentStore


@pytest.fixture
def world(tmp_path: Path) -> Iterator[RevertWorld]:
    with RevertWorld(tmp_path / "w", healthy=False) as running:  # the bad deploy broke it
        yield running


def cockpit(world: RevertWorld, cols: int = 100, rows: int = 30) -> PtyRun:
    return PtyRun([str(COCKPIT), "--config", str(world.config)], cols, rows, env=world.env())


def lock_is_held(world: RevertWorld) -> bool:
    try:
        with ServiceLock(world.data, SERVICE):
            return False
    except LockHeld:
        return True


def assert_finished_and_recorded(world: RevertWorld) -> None:
    started, finished = read_audit(world.data)
    assert (started["event"], finished["event"]) == ("started", "finished")
    assert finished["result"] == "ok" and finished["run"] == started["run"]
    assert "reverted to 1" in finished["output_tail"]
    assert not lock_is_held(world)
    assert not list(world.data.glob("runs/*/output.raw"))  # copied, inert, into output.log
    with IncidentStore.in_data_dir(world.data) as store:
        kinds = [e.kind for e in store.events()]
    assert kinds.count("revert.started") == 1 and kinds.count("revert.finished") == 1


def last_step(screen: str) -> int:
    return max((int(n) for n in re.findall(r"step (\d+): rolling back", screen)), default=0)


@pytest.mark.parametrize("how", ["hangup", "sigterm"])
def test_the_revert_outlives_the_cockpit_and_a_second_cockpit_follows_it(
    world: RevertWorld, how: str
) -> None:
    first = cockpit(world)
    second: PtyRun | None = None
    try:
        start_revert(first)
        [supervisor] = supervisors(world.data)
        if how == "hangup":
            # The SSH link drops: the terminal is gone and the kernel sends SIGHUP.
            assert first.hangup(20) == 0
        else:
            os.kill(first.pid, signal.SIGTERM)
            assert first.wait_exit(20) == 0
        # The revert goes on printing, and still holds the lock.
        seen = len(output_lines(world.data))
        wait_for(lambda: len(output_lines(world.data)) > seen + 1, 20, "more revert output")
        assert alive(supervisor) and lock_is_held(world)
        assert not world.reverted.exists()

        # Another engineer's cockpit, started meanwhile, shows it running ...
        second = cockpit(world)
        assert second.wait_for(lambda t: "RUNNING since" in t and "revert files-web" in t, 30), (
            second.text()
        )
        # ... R watches it instead of starting another (the lock refuses one anyway) ...
        assert second.wait_for(lambda t: "SUSPECT" in t, 30), second.text()
        second.send(b"R")
        assert second.wait_for(lambda t: "in its own process" in t, 15), second.text()
        assert second.wait_for(lambda t: last_step(t) >= 1, 15), second.text()
        # The output goes on streaming (the log keeps only what fits, so count by step number).
        shown = last_step(second.text())
        assert second.wait_for(lambda t: last_step(t) > shown, 15), second.text()
        assert len(list((world.data / "runs").iterdir())) == 1
        # ... and shows how it ended.
        world.release()
        assert second.wait_for(lambda t: "reverted to 1" in t and "ok" in t, 30), second.text()
        assert wait_gone(supervisor, 30)
        assert_finished_and_recorded(world)
        assert second.wait_for(lambda t: "RUNNING since" not in t, 15), second.text()
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_ctrl_q_during_a_revert_asks_and_leaves_it_running(world: RevertWorld) -> None:
    run = cockpit(world, 80, 24)
    try:
        start_revert(run)
        [supervisor] = supervisors(world.data)
        run.send(b"\x11")  # ctrl+q
        assert run.wait_for(lambda t: "is running" in t and "leave it running" in t, 15), run.text()
        run.send(b"\x1b")  # Esc: stay
        assert run.wait_for(lambda t: "leave it running" not in t, 15), run.text()
        assert run.wait_exit(0.5) is None  # still there
        run.send(b"\x11")
        assert run.wait_for(lambda t: "leave it running" in t, 15), run.text()
        run.send(b"\x11")  # ctrl+q again: yes
        assert run.wait_exit(20) == 0
        assert alive(supervisor) and lock_is_held(world)
        world.release()
        assert wait_gone(supervisor, 30)
        assert world.reverted.exists()
        assert_finished_and_recorded(world)
        with IncidentStore.in_data_dir(world.data) as store:
            quit_events = [e.text for e in store.events() if e.kind == "cockpit.quit"]
        assert any("runs on in its own process" in text for text in quit_events)
    finally:
        run.stop()


def closed(text: str) -> bool:
    """The run's view is gone: while its output is short, the view does not reach down to the
    timeline's title, so that title alone does not tell (and a key sent too soon after Esc
    makes an Alt+key of it)."""
    return main_screen(text) and "rolling back" not in text


def test_q_during_a_revert_asks_and_escape_closes_only_the_view(world: RevertWorld) -> None:
    run = cockpit(world, 80, 24)
    try:
        start_revert(run)
        run.send(b"\x1b")  # Esc on the revert screen: it goes on, unwatched
        assert run.wait_for(lambda t: "RUNNING since" in t and closed(t), 15), run.text()
        run.send(b"w")  # and w shows it again, following its output
        # (at 80x24 only the last lines show: on a loaded machine step 1 has scrolled away)
        assert run.wait_for(
            lambda t: "only the timeout" in t and re.search(r"step \d+: rolling", t), 15
        ), run.text()
        run.send(b"\x1b")
        assert run.wait_for(closed, 15), run.text()
        run.send(b"q")
        assert run.wait_for(lambda t: "leave it running" in t, 15), run.text()
        run.send(b"q")
        assert run.wait_exit(20) == 0
        world.release()
        wait_for(lambda: world.reverted.exists(), 30, "the revert's end")
        for pid in supervisors(world.data):
            assert wait_gone(pid, 30)
        assert_finished_and_recorded(world)
    finally:
        run.stop()
