"""The Textual app: wires the headless Cockpit to the widgets, keys to actions."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Hits, Provider
from textual.containers import Grid
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from cockpit.config.sections import KeysSection
from cockpit.model import IncidentStatus
from cockpit.textsafe import Inert, one_line
from widgets.footer import KeysFooter
from widgets.header import CockpitHeader
from widgets.inert import EMPTY, clip, hit, toast
from widgets.panels import DeploysPanel, ErrorsPanel, Panel, ProbesPanel, SentryPanel
from widgets.timeline import TimelineStrip

# The headless core and the modal screens (with the form widgets they pull in) load when first
# needed: the first frame shows the layout before any of it.
if TYPE_CHECKING:
    from cockpit.config.loader import Config
    from cockpit.runtime import Cockpit, View
    from widgets.modals import RevertScreen

CockpitFactory = Callable[[], Awaitable["Cockpit"]]
WRITES = ("declare", "revert", "note", "status", "runbook")

# In the footer at 80 columns only the keys of the job; all of them are in the help (?).
FOOTER = ("declare", "revert", "export", "note", "status", "help", "quit")
ACTIONS = (
    ("declare", "Declare", "declare an incident"),
    ("revert", "Revert", "revert the latest deploy (plan, typed confirmation, lock, audit)"),
    ("export", "Export", "write the incident's timeline draft (Markdown)"),
    ("note", "Note", "add a note to the timeline"),
    ("runbook", "Action", "run a runbook action of the service (e.g. failover), guarded like R"),
    ("status", "Status", "incident status: identified, mitigated, resolved; retry notifications"),
    ("timeline", "Timeline", "the whole timeline, scrollable, filtered by kind (f)"),
    ("zoom", "Zoom", "5xx graph window: 5 min, 30 min, 3 h"),
    ("help", "Help", "this help"),
    ("quit", "Quit", "quit (the incident and its timeline are kept)"),
)


class FaultCommands(Provider):
    """In a drill or the demo: break the world on purpose, now ("Inject fault: ...")."""

    async def search(self, query: str) -> Hits:
        app = self.app
        if not isinstance(app, CockpitApp) or app.world_dir() is None:
            return
        from cockpit.drill.scenario import FAULTS

        matcher = self.matcher(query)
        for name, text in FAULTS.items():
            command = one_line(f"Inject fault: {name}")
            score = matcher.match(command)
            if score > 0:
                yield hit(score, matcher, command, partial(app.inject, name), help=one_line(text))


class CockpitApp(App[int]):
    CSS_PATH = Path(__file__).parent.parent / "widgets" / "cockpit.tcss"
    TITLE = "oncall-cockpit"
    COMMANDS = App.COMMANDS | {FaultCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(getattr(KeysSection(), action), action, label, id=action, show=action in FOOTER)
        for action, label, _ in ACTIONS
    ]

    def __init__(
        self,
        factory: CockpitFactory,
        *,
        keys: KeysSection | None = None,
        read_only: bool = False,
        ascii_only: bool = False,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ):
        super().__init__()
        self.factory = factory
        self.keys = keys or KeysSection()
        self.read_only = read_only
        self.ascii_only = ascii_only
        self.on_close = on_close
        # Before mounting: the footer is composed once with the right keys.
        self.set_keymap({action: key for action, key in vars(self.keys).items()})
        self.cockpit: Cockpit | None = None
        self.last_view: View | None = None
        self._graph_width = 0

    def compose(self) -> ComposeResult:
        yield CockpitHeader(read_only=self.read_only, id="header")
        with Grid(id="panels"):
            yield ProbesPanel(ascii_only=self.ascii_only, id="probes")
            yield DeploysPanel(ascii_only=self.ascii_only, id="deploys")
            yield ErrorsPanel(ascii_only=self.ascii_only, id="errors")
            yield SentryPanel(ascii_only=self.ascii_only, id="sentry")
        yield TimelineStrip(id="timeline")
        yield KeysFooter(show_command_palette=False)  # ctrl+p is in the help: room for the keys

    def get_key_display(self, binding: Binding) -> str:
        if self.ascii_only and binding.key == "enter":
            return "Enter"  # no glyphs an ASCII terminal cannot show, in the footer either
        return one_line(super().get_key_display(binding), 40)  # keys come from the config

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Paste):
            # Pasted text is outside text too (a copied page can hold escape sequences and bidi
            # controls): Inert before any input, the palette's included, sees it.
            event.text = Inert(event.text)
        await super().on_event(event)

    def notify(  # type: ignore[override]
        self,
        message: Inert,
        *,
        title: Inert = EMPTY,
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast, ours or Textual's: made Inert and never read as markup."""
        super().notify(
            Inert(message), title=Inert(title), severity=severity, timeout=timeout, markup=False
        )

    def on_mount(self) -> None:
        self.set_class(self.ascii_only, "-ascii")
        self.call_after_refresh(self.feed)  # the layout first, then the sources

    # -- data in -------------------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def feed(self) -> None:
        self.cockpit = await self.factory()
        from cockpit.selfreport import init_self_report, secrets_in

        # Inside the running loop, so that errors in asyncio tasks are caught too.
        config = self.cockpit.config
        init_self_report(config.cockpit.self_report_dsn, secrets=secrets_in(config))
        self.cockpit.record("cockpit.open", "opened the cockpit")
        self.refresh_bindings()
        async for view in self.cockpit.views():
            self.show(view)

    def show(self, view: View) -> None:
        self.last_view = view
        assert self.cockpit is not None
        section = self.cockpit.config.cockpit
        self.query_one(CockpitHeader).show(
            service=section.service,
            environment=section.environment,
            drill=self.cockpit.drill,
            incident=view.incident,
            degraded=view.assessment.degraded,
        )
        for panel in self.query(Panel):
            try:
                panel.show(view)
            except Exception as exc:  # one panel's bug must not take the screen down
                self.panel_failed(panel, exc)
        self.query_one(TimelineStrip).show(view.timeline[-20:])
        graph_width = self.query_one(ErrorsPanel).content_region.width
        if graph_width != self._graph_width:  # after start and after a resize
            self._graph_width = graph_width
            self.cockpit.fit_graph(graph_width)
        live = getattr(self.screen, "show", None)  # detail screens follow the live view
        if live is not None and self.screen is not self.screen_stack[0]:
            live(view)

    def on_panel_chosen(self, message: Panel.Chosen) -> None:
        if self.last_view is None:
            return
        if isinstance(message.panel, ProbesPanel):
            from widgets.probe_detail import ProbeDetailScreen

            self.push_screen(ProbeDetailScreen(message.key, self.last_view))
        elif isinstance(message.panel, SentryPanel):
            self.open_sentry_issue(message.key)

    @work(exclusive=True, group="sentry-detail", exit_on_error=False)
    async def open_sentry_issue(self, issue_id: str) -> None:
        """The latest event of an issue, fetched through its source's client (which shares the
        source's rate-limit state)."""
        from cockpit.model import Category, SentryIssues
        from cockpit.sentry_event import fetch_detail
        from widgets.sentry_detail import SentryDetailScreen

        if self.cockpit is None or self.last_view is None:
            return
        for _, reading in self.last_view.snapshot.of(Category.SENTRY):
            if not isinstance(reading, SentryIssues):
                continue
            issue = next((i for i in reading.issues if i.id == issue_id), None)
            source = next((s for s in self.cockpit.hub.sources if s.name == reading.source), None)
            if issue is None or source is None:
                continue
            toast(self, one_line(f"fetching the latest event of {issue.short_id}"), timeout=3)
            try:
                detail = await fetch_detail(source.cfg, issue, client=source.client)  # type: ignore[attr-defined]
            except Exception as exc:
                toast(
                    self,
                    one_line(f"cannot fetch {issue.short_id}: {exc}", 300),
                    severity="error",
                    timeout=15,
                )
                return
            await self.push_screen(SentryDetailScreen(detail))
            return

    def panel_failed(self, panel: Panel, exc: Exception) -> None:
        from cockpit.selfreport import report_exception

        report_exception(exc)  # reported, and shown: never swallowed
        panel.set_border(subtitle=one_line(f"panel error: {exc}", 80))
        panel.add_class("-stale")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            from cockpit.selfreport import report_exception

            if event.worker.error is not None:
                report_exception(event.worker.error)
        if event.state is WorkerState.ERROR and event.worker.group == "feed":
            error = event.worker.error
            message = one_line(str(error), 200) or type(error).__name__
            toast(
                self, one_line(f"cockpit stopped updating: {message}"), severity="error", timeout=30
            )
            self.query_one(CockpitHeader).service = f"error: {message}"

    # -- keys ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITES and self.read_only:
            return False  # hidden from the footer: read-only mode disables them entirely
        if action in (*WRITES, "export", "timeline") and self.cockpit is None:
            return None  # shown disabled until the sources are up
        if action == "status" and (self.last_view is None or self.last_view.incident is None):
            return None  # nothing to move along yet
        return True

    def action_help(self) -> None:
        rows = [(self.keys_label(action), text) for action, _, text in ACTIONS]
        rows += [
            ("tab", "move between the probe and Sentry panels"),
            ("up/down, enter", "pick a probe or an issue and open its details"),
            ("ctrl+p", "command palette (in a drill or the demo: inject a fault)"),
        ]
        from widgets.modals import HelpScreen

        self.push_screen(HelpScreen(rows, self.read_only))

    def keys_label(self, action: str) -> str:
        key = getattr(self.keys, action)
        return self.get_key_display(Binding(key, action))

    def world_dir(self) -> Path | None:
        """The drill world this cockpit watches, when it runs one (demo, drills)."""
        from cockpit.world.control import CONTROL_FILE

        config = self.cockpit.config if self.cockpit is not None else None
        if config is None or not config.cockpit.drill or config.path is None:
            return None
        directory = config.path.parent
        return directory if (directory / CONTROL_FILE).exists() else None

    @work(group="inject", exit_on_error=False)
    async def inject(self, fault: str) -> None:
        from cockpit.world.control import ControlError, send_fault

        directory = self.world_dir()
        if directory is None or self.cockpit is None:
            return
        try:
            await asyncio.to_thread(send_fault, directory, fault)
        except ControlError as exc:
            toast(self, one_line(f"inject {fault}: {exc}"), severity="error", timeout=10)
            return
        self.cockpit.record("drill.inject", f"injected fault {fault}")
        self.show(self.cockpit.view)
        toast(self, one_line(f"fault {fault} injected"), title=Inert("Drill"), timeout=5)

    def action_zoom(self) -> None:
        window = self.query_one(ErrorsPanel).cycle_zoom()
        toast(self, Inert(f"5xx graph: last {window}"), timeout=2)

    def action_declare(self) -> None:
        assert self.cockpit is not None
        incident = self.cockpit.view.incident
        if incident is not None:
            toast(self, one_line(f"incident #{incident.id} is already open: {incident.title}"))
            return
        from widgets.modals import DeclareScreen

        self.push_screen(DeclareScreen(self.cockpit.declare_request()), self._declared)

    def _declared(self, request: object) -> None:
        from cockpit.actions.declare import DeclareRequest

        if not isinstance(request, DeclareRequest) or self.cockpit is None:
            return
        try:
            incident = self.cockpit.declare(request)
        except Exception as exc:
            toast(self, one_line(f"declare failed: {exc}"), severity="error", timeout=15)
            return
        self.show(self.cockpit.view)
        toast(self, one_line(f"incident #{incident.id} declared ({incident.severity})"), timeout=8)

    def action_note(self) -> None:
        from widgets.modals import NoteScreen

        self.push_screen(NoteScreen(), self._noted)

    def _noted(self, text: str | None) -> None:
        if text and self.cockpit is not None:
            self.cockpit.note(text)
            self.show(self.cockpit.view)

    def action_revert(self) -> None:
        from cockpit.actions.revert import RevertError

        assert self.cockpit is not None
        try:
            plan = self.cockpit.plan_revert()
        except RevertError as exc:
            toast(self, one_line(f"cannot revert: {exc}"), severity="error", timeout=15)
            return
        from widgets.modals import RevertScreen

        self.push_screen(RevertScreen(plan), self._revert_closed)

    def action_runbook(self) -> None:
        assert self.cockpit is not None
        names = self.cockpit.action_names()
        if not names:
            service = self.cockpit.revert_target()
            toast(
                self,
                one_line(
                    f"no runbook actions for {service}: add actions = {{...}} to its [[services]]"
                ),
                severity="warning",
                timeout=10,
            )
            return
        choices = [(name, name) for name in names]
        from widgets.modals import ChoiceScreen

        self.push_screen(
            ChoiceScreen(f"Run an action on {self.cockpit.revert_target()}", choices),
            self._runbook_chosen,
        )

    def _runbook_chosen(self, name: str | None) -> None:
        from cockpit.actions.revert import RevertError

        if name is None or self.cockpit is None:
            return
        try:
            plan = self.cockpit.plan_action(name)
        except RevertError as exc:
            toast(self, one_line(f"cannot run {name}: {exc}"), severity="error", timeout=15)
            return
        from widgets.modals import RevertScreen

        self.push_screen(RevertScreen(plan), self._revert_closed)

    def _revert_closed(self, result: bool | None) -> None:
        if self.cockpit is not None:
            self.show(self.cockpit.view)

    async def on_revert_screen_confirmed(self, message: RevertScreen.Confirmed) -> None:
        self.run_revert(message.screen)

    @work(exclusive=True, group="revert", exit_on_error=False)
    async def run_revert(self, screen: RevertScreen) -> None:
        from cockpit.actions.revert import RevertPlan

        assert self.cockpit is not None
        plan = screen.plan
        if isinstance(plan, RevertPlan):
            outcome = await self.cockpit.revert(plan, on_output=screen.add_output)
        else:
            outcome = await self.cockpit.run_action(plan, on_output=screen.add_output)
        screen.finish(outcome)
        self.show(self.cockpit.view)

    def action_status(self) -> None:
        assert self.cockpit is not None
        incident = self.cockpit.view.incident
        if incident is None:
            toast(self, Inert("no open incident: declare one first"), severity="warning")
            return
        from widgets.modals import StatusScreen

        self.push_screen(
            StatusScreen(incident.status, self.cockpit.failed_notifications()), self._status_chosen
        )

    def _status_chosen(self, choice: object) -> None:
        if self.cockpit is None or choice is None:
            return
        if choice == "retry":
            self.retry_notifications()
            return
        try:
            incident = self.cockpit.set_status(IncidentStatus(str(choice)))
        except Exception as exc:
            toast(self, one_line(f"status change failed: {exc}"), severity="error")
            return
        self.show(self.cockpit.view)
        toast(self, Inert(f"incident #{incident.id} is {incident.status}"), timeout=5)

    @work(exclusive=True, group="notify", exit_on_error=False)
    async def retry_notifications(self) -> None:
        assert self.cockpit is not None
        await self.cockpit.retry_notifications()
        left = self.cockpit.failed_notifications()
        toast(
            self,
            Inert(f"{left} notification(s) still failing" if left else "notifications sent"),
            severity="warning" if left else "information",
        )
        self.show(self.cockpit.view)

    def action_timeline(self) -> None:
        from widgets.timeline_view import TimelineScreen

        assert self.cockpit is not None
        incident = self.cockpit.view.incident
        if incident is not None:
            events = self.cockpit.store.incident_events(incident)
            title = f"Timeline of incident #{incident.id}: {incident.title}"
        else:
            events = list(self.cockpit.view.timeline)
            title = "Timeline (no open incident)"
        self.push_screen(TimelineScreen(events, title=title))

    def action_export(self) -> None:
        from cockpit.incident.export import export_dir
        from widgets.export_preview import ExportPreviewScreen

        assert self.cockpit is not None
        try:
            draft = self.cockpit.draft()
        except LookupError as exc:
            toast(self, one_line(exc), severity="warning", timeout=10)
            return

        def saved(save: bool | None) -> None:
            if save:
                self._write_export(draft)

        self.push_screen(ExportPreviewScreen(draft, export_dir(self.cockpit.data_dir)), saved)

    def _write_export(self, draft: str) -> None:
        assert self.cockpit is not None
        paths = self.cockpit.export(("md", "json"))
        # OSC 52: the terminal puts it on the clipboard of the engineer's own machine, over SSH.
        clip(self, Inert(draft))
        self.show(self.cockpit.view)
        toast(
            self,
            one_line(
                f"timeline draft written to {paths[0]} (and copied to the clipboard where the "
                "terminal allows)"
            ),
            title=Inert("Exported"),
            timeout=20,
        )

    async def action_quit(self) -> None:
        if self.cockpit is not None:
            # Who was watching, and until when, belongs in the postmortem too.
            self.cockpit.record("cockpit.quit", "left the cockpit")
        self.exit(0)

    async def on_unmount(self) -> None:
        from cockpit.selfreport import shutdown_self_report

        if self.cockpit is not None:
            await self.cockpit.aclose()
        if self.on_close is not None:
            await self.on_close()
        shutdown_self_report()


def run_tui(
    *,
    config: Config | None,
    data_dir: Path,
    read_only: bool = False,
    ascii: bool = False,
    bad_deploy_after: float = 20.0,
) -> int:
    """The TUI on a loaded config, or (config None) on a freshly started drill world."""
    ascii_only = ascii or (config is not None and config.cockpit.ascii)
    on_close: Callable[[], Awaitable[None]] | None = None
    if config is not None:
        loaded = config

        async def factory() -> Cockpit:
            from cockpit.runtime import Cockpit

            return Cockpit(loaded, data_dir, read_only=read_only)

    else:
        from cockpit.world_process import WorldProcess

        world = WorldProcess(bad_deploy_after=bad_deploy_after)

        async def factory() -> Cockpit:
            directory = await world.start()  # the screen paints while the world boots
            from cockpit.config.loader import load
            from cockpit.runtime import Cockpit

            return Cockpit(load(directory), data_dir, read_only=read_only)

        on_close = world.stop
    keys = config.keys if config is not None else None
    return run_app(
        factory, keys=keys, read_only=read_only, ascii_only=ascii_only, on_close=on_close
    )


def run_app(
    factory: CockpitFactory,
    *,
    keys: KeysSection | None = None,
    read_only: bool = False,
    ascii_only: bool = False,
    on_close: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """The TUI on any cockpit the factory builds (drills build theirs on a scenario's world)."""
    from cockpit.termcaps import detect

    # Exported COLUMNS/LINES would pin the size: the screen must follow the terminal's resizes.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    app = CockpitApp(
        factory,
        keys=keys,
        read_only=read_only,
        ascii_only=ascii_only or not detect().unicode,
        on_close=on_close,
    )
    return int(app.run() or 0)
