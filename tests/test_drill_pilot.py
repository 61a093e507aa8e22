"""files-com-2024 as a person would drill it, at 600x, through the keys: when the screen shows
"fails only under concurrency" press d; three scenario minutes later press R and confirm;
when it recovers, read the drill report. The report's figures must match what was done."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.drill.scenario import find_scenario
from cockpit.drill.session import DrillSession
from cockpit.runtime import Cockpit
from widgets.drill_report import DrillReportScreen, report_lines
from widgets.export_preview import ExportPreviewScreen
from widgets.header import CockpitHeader
from widgets.modals import DeclareScreen, RevertScreen

SPEED = 600.0
REVERT_AFTER = 3.0  # scenario minutes between declaring and reverting


async def until(pilot: Pilot[int], condition: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def shown(session: DrillSession, kind: str) -> bool:
    return any(event.kind == kind for event, _ in session.cockpit().shown)


async def test_files_com_drill_through_the_keys(tmp_path: Path) -> None:
    scenario = find_scenario("files-com-2024", {})
    session = DrillSession(scenario, data_dir=tmp_path, speed=SPEED, user="oncall-tester")

    async def factory() -> Cockpit:
        await session.start()
        return session.cockpit()

    app = CockpitApp(factory, on_close=session.stop)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: session.config is not None and app.cockpit is not None)
        await until(pilot, lambda: shown(session, "concurrency"))
        assert "DRILL" in app.query_one(CockpitHeader).render().plain

        pressed_d = session.scenario_now()
        await pilot.press("d")
        assert isinstance(app.screen, DeclareScreen)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, DeclareScreen))
        declared = session.scenario_now()
        incident = session.cockpit().store.open_incident()
        assert incident is not None and incident.drill

        await session.until_scenario(
            session.scenario_at(incident.declared_at) + timedelta(minutes=REVERT_AFTER)
        )
        pressed_r = session.scenario_now()
        await pilot.press("R")
        screen = app.screen
        assert isinstance(screen, RevertScreen)
        await pilot.press(*"files-web", "enter")
        await until(pilot, lambda: screen.outcome is not None)
        assert screen.outcome is not None and screen.outcome.ok, screen.outcome
        reverted = session.scenario_now()
        await pilot.press("escape")

        await until(pilot, lambda: shown(session, "recovered"))
        report = session.finish(app.last_view)
        app.push_screen(DrillReportScreen(report))
        await pilot.pause()
        assert isinstance(app.screen, DrillReportScreen)
        text = "\n".join(report_lines(report))
        assert "declare" in text and "never fired:" in text and "sentry" in text, text
        await pilot.press("escape")
        assert not isinstance(app.screen, DrillReportScreen)
        # x: the incident's draft carries the drill's figures
        await pilot.press("x")
        assert isinstance(app.screen, ExportPreviewScreen)
        assert "## Drill" in app.screen.markdown
        await pilot.press("s")
        await until(pilot, lambda: not isinstance(app.screen, ExportPreviewScreen))
        await pilot.press("q")

    detect = report.milestone("detect")
    declare = report.milestone("declare")
    mitigate = report.milestone("mitigate")
    recover = report.milestone("recover")
    assert None not in (detect.minutes, declare.minutes, mitigate.minutes, recover.minutes)
    assert detect.minutes is not None and declare.minutes is not None
    assert mitigate.minutes is not None and recover.minutes is not None
    # d was pressed once the concurrency signal showed; the figures are when things happened
    signal = report.first("concurrency")
    assert signal is not None and detect.at is not None and declare.at is not None
    assert detect.at <= signal.shown_at <= pressed_d <= declare.at <= declared
    started = next(a for a in report.acts if a.kind == "revert.started")
    assert started.minutes is not None
    assert pressed_r <= started.at <= reverted
    assert (started.at - declare.at) >= timedelta(minutes=REVERT_AFTER)
    assert declare.minutes <= started.minutes <= mitigate.minutes <= recover.minutes
    # minutes are scenario minutes after the bad deploy went out
    impact = report.impact_start
    assert impact is not None and impact.strftime("%H:%M") == "06:52"
    assert abs((declare.at - impact).total_seconds() / 60 - declare.minutes) < 0.01
    # what the real incident took and what was possible, side by side
    assert (declare.real_minutes, mitigate.real_minutes) == (43, 49)
    assert mitigate.best_minutes == 2
    assert mitigate.versus_real == 49 - mitigate.minutes
    # the signals the cockpit raised, and the one that stayed silent, as in the incident
    assert report.first("concurrency") is not None and report.first("probe") is not None
    assert "sentry" in report.silent
    assert report.faults[0].fault == "bad_deploy" and report.faults[0].origin == "schedule"
    assert [a.kind for a in report.acts][:1] == ["declared"]
    assert report.still_failing == ()

    md, js = report.files
    assert md.parent == session.run_dir and md.parent.parent == tmp_path / "drills"
    assert "| declare |" in md.read_text()
    data = json.loads(js.read_text())
    assert data["scenario"] == "files-com-2024"
    assert [m["label"] for m in data["milestones"]] == ["detect", "declare", "mitigate", "recover"]
