"""Live across hosts: what one cockpit writes to the PostgreSQL store shows on every other one
when the store announces it (LISTEN/NOTIFY), not at some later poll; and an observation made
by several cockpits watching the same signals is recorded once. Real cockpits (the runtime
the TUI drives), separate data dirs, one real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_server import PgServer
from revert_world import RevertWorld
from test_pg_store import bastions, store_lines, until_view, watching  # noqa: F401 - fixture

import cockpit.runtime
from cockpit.detect.probes import ProbeState
from cockpit.incident.declare import DeclareRequest
from cockpit.model import IncidentStatus
from cockpit.runtime import View


@pytest.fixture(autouse=True)
def told_not_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    # No periodic re-read within a test: whatever shows on the other cockpit was announced.
    monkeypatch.setattr(cockpit.runtime, "RESYNC_EVERY", 3600.0)


async def test_note_status_and_event_show_on_the_other_bastion(
    bastions: tuple[RevertWorld, RevertWorld],  # noqa: F811 - the fixture
    pg: PgServer,
) -> None:
    east, west = bastions
    async with (
        watching(east, pg, "alice") as (alice, _east),
        watching(west, pg, "bob") as (_bob, seen),
    ):
        await until_view(seen, lambda v: v.store.writable, 10)
        incident = await alice.declare(
            DeclareRequest(title="SFTP fails", severity="SEV2", commander="alice")
        )
        await until_view(seen, lambda v: v.incident == incident, 10)
        await alice.note("second session fails on sftp-2")
        await until_view(
            seen, lambda v: any("second session fails" in e.text for e in v.timeline), 10
        )
        await alice.set_status(IncidentStatus.IDENTIFIED)
        view = await until_view(
            seen,
            lambda v: v.incident is not None and v.incident.status is IncidentStatus.IDENTIFIED,
            10,
        )
        assert [e.kind for e in view.timeline if e.kind != "probe.up"][-3:] == [
            "declared",
            "note",
            "status.identified",
        ]


def probe_state(view: View) -> ProbeState | None:
    return next((p.state for p in view.assessment.probes if p.name == "web"), None)


async def test_cockpits_watching_one_failure_on_three_hosts_record_it_once(
    tmp_path: Path, pg: PgServer
) -> None:
    database = pg.new_database()
    with RevertWorld(tmp_path / "w", cockpit_extra=store_lines(pg, database)) as world:
        async with (
            watching(world, pg, "alice", tmp_path / "a") as (alice, a_views),
            watching(world, pg, "bob", tmp_path / "b") as (bob, b_views),
            watching(world, pg, "carol", tmp_path / "c") as (carol, c_views),
        ):
            everyone = (a_views, b_views, c_views)
            for views in everyone:
                await until_view(views, lambda v: probe_state(v) is ProbeState.UP, 20)
            world.set_healthy(False)
            for views in everyone:
                await until_view(views, lambda v: probe_state(v) is ProbeState.DOWN, 20)
            world.set_healthy(True)
            for views in everyone:
                await until_view(views, lambda v: probe_state(v) is ProbeState.UP, 20)
            for one in (alice, bob, carol):
                await one.sync()
                assert not one.storage.pending()
    rows = pg.sql("SELECT kind, family FROM events WHERE kind LIKE 'probe.%' ORDER BY id", database)
    assert rows == [("probe.down", "probe:web"), ("probe.up", "probe:web")]
