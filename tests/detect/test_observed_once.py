"""Each observation once: a restarted cockpit, or a second one, does not record an ongoing
failure again, and the impact start it proposes is the failure's, not its own start. Real
cockpits (the runtime the TUI drives) against a real HTTP service that fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from revert_world import RevertWorld

from cockpit.config import load
from cockpit.detect.probes import ProbeState
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.runtime import Cockpit, View


@pytest.fixture
def world(tmp_path: Path) -> Iterator[RevertWorld]:
    with RevertWorld(tmp_path / "w", healthy=False) as running:
        yield running


@contextlib.asynccontextmanager
async def watching(world: RevertWorld, user: str) -> AsyncIterator[tuple[Cockpit, list[View]]]:
    cockpit = Cockpit(load(world.config), world.data, user=user, spool_dir=world.state / user)
    views: list[View] = []

    async def feed() -> None:
        async for view in cockpit.views(min_gap=0.05):
            views.append(view)

    task = asyncio.create_task(feed())
    try:
        yield cockpit, views
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await cockpit.aclose()


async def until_view(views: list[View], check: object, timeout: float = 30) -> View:
    async with asyncio.timeout(timeout):
        while True:
            if views and check(views[-1]):  # type: ignore[operator]
                return views[-1]
            await asyncio.sleep(0.02)


def probe_state(view: View) -> ProbeState | None:
    return next((p.state for p in view.assessment.probes if p.name == "web"), None)


def downs(world: RevertWorld) -> list[datetime]:
    with IncidentStore(world.data / "incidents.sqlite3", read_only=True) as store:
        return [e.at for e in store.events() if e.kind == "probe.down"]


async def settled(cockpit: Cockpit) -> None:
    await cockpit.sync()
    assert not cockpit.storage.pending()


async def test_a_restarted_cockpit_takes_over_the_ongoing_failure(world: RevertWorld) -> None:
    async with watching(world, "alice") as (cockpit, views):
        await until_view(views, lambda v: probe_state(v) is ProbeState.DOWN)
        await settled(cockpit)
    [first] = downs(world)
    for _ in range(3):  # restarted, again and again, while the failure goes on
        async with watching(world, "alice") as (cockpit, views):
            view = await until_view(
                views,
                lambda v: (
                    probe_state(v) is ProbeState.DOWN and len(v.assessment.probes[0].history) >= 3
                ),
            )
            await settled(cockpit)
            assert view.assessment.first_failure_at == first
            assert cockpit.declare_request().impact_started_at == first
            web = view.assessment.probes[0]
            assert web.since == first
    assert downs(world) == [first]
    # The failure ends and comes back: that is a new observation, recorded once more.
    async with watching(world, "alice") as (cockpit, views):
        await until_view(views, lambda v: probe_state(v) is ProbeState.DOWN)
        world.set_healthy(True)
        await until_view(views, lambda v: probe_state(v) is ProbeState.UP)
        world.set_healthy(False)
        await until_view(views, lambda v: probe_state(v) is ProbeState.DOWN)
        await settled(cockpit)
    assert len(downs(world)) == 2
    with IncidentStore(world.data / "incidents.sqlite3", read_only=True) as store:
        assert [e.kind for e in store.events() if e.kind.startswith("probe.")] == [
            "probe.down",
            "probe.up",
            "probe.down",
        ]


async def test_two_cockpits_watching_one_failure_record_it_once(world: RevertWorld) -> None:
    world.set_healthy(True)
    async with (
        watching(world, "alice") as (first, first_views),
        watching(world, "bob") as (second, second_views),
    ):
        for views in (first_views, second_views):
            await until_view(views, lambda v: probe_state(v) is ProbeState.UP)
        world.set_healthy(False)
        for views in (first_views, second_views):
            await until_view(views, lambda v: probe_state(v) is ProbeState.DOWN)
        world.set_healthy(True)
        for views in (first_views, second_views):
            await until_view(views, lambda v: probe_state(v) is ProbeState.UP)
        await settled(first)
        await settled(second)
    with IncidentStore(world.data / "incidents.sqlite3", read_only=True) as store:
        kinds = [e.kind for e in store.events() if e.kind.startswith("probe.")]
    assert kinds == ["probe.down", "probe.up"]
