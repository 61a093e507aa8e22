"""Every widget and every screen, fed hostile text in every field that comes from outside:
nothing crashes, no markup is read, and none of the injected sequences reaches the bytes the
terminal would be sent. A screen class added to widgets/ and not walked here fails the test."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from pilot_wait import until
from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widgets._toast import Toast

import widgets
from cockpit.actions.guarded import RevertOutcome
from cockpit.actions.lock import LockHolder
from cockpit.actions.revert import RevertPlan
from cockpit.actions.runbook import ActionPlan
from cockpit.actions.runs import Run, RunStatus
from cockpit.actions.silence import plan_silence
from cockpit.alerts.view import alerts_view
from cockpit.app import CockpitApp
from cockpit.config.alerts import AlertmanagerConfig
from cockpit.detect.detector import Assessment
from cockpit.detect.probes import ProbeState, ProbeView
from cockpit.detect.routes import RouteShare
from cockpit.drill.report import Act, DrillReport, Milestone, Signal
from cockpit.hub import Snapshot
from cockpit.incident.declare import DeclareRequest
from cockpit.model import (
    Alert,
    Alerts,
    Category,
    Change,
    Deploy,
    Deploys,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    Incident,
    IncidentStatus,
    Matcher,
    ProbeResult,
    Route,
    RouteErrors,
    SentryIssue,
    SentryIssues,
    Silence,
    SourceStatus,
    TimelineEvent,
)
from cockpit.runtime import Cockpit, View
from cockpit.sentry.event import SentryEventDetail, SentryException, SentryFrame
from cockpit.term.textsafe import MARK, Inert
from cockpit.timeutil import utcnow
from cockpit.view.change_detail import change_detail
from widgets.alerts import AlertsScreen
from widgets.change_detail import ChangeDetailScreen
from widgets.drill_report import DrillReportScreen
from widgets.export_preview import ExportPreviewScreen
from widgets.header import CockpitHeader
from widgets.inert import toast
from widgets.modals import (
    ChoiceScreen,
    CorrectScreen,
    DeclareScreen,
    HelpScreen,
    NoteScreen,
    RevertScreen,
    StatusScreen,
)
from widgets.panels import Panel
from widgets.probe_detail import ProbeDetailScreen
from widgets.routes_detail import RoutesScreen
from widgets.run_screen import QuitScreen, RunScreen
from widgets.sentry_detail import SentryDetailScreen
from widgets.silence import SilenceScreen
from widgets.timeline import TimelineStrip
from widgets.timeline_view import TimelineScreen

NOW = utcnow()
# Distinctive sequences, none of which Textual itself writes in a frame: if any of them shows
# up in the bytes, it came from the hostile text.
INJECTED = (
    "\x1b]52;c;SElKQUNLRUQ=\x07",  # OSC 52: set the clipboard
    "\x1b]0;TITLE-PWN\x1b\\",  # OSC 0: window title
    "\x1b[?1049l",  # leave the alternate screen
    "\x1b[6n",  # ask for the cursor position (the answer is typed as input)
    "\x9b2J",  # 8-bit CSI: clear
    "\x1bP+q544e\x1b\\",  # DCS request
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u200b",  # ZERO WIDTH SPACE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\ufeff",  # BOM / ZERO WIDTH NO-BREAK SPACE
)
FORBIDDEN = (
    "\x1b]",
    "\x1bP",
    "\x9b",
    "\x9d",
    "\x90",
    "\x1b[?1049",
    "\x1b[6n",
    "SElKQUNLRUQ",
    "TITLE-PWN",
    "\u202e",
    "\u200b",
    "\u2066",
    "\ufeff",
)


def hostile_change() -> Change:
    return Change(
        kind=hostile("flag"),
        host=hostile("web-1"),
        what=Inert(hostile("what")),
        at=NOW,
        by=Inert(hostile("by")),
        source=hostile("src"),
        subject=hostile("subject"),
        paths=(hostile("path"),),
        detail=Inert(hostile("detail") + "\n" + hostile("line 2")),
    )


def hostile(word: str) -> str:
    """A field's text: markup that would crash Textual, markup that would be applied, and every
    injected sequence."""
    return f"{word} [/] [bold red]x[/bold red] [link=http://evil]y[/link] $error " + " ".join(
        INJECTED
    )


def frame(app: App[object]) -> str:
    """The bytes the terminal would be sent for the whole current screen, toasts included."""
    update = app.screen._compositor.render_update(full=True)  # the frame Textual writes
    return update.render_segments(app.console)


def assert_inert(app: App[object], where: str) -> str:
    shown = frame(app)
    leaked = [seq for seq in FORBIDDEN if seq in shown]
    assert not leaked, f"{where}: {leaked!r} reached the terminal"
    return shown


def hostile_view() -> View:
    since = NOW - timedelta(minutes=4)
    result = ProbeResult(
        name=hostile("probe"),
        kind="ftp",
        target=hostile("ftp://target"),
        concurrency=4,
        sessions_ok=1,
        ok=False,
        latency_ms=12.0,
        error=hostile("530 error"),
        at=NOW,
        detail=hostile("detail"),
    )
    probe = ProbeView(
        name=result.name,
        kind=result.kind,
        target=result.target,
        concurrency=4,
        state=ProbeState.DOWN,
        since=since,
        last=result,
        latencies=(10.0, 12.0, 30.0),
        only_under_concurrency=False,
        history=(result, result),
    )
    deploy = Deploy(
        hostile("service"),
        hostile("v2"),
        hostile("who"),
        NOW - timedelta(minutes=9),
        hostile("summary"),
        source=hostile("source"),
        reverts=hostile("v1"),
    )
    issue = SentryIssue(
        "1",
        hostile("WEB-1"),
        hostile("title"),
        hostile("level"),
        3,
        1,
        NOW,
        NOW,
        culprit=hostile("culprit"),
    )
    statuses = {
        "probe": SourceStatus(result.name, "ftp", Category.PROBE, Freshness.FRESH, NOW),
        "deploys": SourceStatus(
            hostile("deploy-src"),
            "jsonl",
            Category.DEPLOYS,
            Freshness.STALE,
            NOW,
            stale_since=since,
            reason=hostile("reason"),
            failures=2,
        ),
        "sentry": SourceStatus("sentry", "sentry", Category.SENTRY, Freshness.FRESH, NOW),
        "edge": SourceStatus("edge", "nginx_combined", Category.ERRORS, Freshness.FRESH, NOW),
        "alerts": SourceStatus("am", "alertmanager", Category.ALERTS, Freshness.FRESH, NOW),
    }
    route = Route(hostile("GET"), hostile("/path"), hostile("host"), hostile("upstream"))
    buckets = tuple(
        ErrorBucket(NOW - timedelta(seconds=10 * i), 20, 5, (RouteErrors(route, 502, 5),))
        for i in range(30, -1, -1)
    )
    readings = {
        "probe": result,
        "deploys": Deploys("deploys", (deploy,)),
        "sentry": SentryIssues("sentry", (issue,)),
        "edge": ErrorSeries("edge", 10, buckets, routes_known=True),
        "alerts": hostile_alerts(since),
    }
    incident = Incident(
        1,
        hostile("incident"),
        "SEV2",
        hostile("commander"),
        IncidentStatus.INVESTIGATING,
        since,
        summary=hostile("summary"),
    )
    assessment = Assessment(
        probes=(probe,),
        deploys=(deploy,),
        suspect=deploy,
        first_failure_at=since,
        blind_spot=hostile("blind"),
        blind_routes=(RouteShare(route, 5, 1.0, (502,)),),
        blind_probes=(hostile("probe"),),
        degraded=True,
    )
    timeline = (
        TimelineEvent(NOW, hostile("kind"), hostile("event"), source=hostile("src")),
        TimelineEvent(NOW, "note", hostile("note")),
    )
    return View(
        Snapshot(NOW, 1, statuses, readings),
        assessment,
        incident,
        timeline,
        runs=(hostile_run(RunStatus.RUNNING), hostile_run(RunStatus.UNKNOWN)),
        read_only=hostile("read-only because"),
        alerts=alerts_view([(statuses["alerts"], readings["alerts"])]),
    )


def hostile_alerts(since: datetime) -> Alerts:
    labels = (
        ("alertname", hostile("Alert")),
        ("instance", hostile("web-1")),
        ("severity", hostile("critical")),
        (hostile("label"), hostile("value")),
    )
    alert = Alert(
        "fp1",
        labels,
        (("summary", hostile("summary")), (hostile("note"), hostile("annotation"))),
        since,
        None,
        silenced_by=("s1",),
    )
    silence = Silence(
        "s1",
        (Matcher("instance", hostile("web-1")),),
        since,
        NOW + timedelta(hours=1),
        hostile("creator"),
        hostile("comment"),
    )
    return Alerts("am", (alert,), (silence,), unreachable=(hostile("member down"),))


def hostile_run(status: RunStatus, path: Path = Path("/nonexistent/run")) -> Run:
    return Run(
        path=path,
        id="run-1",
        kind="revert",
        service=hostile("svc"),
        describe=hostile("revert svc"),
        command_line=hostile("command"),
        timeout=5.0,
        user=hostile("user"),
        host=hostile("host"),
        created=NOW,
        dry_run=False,
        status=status,
        started=NOW,
        supervisor_pid=1,
        result={"ok": False, "reason": hostile("reason"), "output_tail": [hostile("tail")]},
    )


def hostile_detail() -> SentryEventDetail:
    frame_ = SentryFrame(
        filename=hostile("app.py"),
        function=hostile("handler"),
        module=hostile("mod"),
        lineno=10,
        colno=None,
        in_app=True,
        pre_context=(hostile("pre"),),
        context_line=hostile("line"),
        post_context=(hostile("post"),),
        platform="python",
    )
    cause = SentryException(hostile("Cause"), hostile("because"), "m", (frame_,))
    raised = SentryException(hostile("Error"), hostile("value"), "m", (frame_,))
    return SentryEventDetail(
        issue_id="1",
        short_id=hostile("WEB-1"),
        title=hostile("title"),
        event_id="e",
        platform=hostile("python"),
        permalink="https://sentry.example/issues/1/" + "".join(INJECTED),
        exception_type=hostile("Error"),
        exception_value=hostile("value"),
        frames=(frame_,),
        chain=(cause, raised),
        message=hostile("message"),
        culprit=hostile("culprit"),
        received_at=NOW,
        release=hostile("release"),
        environment=hostile("env"),
    )


def hostile_plan() -> RevertPlan:
    return RevertPlan(
        service=hostile("files-web"),
        from_version=hostile("2"),
        to_version=hostile("1"),
        argv=("deployctl", hostile("rollback")),
        preflight=(("deployctl", hostile("exists")),),
        timeout=30,
        dry_run=True,
    )


def hostile_report() -> DrillReport:
    return DrillReport(
        scenario=hostile("scenario"),
        title=hostile("drill"),
        speed=10,
        real_start=NOW,
        scenario_start=NOW,
        ended_at=NOW,
        impact_start=NOW,
        milestones=(Milestone("detected", "detect", NOW, 1.0, 30.0, 2.0),),
        signals=(Signal("probe", "probe.down", hostile("signal"), NOW, 1.0),),
        silent=(hostile("silent"),),
        acts=(Act("note", hostile("act"), NOW, 2.0),),
        faults=(),
        still_failing=(hostile("failing"),),
        lingering=(hostile("lingering"),),
    )


async def never() -> Cockpit:
    await asyncio.Event().wait()  # the sources never come up: the widgets are fed below
    raise AssertionError


class Host(CockpitApp):
    """The cockpit's own app (layout, footer, toasts, palette), fed a hostile view."""

    def __init__(self) -> None:
        super().__init__(never)

    def on_mount(self) -> None:
        super().on_mount()
        view = hostile_view()
        assert view.incident is not None
        self.query_one(CockpitHeader).show(
            service=hostile("service"),
            environment=hostile("env"),
            drill=True,
            incident=view.incident,
            degraded=True,
        )
        for panel in self.query(Panel):
            panel.show(view)
        self.query_one(TimelineStrip).show(view.timeline)


Walk = list[tuple[type[Screen[object]], Callable[[], Screen[object]]]]


def screens(view: View, tmp: Path) -> Walk:
    outcome = RevertOutcome(
        ok=False,
        exit_code=None,
        reason=hostile("HTTP 500"),
        output_tail=(hostile("out"),),
        started_at=NOW,
        finished_at=NOW,
        lock_holder=LockHolder(hostile("user"), 1, hostile("host"), NOW),
    )

    def revert() -> Screen[object]:
        screen = RevertScreen(hostile_plan())

        def later() -> None:
            screen.add_output(hostile("output line") + "\nsecond \x1b[2J line")
            screen.finish(outcome)

        screen.call_after_refresh(later)
        return screen

    def watch(status: RunStatus) -> Callable[[], Screen[object]]:
        def make() -> Screen[object]:
            screen = RunScreen(hostile_run(status, tmp))

            def later() -> None:
                screen.add_output(hostile("output line"))
                screen.show_run(hostile_run(RunStatus.FINISHED, tmp))
                screen.finish(outcome)

            screen.call_after_refresh(later)
            return screen

        return make

    action = ActionPlan(hostile("svc"), hostile("failover"), ("x", hostile("y")), (), 5, True)
    request = DeclareRequest(
        hostile("title"), "SEV2", hostile("commander"), hostile("summary"), NOW
    )
    return [
        (DeclareScreen, lambda: DeclareScreen(request)),
        (RevertScreen, revert),
        (RevertScreen, lambda: RevertScreen(action)),
        (NoteScreen, NoteScreen),
        (HelpScreen, lambda: HelpScreen([(hostile("k"), hostile("help"))], read_only=True)),
        (StatusScreen, lambda: StatusScreen(IncidentStatus.INVESTIGATING, 2)),
        (
            StatusScreen,
            lambda: StatusScreen(
                IncidentStatus.IDENTIFIED,
                recovered=TimelineEvent(NOW, "recovered", hostile("recovered at")),
                focus=IncidentStatus.MITIGATED,
            ),
        ),
        (CorrectScreen, lambda: CorrectScreen({"impact-start": NOW, "declared": None})),
        (
            ChoiceScreen,
            lambda: ChoiceScreen(hostile("Run an action on"), [(hostile("a"), hostile("fail"))]),
        ),
        (ProbeDetailScreen, lambda: ProbeDetailScreen(view.assessment.probes[0].name, view)),
        (RoutesScreen, lambda: RoutesScreen(view)),
        (
            ChangeDetailScreen,
            lambda: ChangeDetailScreen(
                change_detail(view.assessment, hostile_change(), Inert(hostile("no revert")))
            ),
        ),
        (AlertsScreen, lambda: AlertsScreen(view, view.alerts.groups[0].key)),
        (
            SilenceScreen,
            lambda: SilenceScreen(
                plan_silence(
                    AlertmanagerConfig("am", ("http://127.0.0.1:9",)),
                    view.alerts.alerts,
                    view.alerts.alerts,
                    hostile("creator"),
                ),
                view.alerts.alerts,
            ),
        ),
        (SentryDetailScreen, lambda: SentryDetailScreen(hostile_detail(), env={"SSH_TTY": "x"})),
        (TimelineScreen, lambda: TimelineScreen(view.timeline, title=hostile("T"), now=NOW)),
        (
            ExportPreviewScreen,
            lambda: ExportPreviewScreen(
                hostile("# draft") + "\n" + hostile("- line"), tmp / hostile("x.md")
            ),
        ),
        (DrillReportScreen, lambda: DrillReportScreen(hostile_report())),
        (RunScreen, watch(RunStatus.RUNNING)),
        (RunScreen, watch(RunStatus.UNKNOWN)),
        (QuitScreen, lambda: QuitScreen(hostile_run(RunStatus.RUNNING))),
    ]


def screen_classes() -> set[type[Screen[object]]]:
    found: set[type[Screen[object]]] = set()
    for info in pkgutil.iter_modules(widgets.__path__, prefix="widgets."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == info.name:
                found.add(cls)
    return found


def test_every_screen_class_is_walked(tmp_path: Path) -> None:
    from widgets.screen import CockpitScreen

    # The main screen holds the panels: tests/tui/test_hostile_sources.py walks it with the
    # whole app against hostile servers.
    walked = {cls for cls, _ in screens(hostile_view(), tmp_path)} | {CockpitScreen}
    missing = {cls.__name__ for cls in screen_classes() - walked}
    assert not missing, f"add these screens to the hostile walk: {sorted(missing)}"


async def test_hostile_text_everywhere_stays_inert(tmp_path: Path) -> None:
    view = hostile_view()
    for size in ((80, 24), (140, 44)):
        app = Host()
        async with app.run_test(size=size, notifications=True, tooltips=True) as pilot:
            await pilot.pause()
            shown = assert_inert(app, f"main screen at {size}")
            assert "[/]" in shown and "[bold red]x[/bold red]" in shown  # literal, not applied
            assert MARK in shown
            assert "BLIND SPOT" in shown

            # Toasts: through the helper and straight through notify, markup on or off.
            toast(app, view.timeline[0].text)  # type: ignore[arg-type]
            app.notify(hostile("raw notify"), title=hostile("title"))  # type: ignore[arg-type]
            app.notify(hostile("markup notify"), markup=True)  # type: ignore[arg-type]
            await until(pilot, lambda a=app: len(a.screen.query(Toast)) == 3)
            assert_inert(app, "toasts")
            said = [toast.render().plain for toast in app.screen.query(Toast)]
            assert any("raw notify [/]" in text for text in said), said
            app.clear_notifications()

            for cls, make in screens(view, tmp_path):
                screen = make()
                await app.push_screen(screen)
                await pilot.pause()
                await pilot.pause()
                assert app.screen is screen, cls.__name__
                assert_inert(app, f"{cls.__name__} at {size}")
                await app.pop_screen()
                await pilot.pause()

            # The command palette, with hostile text pasted into its input.
            app.action_command_palette()
            await until(pilot, lambda a=app: type(a.screen).__name__ == "CommandPalette")
            app.post_message(events.Paste(hostile("pasted")))
            await pilot.pause()
            await pilot.pause()
            assert_inert(app, "command palette")
            assert app.is_running
