"""`cockpit drill run NAME` on screen: the app `drill_app` builds opens the drill report by
itself when the scenario clock runs out, with nobody pressing a key; escape leaves the report,
q quits; quitting before the end still writes the report. A short scenario of the user's own
(COCKPIT_SCENARIOS) keeps the run to a few seconds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pilot_wait import until

from cockpit.app import drill_app
from cockpit.drill.scenario import SCENARIOS_ENV, Scenario, find_scenario
from cockpit.drill.session import DrillSession
from widgets.drill_report import DrillReportScreen, report_lines
from widgets.header import CockpitHeader

# 15 scenario minutes at 600x: a second and a half once the world is up.
SHORT = """\
name = "short-drill"
title = "Short drill: a bad deploy, then the clock runs out"
world = "files-com"
protocols = ["http"]
traffic = true
speed = 600
start = "2024-08-02T06:45:00-07:00"
end = "07:00"

[[schedule]]
at = "06:47"
fault = "bad_deploy"

[reference]
impact_start = "06:47"
declared = "06:55"
source = "made up for the test"
"""


def short_scenario(tmp_path: Path) -> Scenario:
    directory = tmp_path / "scenarios"
    directory.mkdir()
    (directory / "short-drill.toml").write_text(SHORT)
    return find_scenario("short-drill", {SCENARIOS_ENV: str(directory)})


def drill_end_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "drill-end"]


async def test_the_report_opens_by_itself_when_the_clock_runs_out(tmp_path: Path) -> None:
    scenario = short_scenario(tmp_path)
    session = DrillSession(scenario, data_dir=tmp_path / "data")
    assert session.speed == 600
    app = drill_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.cockpit is not None and app.last_view is not None)
        assert "DRILL" in app.query_one(CockpitHeader).render().plain

        await until(pilot, lambda: isinstance(app.screen, DrillReportScreen))
        screen = app.screen
        assert isinstance(screen, DrillReportScreen)
        assert session.ended
        report = screen.report
        assert report is session.report
        assert report.scenario == "short-drill" and report.ended_at >= scenario.end
        md, js = report.files
        assert md.exists() and js.exists() and md.parent == session.run_dir
        assert json.loads(js.read_text())["scenario"] == "short-drill"
        assert str(md) in "\n".join(report_lines(report))

        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DrillReportScreen))
        assert len(app.screen_stack) == 1
        await pilot.press("q")
    assert app.return_code == 0
    # Closing did not score the run again: the report on screen is the one on disk.
    assert session.report is report
    assert json.loads(js.read_text())["ended_at"] == report.ended_at.isoformat()
    assert drill_end_tasks() == []


async def test_quitting_before_the_end_still_writes_the_report(tmp_path: Path) -> None:
    scenario = short_scenario(tmp_path)
    # Real time: the end is a quarter of an hour away, the bad deploy two minutes.
    session = DrillSession(scenario, data_dir=tmp_path / "data", speed=1.0)
    app = drill_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.cockpit is not None and app.last_view is not None)
        assert session.report is None
        await pilot.press("q")
    assert app.return_code == 0
    assert drill_end_tasks() == []  # the wait for the end went with the app

    report = session.report
    assert report is not None
    assert report.ended_at < scenario.end and report.impact_start is None
    md, js = report.files
    assert md.exists() and js.exists()
    data = json.loads(js.read_text())
    assert data["scenario"] == "short-drill" and data["faults"] == []
