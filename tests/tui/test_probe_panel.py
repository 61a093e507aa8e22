"""Probe panel: one row per probe (also for a source reporting a fleet), the columns that fit,
and Enter on a probe opens its recent results with the errors verbatim."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from pilot_wait import shown_rows, shown_text
from textual.app import App, ComposeResult

from cockpit.config import parse
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Detector
from cockpit.hub import Snapshot
from cockpit.model import Category, Freshness, ProbeResult, ProbeResults, SourceStatus
from cockpit.runtime import View
from cockpit.timeutil import utcnow
from widgets.panels import ProbesPanel
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

    def on_probes_panel_probe_chosen(self, message: ProbesPanel.ProbeChosen) -> None:
        self.push_screen(ProbeDetailScreen(message.name, self.view))


async def test_enter_on_a_probe_opens_its_results_with_errors_verbatim() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(ProbesPanel)
        for v in views():
            app.view = v  # type: ignore[attr-defined]
            panel.show(v)
        await pilot.pause()
        text = shown_text(panel)
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
        lines = shown_rows(panel)
        assert len(lines) == 3
        assert lines[0].startswith("FAIL ftp-login-x4")
        assert lines[-1] == "+2 more, all ok"


def rounds(outcomes: list[tuple[bool, str]], start_ago: timedelta) -> list[View]:
    """Views of ftp-login-x4 after each round, every 2 s, ending now."""
    detector = Detector(CONFIG, DetectSettings())
    out = []
    step = start_ago / max(1, len(outcomes))
    for i, (ok, error) in enumerate(outcomes):
        at = NOW - start_ago + step * i
        result = ProbeResult(
            "ftp-login-x4", "ftp", "ftp://127.0.0.1:21/", 4, 4 if ok else 1, ok, 5.0, error, at
        )
        statuses = {
            "ftp-login-x4": SourceStatus("ftp-login-x4", "ftp", Category.PROBE, Freshness.FRESH, at)
        }
        snapshot = Snapshot(at, i + 1, statuses, {"ftp-login-x4": result})  # type: ignore[arg-type]
        out.append(View(snapshot, detector.observe(snapshot), None, ()))
    return out


async def test_a_round_that_failed_below_the_threshold_is_not_a_plain_ok() -> None:
    # Two failures in a row make a probe down; one is not enough, but the row must say so.
    views_ = rounds([(True, ""), (True, ""), (False, "530 Login incorrect")], timedelta(seconds=6))
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ProbesPanel)
        panel.show(views_[-1])
        await pilot.pause()
        text = shown_text(panel)
        assert "ok   ftp-login-x4" not in text, text
        assert "warn ftp-login-x4" in text, text
        assert "last 1 round failed, not down yet: 530 Login incorrect" in text, text


async def test_probe_history_outlasts_the_incident_in_bounded_memory() -> None:
    """An hour of rounds every 2 s: down at minute 5 with one error, another error at minute
    20, back up at minute 40. Every change and its verbatim error is still in the detail screen
    and the export at the end, while the memory kept stays bounded."""
    from cockpit.detect.probes import RUNS
    from cockpit.incident.export import probe_history_markdown

    outcomes: list[tuple[bool, str]] = []
    for i in range(1800):
        minute = i * 2 / 60
        if 5 <= minute < 20:
            outcomes.append((False, f"550 session {i} refused: pooled handle reused"))
        elif 20 <= minute < 40:
            outcomes.append((False, "421 Too many connections (8) from this IP"))
        else:
            outcomes.append((True, ""))
    views_ = rounds(outcomes, timedelta(hours=1))
    probe = views_[-1].assessment.probes[0]
    assert len(probe.history) <= 60 and len(probe.runs) <= RUNS
    assert [(r.first.ok, r.count) for r in probe.runs] == [
        (True, 150),
        (False, 450),
        (False, 600),
        (True, 600),
    ]
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.view = views_[-1]  # type: ignore[attr-defined]
        await app.push_screen(ProbeDetailScreen("ftp-login-x4", views_[-1]))
        await pilot.pause()
        rows = str(app.screen.query_one("#rows").render())
        assert "550 session 150 refused: pooled handle reused" in rows
        assert "421 Too many connections (8) from this IP" in rows
    markdown = probe_history_markdown(views_[-1].assessment.probes, NOW - timedelta(hours=2))
    assert "550 session 150 refused: pooled handle reused" in markdown
    assert "421 Too many connections (8) from this IP" in markdown
    assert "| FAIL | 1/4 | 450 |" in markdown
