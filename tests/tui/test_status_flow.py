"""Status follows the facts, from the keys: corrections (`cockpit incident correct`) are a key
away in the TUI too, and the header shows each status with its own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.config import parse
from cockpit.incident.declare import DeclareRequest
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus
from cockpit.runtime import Cockpit
from cockpit.timeutil import local_hm, utcnow
from widgets.header import CockpitHeader
from widgets.modals import CorrectScreen

CONFIG = """
[cockpit]
service = "shop"

[[probes]]
name = "web"
kind = "http"
url = "http://127.0.0.1:9/"
"""


async def test_correct_a_time_from_the_tui_and_each_status_keeps_its_time(tmp_path: Path) -> None:
    config = parse(CONFIG, None, env={})
    data = tmp_path / "data"
    data.mkdir()

    async def factory() -> Cockpit:
        return Cockpit(config, data, user="oncall-tester")

    app = CockpitApp(factory)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.cockpit is not None and app.last_view is not None)
        assert app.cockpit is not None
        incident = await app.cockpit.declare(
            DeclareRequest("checkout down", "SEV2", "alice", "", None)
        )
        identified_at = utcnow() - timedelta(minutes=3)
        await app.cockpit.set_status(IncidentStatus.IDENTIFIED, identified_at)
        await app.cockpit.sync()
        header = app.query_one(CockpitHeader)
        await until(
            pilot,
            lambda: f"identified {local_hm(identified_at)}" in header.render().plain,
            describe=lambda: header.render().plain,
        )
        assert f"declared {local_hm(incident.declared_at)}" in header.render().plain

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CorrectScreen))
        await pilot.press(*"2020-01-01T13:50:00Z", "enter")
        await until(pilot, lambda: not isinstance(app.screen, CorrectScreen))
        with IncidentStore(data / "incidents.sqlite3") as store:
            await until(
                pilot,
                lambda: (
                    store.times(incident.id).impact_started
                    == datetime(2020, 1, 1, 13, 50, tzinfo=UTC)
                ),
            )
            kinds = [e.kind for e in store.incident_events(incident)]
        assert any(kind.startswith("correct") for kind in kinds), kinds
