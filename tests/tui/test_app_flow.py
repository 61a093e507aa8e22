"""The whole first minute through the keys a user presses, against a running drill world:
the bad deploy turns a probe red, `d` declares, `R` reverts (after a wrong confirmation), the
probes recover, `x` exports the timeline draft."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

from pilot_wait import shown_rows, until
from textual.widgets._toast import Toast

from cockpit.app import CockpitApp
from cockpit.config import Config
from cockpit.config.sections import DetectSettings
from cockpit.detect.probes import ProbeState
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import SentryIssues
from cockpit.runtime import Cockpit
from cockpit.timeutil import duration, local_hm, local_hms
from widgets.export_preview import ExportPreviewScreen
from widgets.header import CockpitHeader
from widgets.modals import DeclareScreen, HelpScreen, RevertScreen, StatusScreen
from widgets.panels import Panel, SentryPanel
from widgets.sentry_detail import SentryDetailScreen
from widgets.timeline import TimelineStrip
from widgets.timeline_view import TimelineScreen


def make_app(config: Config, data: Path, **kwargs: object) -> CockpitApp:
    async def factory() -> Cockpit:
        return Cockpit(
            config,
            data,
            user="oncall-tester",
            read_only=bool(kwargs.get("read_only")),
            detect=DetectSettings(blind_spot_grace=3),
        )

    return CockpitApp(factory, keys=config.keys, **kwargs)  # type: ignore[arg-type]


def screen_text(app: CockpitApp) -> str:
    """What the main screen shows, as plain text: header, panel titles and lines, timeline."""
    parts = [app.query_one(CockpitHeader).render().plain]
    for panel in app.query(Panel):
        parts.append(f"{panel.border_title} | {panel.border_subtitle}")
        parts.extend(shown_rows(panel))
    parts.append(app.query_one(TimelineStrip).render().plain)
    return "\n".join(parts)


def explain(app: CockpitApp) -> str:
    view = app.last_view
    if view is None:
        return "no view"
    a = view.assessment
    issues = [
        (i.short_id, i.first_seen)
        for r in view.snapshot.readings.values()
        if isinstance(r, SentryIssues)
        for i in r.issues
    ]
    statuses = {n: (s.freshness, s.reason) for n, s in view.snapshot.statuses.items()}
    return (
        f"first failure {a.first_failure_at}, suspect {a.suspect}, degraded {a.degraded}, "
        f"issues {issues}, statuses {statuses}\n{screen_text(app)}"
    )


def probe_state(app: CockpitApp, name: str) -> ProbeState | None:
    view = app.last_view
    if view is None:
        return None
    return next((p.state for p in view.assessment.probes if p.name == name), None)


async def test_declare_revert_export_end_to_end(world_config: Config, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(world_config, data)
    async with app.run_test(size=(120, 40)) as pilot:
        # The bad release breaks every second simultaneous session on FTP, SFTP and WebDAV;
        # single sessions still pass.
        for protocol in ("webdav-propfind", "ftp-login", "sftp-list"):
            await until(
                pilot,
                lambda p=protocol: probe_state(app, f"{p}-x4") is ProbeState.DOWN,  # type: ignore[misc]
                describe=lambda: explain(app),
            )
            assert probe_state(app, protocol) is ProbeState.UP, protocol
        await until(pilot, lambda: "SUSPECT" in screen_text(app))
        text = screen_text(app)
        assert "FAIL webdav-propfind-x4" in text and "1/4" in text
        assert "fails only under concurrency" in text
        assert "DEGRADED" in text
        assessment = app.last_view.assessment if app.last_view else None
        assert assessment and assessment.suspect and assessment.suspect.version.endswith("-2")
        # The failing path does not report to Sentry: the cockpit says so, and the older,
        # unrelated issue is not passed off as new.
        await until(pilot, lambda: "BLIND SPOT" in screen_text(app), describe=lambda: explain(app))
        assert "NEW " not in screen_text(app)

        # d: declare with the form's defaults
        await pilot.press("d")
        assert isinstance(app.screen, DeclareScreen)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, DeclareScreen))
        with IncidentStore(data / "incidents.sqlite3") as store:
            incident = store.open_incident()
        assert incident is not None
        assert incident.severity == "SEV2" and incident.commander == "oncall-tester"
        assert incident.drill
        await until(pilot, lambda: f"INCIDENT #{incident.id} SEV2" in screen_text(app))

        # R: the plan, a wrong confirmation that runs nothing, then the right one
        deploy_log = Path(world_config.deploys[0].path)
        lines_before = deploy_log.read_text().count("\n")
        await pilot.press("R")
        screen = app.screen
        assert isinstance(screen, RevertScreen)
        plan = screen.plan
        assert plan.service == "files-web"
        assert plan.from_version.endswith("-2") and plan.to_version.endswith("-1")
        await pilot.press(*"files-wbe", "enter")
        problems = str(screen.query_one("#problems").render())
        assert "does not match" in problems
        assert deploy_log.read_text().count("\n") == lines_before
        await pilot.press(*"files-web", "enter")
        await until(pilot, lambda: screen.outcome is not None)
        assert screen.outcome is not None and screen.outcome.ok, screen.outcome
        await pilot.press("escape")
        assert not isinstance(app.screen, RevertScreen)
        assert f'"reverts": "{plan.from_version}"' in deploy_log.read_text()

        # the probes recover and the cockpit says so
        for protocol in ("webdav-propfind", "ftp-login", "sftp-list"):
            await until(
                pilot,
                lambda p=protocol: probe_state(app, f"{p}-x4") is ProbeState.UP,  # type: ignore[misc]
                describe=lambda: explain(app),
            )
        await until(pilot, lambda: "recovered" in screen_text(app))
        recovered = next(e for e in reversed(app.last_view.timeline) if e.kind == "recovered")  # type: ignore[union-attr]
        # The header offers the one key that records it mitigated at the recovery's time.
        await until(
            pilot,
            lambda: "m marks the incident mitigated" in app.query_one(CockpitHeader).render().plain,
        )

        # m: mitigated at the verified recovery (the field holds its time, editable), even
        # though the key is pressed some seconds later
        await pilot.pause(1.2)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, StatusScreen))
        assert app.screen.query_one("#at").value == local_hms(recovered.at)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, StatusScreen))
        await until(
            pilot,
            lambda: (
                f"mitigated {local_hm(recovered.at)}" in app.query_one(CockpitHeader).render().plain
            ),
            describe=lambda: app.query_one(CockpitHeader).render().plain,
        )
        with IncidentStore(data / "incidents.sqlite3") as store:
            times = store.times(incident.id)
        assert times.mitigated == recovered.at

        # t: the whole timeline, filtered by kind
        await pilot.press("t")
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, TimelineScreen)

        # x: preview the timeline draft, then save it
        await pilot.press("x")
        assert isinstance(app.screen, ExportPreviewScreen)
        assert "mitigated" in app.screen.markdown
        assert not (data / "exports").exists() or not list((data / "exports").glob("*.md"))
        await pilot.press("s")
        await until(pilot, lambda: not isinstance(app.screen, ExportPreviewScreen))
        exports = sorted((data / "exports").glob("*.md"))
        assert len(exports) == 1
        draft = exports[0].read_text()
        for expected in ("declared", "revert", "recovered", "probe.down", "suspect", "UTC"):
            assert expected in draft, expected
        # Durations come from the recorded times, not from when keys were pressed.
        start = incident.impact_started_at or incident.declared_at
        mitigate = duration((recovered.at - start).total_seconds())
        assert f"- **Time to mitigate:** {mitigate} (= mitigated - impact start)" in draft, draft
        assert f"| Mitigated | {recovered.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} |" in draft
        assert "## Probe history" in draft
        document = json.loads(exports[0].with_suffix(".json").read_text())
        history = {p["probe"]: p["runs"] for p in document["probe_history"]}
        assert any(not r["ok"] and r["error"] for r in history["webdav-propfind-x4"]), history

        with IncidentStore(data / "incidents.sqlite3") as store:
            kinds = {e.kind for e in store.recent_events(200)}
        assert {
            "declared",
            "revert.started",
            "revert.finished",
            "export",
            "recovered",
            "status.mitigated",
        } <= kinds, kinds

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0
    with IncidentStore(data / "incidents.sqlite3") as store:
        last = store.recent_events(1)[-1]
    assert last.kind == "cockpit.quit" and last.text.startswith("oncall-tester:")


async def test_read_only_disables_declare_and_revert(world_config: Config, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(world_config, data, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        await pilot.press("d")
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, DeclareScreen | RevertScreen)
        assert "READ-ONLY" in screen_text(app)
        with IncidentStore(data / "incidents.sqlite3") as store:
            assert store.open_incident() is None


async def test_the_command_palette_breaks_the_world_on_purpose(
    world_config: Config, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(world_config, data)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: probe_state(app, "web-health") is ProbeState.UP)
        # Enter on a Sentry issue: its latest event, fetched through the source's client.
        sentry = app.query_one(SentryPanel)
        await until(pilot, lambda: "FILES-WEB-1" in screen_text(app), describe=lambda: explain(app))
        sentry.focus()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SentryDetailScreen))
        assert app.screen.detail.exception_type == "ValueError"  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SentryDetailScreen))

        await pilot.press("ctrl+p")
        await pilot.press(*"inject fault: db_reinstall")
        await pilot.pause(0.3)
        await pilot.press("enter")
        # The reinstalled database takes the health check down with everything else.
        await until(
            pilot,
            lambda: probe_state(app, "web-health") is ProbeState.DOWN,
            describe=lambda: explain(app),
        )
        # A fault that cannot apply now says why, instead of "injected" and nothing: the bad
        # release shipped a second into this world and does not ship again.
        await until(pilot, lambda: app.world_dir() is not None and bad_release_shipped(app))
        await pilot.press("ctrl+p")
        await pilot.press(*"inject fault: bad_deploy")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: any("not injected" in t for t in toasts(app)))
        said = " ".join(toasts(app))
        assert "bad_deploy not injected" in said and "does not ship again" in said, said
        with IncidentStore(data / "incidents.sqlite3") as store:
            kinds = [e.text for e in store.recent_events(50) if e.kind == "drill.inject"]
        assert kinds == ["oncall-tester: injected fault db_reinstall"]


def toasts(app: CockpitApp) -> list[str]:
    return [str(t.render().plain) for t in app.screen.query(Toast)]


def bad_release_shipped(app: CockpitApp) -> bool:
    view = app.last_view  # the deploy it shipped is the suspect of what it broke
    return view is not None and view.assessment.suspect is not None


async def test_a_held_revert_lock_is_in_the_plan_before_any_typing(
    world_config: Config, tmp_path: Path
) -> None:
    from cockpit.actions.lock import ServiceLock

    data = tmp_path / "data"
    data.mkdir()
    app = make_app(world_config, data)
    held = ServiceLock(data, "files-web", user="alice", what="revert files-web 9 -> 8")
    held.acquire()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "SUSPECT" in screen_text(app), describe=lambda: explain(app))
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, RevertScreen))
            await pilot.pause()
            plan = " ".join(
                str(w.render().plain)  # type: ignore[attr-defined]
                for w in app.screen.query(".plan InertStatic")
            )
            assert "HELD by alice" in plan and "since" in plan, plan
            assert "revert files-web 9 -> 8" in plan, plan
            assert app.screen.query_one("#confirm").value == ""  # type: ignore[attr-defined]
    finally:
        held.release()
