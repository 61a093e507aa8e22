"""Probe panel: one row per probe (also for a source reporting a fleet), the columns that fit,
and Enter on a probe opens its recent results with the errors verbatim."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from textual.app import App, ComposeResult

from cockpit.config import parse
from cockpit.detect import Detector, DetectSettings
from cockpit.hub import Snapshot
from cockpit.model import Category, Freshness, ProbeResult, ProbeResults, SourceStatus
from cockpit.runtime import View
from cockpit.timeutil import utcnow
from widgets.panels import Panel, ProbesPanel
from widgets.probe_detail import ProbeDetailScreen

NOW = utcnow()
HOSTILE = "[bold]530 Login[/] $error refused"
CONFIG = parse(
    """
[[probes]]
name = "ftp-login"
kind = "http"
url = "http://127.0.0.1:1/"
[[probes]]
name = "ftp-login-x4"
kind = "http"
url = "http://127.0.0.1:1/"
concurrency = 4
""",
    None,
    env={},
)


def views() -> list[View]:
    detector = Detector(CONFIG, DetectSettings())
    out = []
    for i in range(4):
        at = NOW - timedelta(seconds=40 - 10 * i)
        single = ProbeResult("ftp-login", "ftp", "ftp://127.0.0.1:21/", 1, 1, True, 12.0, "", at)
        fails = i >= 2
        x4 = replace(
            single,
            name="ftp-login-x4",
            concurrency=4,
            sessions_ok=1 if fails else 4,
            ok=not fails,
            error=f"3/4 sessions failed: {HOSTILE}" if fails else "",
        )
        fleet = ProbeResults(
            "blackbox",
            (
                replace(single, name="blackbox:https://a.example@eu", kind="prometheus"),
                replace(single, name="blackbox:https://a.example@us", kind="prometheus"),
            ),
        )
        statuses = {
            name: SourceStatus(name, kind, Category.PROBE, Freshness.FRESH, at)
            for name, kind in (
                ("ftp-login", "ftp"),
                ("ftp-login-x4", "ftp"),
                ("blackbox", "prometheus"),
            )
        }
        readings = {"ftp-login": single, "ftp-login-x4": x4, "blackbox": fleet}
        snapshot = Snapshot(at, i + 1, statuses, readings)  # type: ignore[arg-type]
        out.append(View(snapshot, detector.observe(snapshot), None, ()))
    return out


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ProbesPanel(id="probes")

    def on_panel_chosen(self, message: Panel.Chosen) -> None:
        self.push_screen(ProbeDetailScreen(message.key, self.view))


async def test_enter_on_a_probe_opens_its_results_with_errors_verbatim() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(ProbesPanel)
        for v in views():
            app.view = v  # type: ignore[attr-defined]
            panel.show(v)
        await pilot.pause()
        text = "\n".join(line.plain for line in panel._render_lines())
        assert "FAIL ftp-login-x4" in text and "1/4" in text
        assert "fails only under concurrency" in text
        # A fleet read from elsewhere shows one row per probe.
        assert "xample@eu" in text and "xample@us" in text
        assert panel.border_title == "Probes 3/4 up"

        panel.focus()
        await pilot.pause()
        assert panel.selected == "ftp-login"  # focus selects the first probe
        await pilot.press("down")
        assert panel.selected == "ftp-login-x4"
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProbeDetailScreen) and screen.probe_name == "ftp-login-x4"
        rows = str(screen.query_one("#rows").render())
        assert f"3/4 sessions failed: {HOSTILE}" in rows  # markup shown, not applied
        summary = str(screen.query_one("#summary").render())
        assert "DOWN" in summary and "fails only under concurrency" in summary
        await pilot.press("escape")
        assert not isinstance(app.screen, ProbeDetailScreen)


class Short(Host):
    CSS = "ProbesPanel { height: 5; border: round white; }"  # three rows inside the border


async def test_when_probes_do_not_fit_the_failing_ones_stay_and_the_rest_are_counted() -> None:
    app = Short()
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(ProbesPanel)
        for v in views():
            panel.show(v)
        await pilot.pause()
        lines = [line.plain for line in panel._render_lines()]
        assert len(lines) == 3
        assert lines[0].startswith("FAIL ftp-login-x4")
        assert lines[-1] == "+2 more, all ok"
