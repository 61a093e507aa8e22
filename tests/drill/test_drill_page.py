"""The Files.com drill pages: the world's real Alertmanager, fed by its rule on the proxy's 5xx
ratio, fires on the spike the bad deploy causes. Through the keys the responder silences the
page (alerts strip, Enter, s, a comment) and reverts; the alert resolves with the recovery,
and the drill report says when the page fired against the impact start."""

from __future__ import annotations

import json
from pathlib import Path

from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.drill.report import render_markdown
from cockpit.drill.scenario import find_scenario
from cockpit.drill.session import DrillSession
from cockpit.runtime import Cockpit
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.inert_forms import InertInput
from widgets.modals import RevertScreen
from widgets.silence import SilenceScreen

SPEED = 600.0


def shown(session: DrillSession, kind: str) -> bool:
    return any(event.kind == kind for event, _ in session.cockpit().shown)


def test_the_files_com_scenarios_run_an_alertmanager() -> None:
    for name in ("files-com-2024", "files-com-2024-opened-late"):
        assert find_scenario(name, {}).alertmanager, name
    assert not find_scenario("slow-dependency", {}).alertmanager


async def test_the_page_silenced_through_the_keys_then_resolved(tmp_path: Path) -> None:
    scenario = find_scenario("files-com-2024", {})
    session = DrillSession(scenario, data_dir=tmp_path, speed=SPEED, user="oncall-tester")

    async def factory() -> Cockpit:
        await session.start()
        return session.cockpit()

    app = CockpitApp(factory, on_close=session.stop)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.last_view is not None and app.last_view.alerts.firing > 0)
        view = app.last_view
        assert view is not None
        (alert,) = view.alerts.alerts
        assert alert.alertname == "FilesWeb5xxHigh" and alert.label("service") == "files-web"
        while not app.query_one(AlertsPanel).has_focus:
            await pilot.press("tab")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))
        app.screen.query_one("#comment", InertInput).focus()
        await pilot.press(*"reverting the 06:52 deploy", "enter")
        await until(pilot, lambda: not isinstance(app.screen, SilenceScreen))
        await until(
            pilot,
            lambda: app.last_view is not None and app.last_view.alerts.suppressed == 1,
            describe=lambda: str(app.last_view and app.last_view.alerts),
        )
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AlertsScreen))

        await pilot.press("R")
        screen = app.screen
        assert isinstance(screen, RevertScreen)
        await pilot.press(*"files-web", "enter")
        await until(pilot, lambda: screen.outcome is not None)
        assert screen.outcome is not None and screen.outcome.ok, screen.outcome
        await pilot.press("escape")
        await until(pilot, lambda: shown(session, "alert.resolved") and shown(session, "recovered"))
        report = session.finish(app.last_view)
        await pilot.press("q")

    page = report.page
    impact = report.impact_start
    assert page is not None and impact is not None and page.minutes is not None
    assert impact <= page.fired_at <= page.shown_at
    # The rule fires within a few scenario minutes of the spike; at 600x a real second is
    # ten scenario minutes, so a loaded machine may stretch it.
    assert 0 <= page.minutes < 30
    assert page.silenced_at is not None and page.shown_at <= page.silenced_at
    started = next(a for a in report.acts if a.kind == "revert.started")
    assert page.resolved_at is not None and page.resolved_at >= started.at
    assert "FilesWeb5xxHigh" in page.text
    assert "silence.created" in [a.kind for a in report.acts]
    assert report.first("page") is not None and "page" not in report.silent
    markdown = render_markdown(report)
    line = next(x for x in markdown.splitlines() if x.startswith("- **Page:**"))
    assert f"the impact start ({impact:%H:%M:%S})" in line and " after " in line
    assert f"silenced {page.silenced_at:%H:%M:%S}" in line and "resolved" in line
    data = json.loads(report.files[1].read_text())
    assert data["page"]["minutes"] == page.minutes
