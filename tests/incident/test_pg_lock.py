"""The revert lock across hosts: a PostgreSQL advisory lock on a connection of its own, held by
the revert's supervisor (and the command it runs). Two cockpits with separate data dirs (two
bastions) on one real PostgreSQL: exactly one revert of a service runs, the other names the
holder; the lock of a holder killed with SIGKILL is released, and the next holder says so."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pg_server import PASSWORD, PgServer
from revert_world import RevertWorld, wait_for, wait_gone
from test_pg_store import bastions, until_view, watching  # noqa: F401 - fixture

from cockpit.actions.lock import LockHeld, ServiceLock
from cockpit.actions.runs import Run, RunStatus, read_run
from cockpit.host.whoami import host_name
from cockpit.incident.store.pg.connect import PgTarget
from cockpit.incident.store.pg.lock import TeamLock
from cockpit.incident.store.pg.store import PgIncidentStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def target(pg: PgServer) -> PgTarget:
    return PgTarget(pg.url(pg.new_database()), password=PASSWORD)


def test_a_second_claim_names_the_holder_and_a_release_frees_it(
    target: PgTarget, tmp_path: Path
) -> None:
    first = ServiceLock(
        tmp_path / "a", "files-web", user="alice", what="revert 2 -> 1", shared=target
    )
    second = ServiceLock(tmp_path / "b", "files-web", user="bob", shared=target)
    other = ServiceLock(tmp_path / "b", "billing", user="bob", shared=target)
    first.acquire()
    try:
        with pytest.raises(LockHeld) as held:
            second.acquire()
        holder = held.value.holder
        assert (holder.user, holder.pid, holder.host) == ("alice", os.getpid(), host_name())
        assert holder.what == "revert 2 -> 1" and holder.since is not None
        assert "alice" in str(held.value) and "revert 2 -> 1" in str(held.value)
        assert not second.held
        other.acquire()  # another service is another lock
        other.release()
    finally:
        first.release()
    second.acquire()
    assert second.stale_message() == ""  # released properly: nothing stale to say
    second.release()


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from cockpit.incident.store.pg.connect import PgTarget
    from cockpit.incident.store.pg.lock import TeamLock

    lock = TeamLock(PgTarget(sys.argv[1], password=sys.argv[2]), "files-web", user="carol",
                    what="revert files-web 2 -> 1")
    assert lock.acquire() is None
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_the_lock_of_a_killed_holder_is_released_and_said(target: PgTarget, tmp_path: Path) -> None:
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER)
    child = subprocess.Popen(
        [sys.executable, str(script), target.url, PASSWORD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        claim = TeamLock(target, "files-web", user="dave")
        holder = claim.acquire()
        assert holder is not None and holder.user == "carol" and holder.pid == child.pid
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        # The server ends the dead session when it reads the closed socket: a moment.
        for _ in range(200):
            if claim.acquire() is None:
                break
            import time

            time.sleep(0.025)
        assert claim.held
        assert claim.stale is not None and claim.stale.user == "carol"
        assert claim.stale.pid == child.pid
        local = ServiceLock(tmp_path, "files-web", user="dave", shared=target)
        claim.release()
        local.acquire()  # its record was overwritten by dave's claim, then deleted: fresh
        local.release()
    finally:
        child.kill()
        child.wait()
        if child.stdout:
            child.stdout.close()


def test_the_store_unreachable_means_no_lock(tmp_path: Path) -> None:
    from daemons import free_port

    from cockpit.incident.store.errors import StoreError

    nowhere = PgTarget(f"postgresql://cockpit@127.0.0.1:{free_port()}/x", password=PASSWORD)
    lock = ServiceLock(tmp_path, "files-web", user="alice", shared=nowhere)
    with pytest.raises(StoreError, match="offline"):
        lock.acquire()
    assert not lock.held
    # ... and the local lock was not taken either.
    ServiceLock(tmp_path, "files-web", user="bob").acquire()


def commands_of(world: RevertWorld) -> list[int]:
    """The pids of the world's revert command now running."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(world.script).encode() in argv:
                found.append(int(entry.name))
    return found


async def settled(run: Run, data: Path, timeout: float = 30) -> Run:
    """The run once it holds the lock (running) or was refused (finished)."""
    async with asyncio.timeout(timeout):
        while True:
            now = await asyncio.to_thread(read_run, run.path, data)
            if now is not None and now.status in (RunStatus.RUNNING, RunStatus.FINISHED):
                return now
            await asyncio.sleep(0.02)


async def finished(run: Run, data: Path, timeout: float = 60) -> Run:
    async with asyncio.timeout(timeout):
        while True:
            now = await asyncio.to_thread(read_run, run.path, data)
            if now is not None and now.status is RunStatus.FINISHED:
                return now
            await asyncio.sleep(0.05)


async def test_two_bastions_press_r_at_once_one_revert_runs(
    bastions: tuple[RevertWorld, RevertWorld],  # noqa: F811 - the fixture
    pg: PgServer,
) -> None:
    east, west = bastions
    async with (
        watching(east, pg, "alice") as (alice, east_views),
        watching(west, pg, "bob") as (bob, west_views),
    ):
        for views in (east_views, west_views):
            await until_view(
                views, lambda v: len(v.assessment.deploys) >= 2 and v.store.writable, 20
            )
        plans = alice.plan_revert(), bob.plan_revert()
        # Both press R within a few milliseconds of each other.
        started = await asyncio.gather(alice.start(plans[0]), bob.start(plans[1]))
        pairs = zip(started, bastions, strict=True)
        runs = [await settled(run, world.data) for run, world in pairs]
        reasons = [str(run.result.get("reason", "")) for run in runs]
        refused = [i for i, run in enumerate(runs) if run.status is RunStatus.FINISHED]
        assert len(refused) == 1, reasons
        loser, winner = refused[0], 1 - refused[0]
        winner_user = ("alice", "bob")[winner]
        assert reasons[loser].startswith("lock held: files-web is locked by " + winner_user)
        assert "revert files-web" in reasons[loser]
        running = runs[winner]
        assert running.status is RunStatus.RUNNING and running.supervisor_pid is not None

        # SIGKILL the holder: its supervisor and the command, which keeps the lock too (it
        # inherited the lock's connection): the lock goes with the connection, and the other
        # bastion's revert now runs.
        holder_world = (east, west)[winner]
        # "running" is written once the lock is held, a moment before the command starts.
        await asyncio.to_thread(wait_for, lambda: commands_of(holder_world), 30, "the command")
        holders = [running.supervisor_pid, *commands_of(holder_world)]
        assert len(holders) == 2
        for pid in holders:
            os.kill(pid, signal.SIGKILL)
        for pid in holders:
            assert wait_gone(pid, 30)
        cockpit = (alice, bob)[loser]
        world = (east, west)[loser]
        retried: Run | None = None
        for _ in range(100):
            retried = await settled(await cockpit.start(cockpit.plan_revert()), world.data)
            if retried.status is not RunStatus.FINISHED:
                break
            await asyncio.sleep(0.1)
        assert retried is not None and retried.status is RunStatus.RUNNING
        world.release()
        done = await finished(retried, world.data)
        assert done.result.get("ok") is True
        output = (done.path / "output.log").read_text()
        assert (
            f"lock of {winner_user} released: their connection to the team store is gone" in output
        )
        # Every attempt is in the team's audit log, whichever host made it.
        url = alice.config.cockpit.store
        assert url is not None
        team = PgIncidentStore(PgTarget(url, password=PASSWORD))
        entries = [json.loads(line) for _, line in team.audit_entries()]
        team.close()
        said = [(e["who"], e["event"], e.get("result")) for e in entries]
        assert (winner_user, "started", None) in said
        assert ((alice, bob)[loser].user, "finished", "lock held") in said
        assert said[-2:] == [(cockpit.user, "started", None), (cockpit.user, "finished", "ok")]
