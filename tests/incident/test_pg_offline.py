"""The PostgreSQL store down or restarting: the cockpits keep showing live signals, the header
says the store is offline, notes typed on both sides wait on local disk and land once, in
order, when the database is back; a revert is refused meanwhile, with the reason. A real
PostgreSQL, really stopped (this module's own server: the others share theirs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PASSWORD, PgServer, pg_server
from revert_world import RevertWorld
from test_pg_lock import settled
from test_pg_store import store_lines, until_view, watching

from cockpit.actions.runs import RunStatus
from cockpit.app import notices
from cockpit.incident.store.pg.connect import PgTarget
from cockpit.incident.store.pg.store import PgIncidentStore
from cockpit.runtime import View

OUTAGE = 6.0  # seconds the database stays down while notes are written


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


def offline(view: View) -> bool:
    return not view.store.ok and view.store.reason.startswith("offline")


async def test_notes_written_on_both_sides_while_the_database_is_down_land_once_in_order(
    tmp_path: Path, own_pg: PgServer
) -> None:
    pg = own_pg
    database = pg.new_database()
    lines = store_lines(pg, database)
    with (
        RevertWorld(tmp_path / "east", cockpit_extra=lines) as east,
        RevertWorld(tmp_path / "west", cockpit_extra=lines) as west,
    ):
        async with (
            watching(east, pg, "alice") as (alice, east_views),
            watching(west, pg, "bob") as (bob, west_views),
        ):
            for views in (east_views, west_views):
                await until_view(
                    views, lambda v: len(v.assessment.deploys) >= 2 and v.store.writable, 20
                )
            await alice.note("before the outage")
            for views in (east_views, west_views):
                await until_view(views, lambda v: not v.store.pending, 20)
            pg.stop()
            texts = []
            for i in range(6):
                cockpit = (alice, bob)[i % 2]
                texts.append(f"note {i} from {cockpit.user}")
                await cockpit.note(texts[-1])
                await asyncio.sleep(OUTAGE / 6)
            for views in (east_views, west_views):
                view = await until_view(views, offline, 10)
                header = " ".join(text for text, _ in notices(view, "", "w"))
                assert "store: offline" in header and "not saved" in header
                assert [p.state.value for p in view.assessment.probes] == ["up"]  # still live
            for cockpit in (alice, bob):
                assert [w.event.kind for w in cockpit.storage.pending()].count("note") == 3
            assert list((east.state).glob("*.jsonl")) and list(west.state.glob("*.jsonl"))

            # A revert needs the team's lock: refused while the store cannot be reached.
            refused = await settled(await alice.start(alice.plan_revert()), east.data)
            assert refused.status is RunStatus.FINISHED
            reason = str(refused.result.get("reason"))
            assert reason.startswith("the team's lock cannot be taken, the store is unreachable")

            pg.start()
            for cockpit, views in ((alice, east_views), (bob, west_views)):
                await until_view(views, lambda v: v.store.ok and not v.store.pending, 30)
                assert not cockpit.storage.pending()
            assert not list(east.state.glob("*.jsonl")) and not list(west.state.glob("*.jsonl"))
        rows = pg.sql("SELECT text FROM events WHERE kind = 'note' ORDER BY at, id", database)
        said = [str(text).split(": ", 1)[1] for (text,) in rows]
        assert said == ["before the outage", *texts]


async def test_a_cockpit_started_while_the_database_is_down_keeps_what_is_written(
    tmp_path: Path, own_pg: PgServer
) -> None:
    pg = own_pg
    database = pg.new_database()
    with PgIncidentStore(PgTarget(pg.url(database), password=PASSWORD)) as store:
        incident_id = store.declare("declared on west", "SEV2", "bob").id
    with RevertWorld(tmp_path / "east", cockpit_extra=store_lines(pg, database)) as east:
        pg.stop()
        async with watching(east, pg, "alice") as (alice, views):
            view = await until_view(views, offline, 20)
            assert "store: offline" in " ".join(text for text, _ in notices(view, "", "w"))
            assert not view.incident_known  # not "no incident": it was never read
            await alice.note("typed before the database came up")
            assert [w.event.kind for w in alice.storage.pending()][-1] == "note"
            pg.start()
            await until_view(views, lambda v: v.store.ok and v.store.writable, 30)
            view = await until_view(views, lambda v: v.incident is not None, 30)
            assert view.incident is not None and view.incident.id == incident_id
            # Never "no incident" on the way: not while offline, nor once the database answers
            # again but before it was read (the queued note is written first).
            assert not [v for v in views if v.incident_known and v.incident is None]
            await until_view(views, lambda v: not v.store.pending, 30)
        rows = pg.sql("SELECT text FROM events WHERE kind = 'note'", database)
        assert rows == [("alice: typed before the database came up",)]


async def test_the_screen_of_a_cockpit_started_while_the_database_is_down(
    tmp_path: Path, own_pg: PgServer
) -> None:
    """What a person paged sees at 80x24: the store offline and the incident not known (not
    "no incident"); a note typed with n waits; once the database is back, the incident."""
    from pilot_wait import until
    from test_store_faults import header, type_note

    from cockpit.app import CockpitApp
    from cockpit.config import load
    from cockpit.runtime import Cockpit

    pg = own_pg
    database = pg.new_database()
    with PgIncidentStore(PgTarget(pg.url(database), password=PASSWORD)) as store:
        incident = store.declare("declared on west", "SEV2", "bob")
    with RevertWorld(tmp_path / "east", cockpit_extra=store_lines(pg, database)) as east:
        config = load(east.config, env=pg.env)

        async def factory() -> Cockpit:
            return Cockpit(config, east.data, user="alice", spool_dir=east.state)

        pg.stop()
        app = CockpitApp(factory, keys=config.keys)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(
                pilot, lambda: "store: offline" in header(app), describe=lambda: header(app)
            )
            assert "incident not known" in header(app) and "no incident" not in header(app)
            await type_note(pilot, app, "paged, looking")
            cockpit = app.cockpit
            assert cockpit is not None
            assert [w.event.text for w in cockpit.storage.pending()][-1] == "alice: paged, looking"
            assert "not saved" in header(app)
            pg.start()
            await until(
                pilot,
                lambda: f"INCIDENT #{incident.id}" in header(app),
                describe=lambda: header(app),
            )
            await until(pilot, lambda: "not saved" not in header(app), describe=lambda: header(app))
    rows = pg.sql("SELECT text FROM events WHERE kind = 'note'", database)
    assert rows == [("alice: paged, looking",)]
