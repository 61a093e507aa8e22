"""Every built-in scenario as a person would drill it, at 600x, through the keys, and the
report's figures against the moments the keys were pressed.

    files-com-2024   when the screen shows "fails only under concurrency" press d; three
                     scenario minutes later press R and confirm; when it recovers, read the report
    dropbox-2014     d when a probe is down; R a few minutes later: it goes through and nothing
                     clears; n for a note; a, failover: most probes recover, mobile keeps failing
    slow-dependency  d two minutes after the probe went down; never revert; once it recovers by
                     itself, s and move the incident to resolved
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from pilot_wait import until
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.detect.probes import ProbeState
from cockpit.drill.report import Act, DrillReport
from cockpit.drill.scenario import find_scenario
from cockpit.drill.session import DrillSession
from cockpit.incident.lifecycle import recovery_time
from cockpit.runtime import Cockpit
from widgets.drill_report import DrillReportScreen, report_lines
from widgets.export_preview import ExportPreviewScreen
from widgets.header import CockpitHeader
from widgets.modals import ChoiceScreen, DeclareScreen, NoteScreen, RevertScreen, StatusScreen

SPEED = 600.0
# The slow dependency lasts 30 scenario minutes: 3 s at 600x, less than a loaded machine can
# take to open the cockpit and poll once. At 120x it is 15 s, still a drill's pace.
SLOW_SPEED = 120.0
REVERT_AFTER = 3.0  # scenario minutes between declaring and reverting


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
    assert declare.minutes <= started.minutes and mitigate.minutes <= recover.minutes
    # The order the keys caused, whatever the load: each concurrent probe passed for good
    # only after the revert started. (Under load a probe timing out and passing again may
    # make an earlier "mitigate" figure; the real seconds a slow Pilot takes are scenario
    # minutes at this speed.)
    last_up: dict[str, datetime] = {}
    for event, at in session.cockpit().shown:
        if event.kind == "probe.up" and event.source.endswith("-x4"):
            last_up[event.source] = at
    assert last_up and all(at >= session.real_at(started.at) for at in last_up.values())
    # minutes are scenario minutes after the bad deploy went out
    impact = report.impact_start
    assert impact is not None and impact.strftime("%H:%M") == "06:52"
    # on the scenario clock, less the cockpit's own wall seconds (starting, the revert's
    # processes), which count as they would at 1x
    on_clock = (declare.at - impact).total_seconds() / 60
    own = report.own_seconds * (report.speed - 1) / 60
    assert on_clock - own - 0.01 <= declare.minutes <= on_clock + 0.01, (on_clock, own)
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


# -- helpers for the scenarios below ----------------------------------------------------------


def cockpit_app(session: DrillSession) -> CockpitApp:
    async def factory() -> Cockpit:
        await session.start()
        return session.cockpit()

    return CockpitApp(factory, on_close=session.stop)


def probes_in(app: CockpitApp, state: ProbeState) -> set[str]:
    view = app.last_view
    if view is None:
        return set()
    return {p.name for p in view.assessment.probes if p.state is state}


async def until_view_at(
    pilot: Pilot[int], app: CockpitApp, session: DrillSession, at: datetime
) -> None:
    """Until the screen shows a view taken at or after the scenario time `at`."""
    real = session.real_at(at)
    await until(pilot, lambda: app.last_view is not None and app.last_view.snapshot.at >= real)


def the_act(report: DrillReport, kind: str) -> Act:
    found = [a for a in report.acts if a.kind == kind]
    assert found, [a.kind for a in report.acts]
    return found[0]


async def declare_with_keys(pilot: Pilot[int], app: CockpitApp) -> None:
    await pilot.press("d")
    assert isinstance(app.screen, DeclareScreen)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, DeclareScreen))


async def confirm_with_keys(pilot: Pilot[int], app: CockpitApp) -> None:
    """Type the service's name into the open revert/action screen, wait for the outcome."""
    screen = app.screen
    assert isinstance(screen, RevertScreen)
    await pilot.press(*screen.plan.service, "enter")
    await until(pilot, lambda: screen.outcome is not None)
    assert screen.outcome is not None and screen.outcome.ok, screen.outcome
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is not screen)


# -- dropbox-2014 -----------------------------------------------------------------------------

STILL_AFTER_REVERT = 3.0  # scenario minutes after the revert at which nothing has cleared yet
LINGER = 15.0  # scenario minutes after most came back that mobile still fails


async def test_dropbox_drill_revert_changes_nothing_failover_leaves_a_tail(tmp_path: Path) -> None:
    scenario = find_scenario("dropbox-2014", {})
    session = DrillSession(scenario, data_dir=tmp_path, speed=SPEED, user="oncall-tester")
    app = cockpit_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: session.config is not None and app.cockpit is not None)
        await until(pilot, lambda: bool(probes_in(app, ProbeState.DOWN)))

        pressed_d = session.scenario_now()
        await declare_with_keys(pilot, app)
        declared = session.scenario_now()
        incident = session.cockpit().store.open_incident()
        assert incident is not None and incident.drill

        await session.until_scenario(
            session.scenario_at(incident.declared_at) + timedelta(minutes=REVERT_AFTER)
        )
        # Both fail before the revert (each on its own probe round: awaited, not assumed).
        await until(
            pilot, lambda: {"web-health", "mobile-files"} <= probes_in(app, ProbeState.DOWN)
        )
        failing = probes_in(app, ProbeState.DOWN)

        # The top suspect is the maintenance run that reinstalled the databases; nothing can
        # revert it, and R says so before it plans the tempting move: the latest deploy.
        def top_suspect() -> str:
            view = app.last_view
            suspects = view.assessment.suspects if view is not None else ()
            return str(suspects[0].change.kind) if suspects else ""

        await until(pilot, lambda: top_suspect() == "maintenance", describe=top_suspect)
        pressed_r = session.scenario_now()
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RevertScreen))

        def toasts() -> str:
            return " ".join(str(n.message) for n in app._notifications)

        await until(pilot, lambda: "not planned" in toasts(), describe=toasts)
        assert "os-upgrade has no revert" in toasts(), toasts()
        await confirm_with_keys(pilot, app)
        reverted = session.scenario_now()
        # The revert went through, and nothing cleared: minutes later the same probes still fail.
        later = reverted + timedelta(minutes=STILL_AFTER_REVERT)
        await session.until_scenario(later)
        await until_view_at(pilot, app, session, later)
        assert failing <= probes_in(app, ProbeState.DOWN)
        assert not [e for e, _ in session.cockpit().shown if e.kind in ("probe.up", "recovered")]

        pressed_n = session.scenario_now()
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"revert did nothing", "enter")
        await until(pilot, lambda: not isinstance(app.screen, NoteScreen))
        noted = session.scenario_now()

        pressed_a = session.scenario_now()
        await pilot.press("a")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("enter")  # the service's one action, failover, has the focus
        await until(pilot, lambda: isinstance(app.screen, RevertScreen))
        await confirm_with_keys(pilot, app)
        failed_over = session.scenario_now()

        # Most of it comes back; the mobile app's reads keep failing, well after the failover.
        back = {"web-health", "session", "session-x4"}
        await until(pilot, lambda: back <= probes_in(app, ProbeState.UP))
        recovered_most = session.scenario_now()
        lingered = recovered_most + timedelta(minutes=LINGER)
        await session.until_scenario(lingered)
        await until(
            pilot,
            lambda: (
                app.last_view is not None
                and app.last_view.snapshot.at >= session.real_at(lingered)
                and "mobile-files" in probes_in(app, ProbeState.DOWN)
            ),
        )
        report = session.finish(app.last_view)  # the view just checked: mobile is down in it
        await pilot.press("q")

    assert [(f.fault, f.origin) for f in report.faults] == [
        ("maintenance_dry_run", "schedule"),
        ("db_reinstall", "schedule"),
        ("failover", "control"),
    ]
    assert report.impact_start is not None and report.impact_start.strftime("%H:%M") == "17:30"
    detect, declare = report.milestone("detect"), report.milestone("declare")
    mitigate = report.milestone("mitigate")
    assert detect.at is not None and declare.at is not None and mitigate.at is not None
    assert declare.minutes is not None and mitigate.minutes is not None
    probe = report.first("probe")
    assert probe is not None
    assert detect.at <= probe.shown_at <= pressed_d <= declare.at <= declared
    # the keys, in the order pressed, at the moments pressed
    started = the_act(report, "revert.started")
    finished = the_act(report, "revert.finished")
    note = the_act(report, "note")
    action = the_act(report, "action.started")
    assert pressed_r <= started.at <= finished.at <= reverted
    assert "ok" in finished.text and "revert did nothing" in note.text and "failover" in action.text
    assert pressed_n <= note.at <= noted <= pressed_a <= action.at <= failed_over
    assert started.at - declare.at >= timedelta(minutes=REVERT_AFTER)
    # the revert came first and cleared nothing: the first lasting recovery followed the failover
    assert started.minutes is not None and action.minutes is not None
    assert declare.minutes <= started.minutes < action.minutes <= mitigate.minutes
    assert action.at <= mitigate.at
    # a partial recovery: the mobile probe kept failing to the end
    assert "mobile-files" in report.lingering, report.lingering
    assert "probe mobile-files" in report.still_failing
    assert not {f"probe {name}" for name in ("web-health", "session", "session-x4")} & set(
        report.still_failing
    )
    assert mitigate.real_minutes == 180
    md = report.files[0].read_text()
    assert "Partial recovery" in md and "mobile-files" in md
    lines = report_lines(report)
    assert any(line.startswith("Kept failing after") and "mobile-files" in line for line in lines)


# -- slow-dependency --------------------------------------------------------------------------

DECLARE_AFTER = 2.0  # scenario minutes between the probe going down and pressing d


async def test_slow_dependency_drill_declared_late_never_reverted(tmp_path: Path) -> None:
    scenario = find_scenario("slow-dependency", {})
    session = DrillSession(scenario, data_dir=tmp_path, speed=SLOW_SPEED, user="oncall-tester")
    app = cockpit_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: session.config is not None and app.cockpit is not None)
        await until(
            pilot,
            lambda: shown(session, "probe.down"),
            describe=lambda: repr([(e.kind, e.source) for e, _ in session.cockpit().shown]),
        )
        down_at = next(at for e, at in session.cockpit().shown if e.kind == "probe.down")
        await session.until_scenario(
            session.scenario_at(down_at) + timedelta(minutes=DECLARE_AFTER)
        )
        pressed_d = session.scenario_now()
        await declare_with_keys(pilot, app)
        declared = session.scenario_now()

        await until(pilot, lambda: shown(session, "recovered"))
        # s is pressed once the screen's timeline has the recovery: the form's default comes
        # from the view, which gets the event a round after the cockpit raised it.
        await until(
            pilot,
            lambda: (
                (view := app.last_view) is not None
                and view.incident is not None
                and recovery_time(view.timeline, view.status_times) is not None
            ),
            describe=lambda: repr(
                (
                    app.last_view and app.last_view.snapshot.at,
                    app.last_view and [(e.kind, e.at) for e in app.last_view.timeline][-6:],
                    app.last_view and app.last_view.status_times,
                    session.cockpit().view.snapshot.at,
                )
            ),
        )
        pressed_s = session.scenario_now()
        # The recovery the form offers (the latest on the screen's timeline), and when the
        # cockpit showed it.
        view = app.last_view
        assert view is not None
        verified = recovery_time(view.timeline, view.status_times)
        assert verified is not None
        verified_shown = next(
            at
            for e, at in session.cockpit().shown
            if e.kind == "recovered" and e.key == verified.key
        )
        await pilot.press("s")
        assert isinstance(app.screen, StatusScreen)
        # identified has the focus; resolved is two buttons on
        await pilot.press("tab", "tab", "enter")
        await until(pilot, lambda: session.cockpit().store.open_incident() is None)
        resolved = session.scenario_now()
        assert not isinstance(app.screen, StatusScreen)
        report = session.finish(app.last_view)
        await pilot.press("q")

    assert [f.fault for f in report.faults] == ["slow_dependency", "restore"]
    detect, declare = report.milestone("detect"), report.milestone("declare")
    recover = report.milestone("recover")
    assert detect.at is not None and declare.at is not None and recover.at is not None
    probe = report.first("probe")
    assert probe is not None and detect.at <= probe.shown_at
    # d was pressed two scenario minutes after the probe went down, and counts from then
    assert declare.at - probe.shown_at >= timedelta(minutes=DECLARE_AFTER)
    assert pressed_d <= declare.at <= declared
    # it recovered with the restore at 14:35, not with anything the responder did
    restore = report.faults[1]
    assert restore.at.strftime("%H:%M") == "14:35"
    assert recover.at >= restore.at
    assert [a.kind for a in report.acts if a.kind.startswith(("revert", "action"))] == []
    status = the_act(report, "status.resolved")
    # Recorded at the recovery the cockpit saw (the form's default), not when s was pressed.
    assert status.at <= pressed_s <= resolved
    assert abs((status.at - session.scenario_at(verified.at)).total_seconds()) < 1
    # Recovered counts from when the screen showed it; the status keeps the check's own time,
    # a moment before (the cockpit's refresh: real milliseconds, scenario minutes at 600x).
    assert recover.at == session.scenario_at(verified_shown)  # the recovery it was shown
    assert status.at <= recover.at
    assert report.still_failing == () and report.lingering == ()
    assert (declare.real_minutes, declare.best_minutes) == (5, 3)
