"""The PostgreSQL store down or restarting: the cockpits keep showing live signals, the header
says the store is offline, notes typed on both sides wait on local disk and land once, in
order, when the database is back; a revert is refused meanwhile, with the reason. A real
PostgreSQL, really stopped (this module's own server: the others share theirs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PgServer, pg_server
from revert_world import RevertWorld
from test_pg_lock import settled
from test_pg_store import store_lines, until_view, watching

from cockpit.actions.runs import RunStatus
from cockpit.app import notices
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
    with RevertWorld(tmp_path / "east", cockpit_extra=store_lines(pg, database)) as east:
        pg.stop()
        async with watching(east, pg, "alice") as (alice, views):
            view = await until_view(views, offline, 20)
            assert "store: offline" in " ".join(text for text, _ in notices(view, "", "w"))
            await alice.note("typed before the database came up")
            assert [w.event.kind for w in alice.storage.pending()][-1] == "note"
            pg.start()
            await until_view(views, lambda v: v.store.ok and v.store.writable, 30)
            await until_view(views, lambda v: not v.store.pending, 30)
        rows = pg.sql("SELECT text FROM events WHERE kind = 'note'", database)
        assert rows == [("alice: typed before the database came up",)]
