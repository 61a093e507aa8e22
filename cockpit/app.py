"""The Textual app: wires the headless Cockpit to the widgets, keys to actions.

Nothing here waits for the incident store on the event loop: store calls are awaited in
workers (the store runs on its own thread), so a locked or broken store never freezes the keys
or the panels. A revert or action runs in its own supervisor process: quitting, a hangup or a
SIGTERM leave it running (and audited) to its end; `q` asks first, a signal just detaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Hits, Provider
from textual.containers import Grid
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cockpit.config.sections import KeysSection
from cockpit.keys import ACTIONS_BY_NAME, on_screen
from cockpit.states import IncidentStatus
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_hms
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.footer import KeysFooter
from widgets.header import CockpitHeader
from widgets.inert import EMPTY, clip, hit, listed, plain, toast
from widgets.keys import bindings, keymap
from widgets.panels import ChangesPanel, ErrorsPanel, Panel, ProbesPanel, SentryPanel
from widgets.timeline import TimelineStrip

# The headless core and the modal screens (with the form widgets they pull in) load when first
# needed: the first frame shows the layout before any of it.
if TYPE_CHECKING:
    from cockpit.actions.lock import LockHolder
    from cockpit.actions.runs import Run
    from cockpit.config.loader import Config
    from cockpit.drill.session import DrillSession
    from cockpit.model import Change, TimelineEvent
    from cockpit.runtime import Cockpit, View
    from widgets.modals import RevertScreen
    from widgets.silence import SilenceRequest

CockpitFactory = Callable[[], Awaitable["Cockpit"]]
DETACH_GRACE = 12.0  # seconds a cockpit told to go (SIGHUP, SIGTERM) has to close cleanly
T = TypeVar("T")


class _ListedCommands(Provider):
    """A palette provider over a list of (command, run, help): all listed when nothing is
    typed; matched on the command, and on the help at `HELP_WEIGHT` of the score."""

    HELP_WEIGHT = 0.0

    def _commands(self) -> list[tuple[Inert, Callable[[], object], Inert]]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for command, run, text in self._commands():
            yield listed(command, run, help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command, run, text in self._commands():
            score = max(matcher.match(command), matcher.match(text) * self.HELP_WEIGHT)
            if score > 0:
                yield hit(score, matcher, command, run, help=text)


class ActionCommands(_ListedCommands):
    """Every action of the cockpit, with the key that does the same."""

    HELP_WEIGHT = 0.8

    def _commands(self) -> list[tuple[Inert, Callable[[], object], Inert]]:
        app = self.app
        if not isinstance(app, CockpitApp):
            return []
        return [
            (
                one_line(f"{spec.label} ({app.keys_label(spec.name)})"),
                partial(app.run_action, spec.action),
                one_line(spec.description),
            )
            for spec in on_screen("main")
        ]


class FaultCommands(_ListedCommands):
    """In a drill or the demo: break the world on purpose, now ("Inject fault: ...")."""

    def _commands(self) -> list[tuple[Inert, Callable[[], object], Inert]]:
        app = self.app
        if not isinstance(app, CockpitApp) or app.world_dir() is None:
            return []
        from cockpit.drill.scenario import FAULTS

        return [
            (one_line(f"Inject fault: {name}"), partial(app.inject, name), one_line(text))
            for name, text in FAULTS.items()
        ]


class CockpitApp(App[int]):
    CSS_PATH = Path(__file__).parent.parent / "widgets" / "cockpit.tcss"
    TITLE = "oncall-cockpit"
    COMMANDS = App.COMMANDS | {ActionCommands, FaultCommands}
    # From the action registry (cockpit/keys.py). Read-only: a write key is disabled (dimmed
    # in the footer), and pressing it says why instead of doing nothing without a word.
    BINDINGS: ClassVar[list[BindingType]] = [*bindings("main")]

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
        from widgets.glyphs import use

        use(ascii_only)  # before composing: text built for the panels is folded already
        self.on_close = on_close
        # Before mounting: the footer is composed once with the right keys.
        self.set_keymap(keymap(self.keys))
        self.cockpit: Cockpit | None = None
        self.last_view: View | None = None
        self._graph_width = 0
        self._read_only_shown = read_only
        self._unsaved_action = ""  # a declare or status change the store has not taken yet

    def get_default_screen(self) -> Screen[Any]:
        from widgets.screen import CockpitScreen

        return CockpitScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield CockpitHeader(read_only=self.read_only, id="header")
        yield AlertsPanel(ascii_only=self.ascii_only, id="alerts")
        with Grid(id="panels"):
            yield ProbesPanel(ascii_only=self.ascii_only, id="probes")
            yield ChangesPanel(ascii_only=self.ascii_only, id="deploys")
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
            plain(Inert(message)),
            title=plain(Inert(title)),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_mount(self) -> None:
        self.set_class(self.ascii_only, "-ascii")
        from widgets.glyphs import ascii_scrollbars, use

        use(self.ascii_only)
        if self.ascii_only:
            ascii_scrollbars()
        if self.no_color:
            from widgets.nocolor import NO_COLOR_THEME

            self.register_theme(NO_COLOR_THEME)
            self.theme = NO_COLOR_THEME.name
        self.call_after_refresh(self.feed)  # the layout first, then the sources
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            # The terminal went away (SSH dropped) or someone asked us to stop: leave at once,
            # recording it; a revert in progress runs on in its own process.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, partial(self.detach, sig))

    def detach(self, sig: signal.Signals) -> None:
        if sig is signal.SIGHUP:
            # The terminal is gone: what is still written (the screen's teardown) goes nowhere
            # instead of failing with EIO in Textual's writer thread.
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                with contextlib.suppress(OSError):
                    os.dup2(devnull, fd)
            os.close(devnull)
        if self.cockpit is not None:
            running = [r for r in (self.last_view.runs if self.last_view else ()) if r.active]
            still = f"; {running[0].describe} runs on in its own process" if running else ""
            self.cockpit.record("cockpit.quit", f"left the cockpit ({sig.name}){still}")
        self.exit(0)
        # Textual's teardown waits on its output thread, which a terminal that went away may
        # have stopped: the cockpit leaves all the same (the store was flushed on unmount, and
        # a revert runs in its own process).
        import threading

        watchdog = threading.Timer(DETACH_GRACE, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()

    # -- data in -------------------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def feed(self) -> None:
        self.cockpit = await self.factory()
        from cockpit.crash_report import init_self_report, secrets_in

        # Inside the running loop, so that errors in asyncio tasks are caught too.
        config = self.cockpit.config
        init_self_report(config.cockpit.self_report_dsn, secrets=secrets_in(config))
        self.cockpit.record("cockpit.open", "opened the cockpit")
        self.refresh_bindings()
        if self.cockpit.drill and self.cockpit.data_dir is not None:
            toast(self, Inert(data_dir_said(self.cockpit)), title=Inert("Drill"), timeout=12)
        async for view in self.cockpit.views():
            try:
                self.show(view)
            except Exception as exc:  # one bad frame must not stop the feed
                from cockpit.crash_report import report_exception

                report_exception(exc)

    def show(self, view: View) -> None:
        self.last_view = view
        assert self.cockpit is not None
        section = self.cockpit.config.cockpit
        header = self.query_one(CockpitHeader)
        header.show(
            service=section.service,
            environment=section.environment,
            drill=self.cockpit.drill,
            incident=view.incident,
            degraded=view.assessment.degraded,
            status_times=view.status_times,
            alerts=view.alerts.firing,
            incident_known=view.incident_known,
            degraded_words=view.panels.header.degraded,
        )
        header.set_notices(
            notices(
                view, self._unsaved_action, self.keys_label("watch"), self.keys_label("mitigate")
            )
        )
        read_only = bool(view.read_only)
        if read_only != self._read_only_shown:
            self._read_only_shown = read_only
            header.set_read_only(read_only)
            self.refresh_bindings()
        for panel in self.query(Panel):
            try:
                panel.show(view)
            except Exception as exc:  # one panel's bug must not take the screen down
                self.panel_failed(panel, exc)
        self.query_one(TimelineStrip).show(view.timeline[-20:], unsaved=view.unsaved)
        graph_width = self.query_one(ErrorsPanel).content_region.width
        if graph_width != self._graph_width:  # after start and after a resize
            self._graph_width = graph_width
            self.cockpit.fit_graph(graph_width)
        live = getattr(self.screen, "show", None)  # detail screens follow the live view
        if live is not None and self.screen is not self.screen_stack[0]:
            live(view)

    def on_probes_panel_probe_chosen(self, message: ProbesPanel.ProbeChosen) -> None:
        if self.last_view is not None:
            from widgets.probe_detail import ProbeDetailScreen

            self.push_screen(ProbeDetailScreen(message.name, self.last_view))

    def on_sentry_panel_issue_chosen(self, message: SentryPanel.IssueChosen) -> None:
        self.open_sentry_issue(message.issue_id)

    def on_errors_panel_routes_chosen(self, _: ErrorsPanel.RoutesChosen) -> None:
        if self.last_view is not None:
            from widgets.routes_detail import RoutesScreen

            self.push_screen(RoutesScreen(self.last_view))

    def on_changes_panel_change_chosen(self, message: ChangesPanel.ChangeChosen) -> None:
        view = self.last_view
        if view is None or self.cockpit is None:
            return
        from cockpit.actions.revert import RevertError
        from cockpit.runtime import ReadOnlyError
        from cockpit.view.change_detail import change_detail, find_change
        from widgets.change_detail import ChangeDetailScreen

        change = find_change(view.assessment, message.key)
        if change is None:
            return
        try:
            plan = self.cockpit.plan_change_revert(change)
            revert = f"{plan.describe()}\n{plan.command_line()}"
        except (RevertError, ReadOnlyError) as exc:
            revert = f"no revert: {exc}"
        self.push_screen(ChangeDetailScreen(change_detail(view.assessment, change, revert)))

    def on_alerts_panel_alert_chosen(self, message: AlertsPanel.AlertChosen) -> None:
        if self.last_view is not None:
            self.push_screen(AlertsScreen(self.last_view, message.key))

    def on_alerts_screen_silence_asked(self, message: AlertsScreen.SilenceAsked) -> None:
        from cockpit.actions.silence import SilenceRefused
        from cockpit.runtime import ReadOnlyError
        from widgets.silence import SilenceScreen

        if self.cockpit is None or self.last_view is None:
            return
        try:
            plan = self.cockpit.plan_silence(message.fingerprint, message.whole_group)
        except (ReadOnlyError, SilenceRefused) as exc:
            toast(self, one_line(f"not silenced: {exc}"), severity="warning", timeout=8)
            return
        alerts = [a for a in self.last_view.alerts.alerts if a.source == plan.source]
        self.push_screen(SilenceScreen(plan, alerts), self._silence_chosen)

    def _silence_chosen(self, request: SilenceRequest | None) -> None:
        self.make_silence(request)

    @work(group="silence", exit_on_error=False)
    async def make_silence(self, request: SilenceRequest | None) -> None:
        if request is None or self.cockpit is None:
            return
        try:
            made = await self.cockpit.silence(request.plan, request.comment, request.minutes)
        except Exception as exc:  # refused, read-only, or no member took it: said, not raised
            toast(self, one_line(f"not silenced: {exc}", 300), severity="error", timeout=10)
            return
        toast(self, one_line(f"silenced until {local_hms(made.ends_at)} ({made.id})"), timeout=6)

    @work(group="acknowledge", exit_on_error=False)
    async def on_alerts_screen_acknowledge_asked(self, _: AlertsScreen.AcknowledgeAsked) -> None:
        if self.cockpit is None:
            return
        try:
            said = await self.cockpit.acknowledge()
        except Exception as exc:  # read-only, no incident, no channel, refused: said in words
            toast(self, one_line(f"not acknowledged: {exc}", 300), severity="warning", timeout=8)
            return
        toast(self, one_line(said), timeout=6)

    @work(group="silence", exit_on_error=False)
    async def on_alerts_screen_expire_asked(self, message: AlertsScreen.ExpireAsked) -> None:
        if self.cockpit is None or self.last_view is None:
            return
        alert = self.last_view.alerts.alert(message.fingerprint)
        try:
            await self.cockpit.expire_silence(message.silence_id, alert.source if alert else "")
        except Exception as exc:
            toast(self, one_line(f"not expired: {exc}", 300), severity="error", timeout=10)
            return
        toast(self, one_line(f"silence {message.silence_id} expired"), timeout=6)

    @work(exclusive=True, group="sentry-detail", exit_on_error=False)
    async def open_sentry_issue(self, issue_id: str) -> None:
        """The latest event of an issue, fetched by the runtime."""
        from widgets.sentry_detail import SentryDetailScreen

        if self.cockpit is None:
            return
        issue = self.cockpit.sentry_issue(issue_id)
        if issue is None:
            return
        toast(self, one_line(f"fetching the latest event of {issue.short_id}"), timeout=3)
        try:
            detail = await self.cockpit.sentry_detail(issue_id)
        except Exception as exc:
            toast(
                self,
                one_line(f"cannot fetch {issue.short_id}: {exc}", 300),
                severity="error",
                timeout=15,
            )
            return
        await self.push_screen(SentryDetailScreen(detail))

    def panel_failed(self, panel: Panel, exc: Exception) -> None:
        from cockpit.crash_report import report_exception

        report_exception(exc)  # reported, and shown: never swallowed
        panel.set_border(subtitle=one_line(f"panel error: {exc}", 80))
        panel.add_class("-stale")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            from cockpit.crash_report import report_exception

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
        read_only = self.read_only or self._read_only_shown
        if action == "refuse":
            return read_only
        spec = ACTIONS_BY_NAME.get(action)
        if spec is None:
            return True
        if spec.writes and read_only:
            return None  # shown disabled; the key itself says "read-only" (action_refuse)
        if spec.needs and self.cockpit is None:
            return None  # shown disabled until the sources are up
        if spec.needs == "incident" and (self.last_view is None or self.last_view.incident is None):
            return None  # nothing to move along yet
        return True

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        from widgets.glyphs import ascii_palette

        if not self.ascii_only:
            super().action_command_palette()
        elif self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(ascii_palette())

    def action_refuse(self, action: str) -> None:
        reason = self.cockpit.read_only_reason() if self.cockpit is not None else ""
        toast(
            self,
            one_line(f"read-only: {action} is disabled ({reason or 'read-only mode'})"),
            severity="warning",
            timeout=8,
        )

    def action_help(self) -> None:
        rows = [("data", data_dir_said(self.cockpit))] if self.cockpit is not None else []
        rows += [(self.keys_label(spec.name), spec.description) for spec in on_screen("main")]
        rows += [
            ("tab", "move between the probe and Sentry panels"),
            ("up/down, enter", "pick a probe or an issue and open its details"),
            ("ctrl+p", "command palette (in a drill or the demo: inject a fault)"),
            ("", "on the alerts screen (enter on an alert):"),
        ]
        rows += [(self.keys_label(spec.name), spec.description) for spec in on_screen("alerts")]
        from widgets.modals import HelpScreen

        self.push_screen(HelpScreen(rows, self.read_only))

    def keys_label(self, action: str) -> str:
        """The key of an action as the footer shows it ("?" for question_mark)."""
        key = getattr(self.keys, action)
        return self.get_key_display(Binding(key, ACTIONS_BY_NAME[action].action))

    def world_dir(self) -> Path | None:
        """The drill world this cockpit watches, when it runs one (demo, drills)."""
        return self.cockpit.world_dir() if self.cockpit is not None else None

    @work(group="inject", exit_on_error=False)
    async def inject(self, fault: str) -> None:
        from cockpit.world.control import ControlError

        if self.cockpit is None:
            return
        try:
            await self.cockpit.inject(fault)
        except (ControlError, LookupError) as exc:
            toast(self, one_line(f"{fault} not injected: {exc}"), severity="warning", timeout=15)
            return
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
        from cockpit.incident.declare import DeclareRequest

        if isinstance(request, DeclareRequest) and self.cockpit is not None:
            self.save_declare(request)

    @work(exclusive=True, group="declare", exit_on_error=False)
    async def save_declare(self, request: object) -> None:
        from cockpit.incident.declare import DeclareRequest
        from cockpit.incident.store.errors import IncidentAlreadyOpen

        assert self.cockpit is not None and isinstance(request, DeclareRequest)
        what = f"declare {one_line(request.title, 60)!r}"
        try:
            incident = await self.until_saved(what, lambda: self.cockpit.declare(request))  # type: ignore[union-attr]
        except IncidentAlreadyOpen as exc:
            toast(self, one_line(f"not declared: {exc}"), severity="warning", timeout=15)
            return
        except Exception as exc:
            toast(self, one_line(f"declare failed: {exc}"), severity="error", timeout=15)
            return
        self.show(self.cockpit.view)
        toast(self, one_line(f"incident #{incident.id} declared ({incident.severity})"), timeout=8)

    async def until_saved(self, what: str, save: Callable[[], Awaitable[T]]) -> T:
        """Try `save` until the store takes it; meanwhile the header says "<what> not saved:
        <reason>, retrying" (what was typed is kept, in this worker, never dropped)."""
        from cockpit.incident.store.errors import IncidentAlreadyOpen, StoreError

        delay = 1.0
        try:
            while True:
                try:
                    return await save()
                except IncidentAlreadyOpen:
                    raise
                except StoreError as exc:
                    self._unsaved_action = f"{what} not saved: {exc.reason}, retrying"
                    if self.cockpit is not None:
                        self.show(self.cockpit.view)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        finally:
            self._unsaved_action = ""

    def action_note(self) -> None:
        from widgets.modals import NoteScreen

        self.push_screen(NoteScreen(), self._noted)

    def _noted(self, text: str | None) -> None:
        if text and self.cockpit is not None:
            self.save_note(text)

    @work(group="note", exit_on_error=False)
    async def save_note(self, text: str) -> None:
        """The note is queued at once (kept on disk until the store takes it) and shown on the
        timeline; while unsaved it is marked so, and the header says why."""
        assert self.cockpit is not None
        try:
            await self.cockpit.note(text)
        except ValueError as exc:
            toast(self, one_line(exc), severity="warning")
            return
        view = self.cockpit.view
        self.show(view)
        if view.unsaved:
            toast(
                self,
                one_line(
                    f"note not saved yet: {view.store.reason or 'store busy'}; it is kept "
                    "and retried"
                ),
                severity="warning",
                timeout=10,
            )

    def action_revert(self) -> None:
        from cockpit.actions.revert import RevertError

        assert self.cockpit is not None
        running = self.cockpit.running()
        if running is not None:
            # Someone's revert (perhaps our own, from before a restart) is running: watch it;
            # the lock would refuse a second one anyway.
            toast(self, one_line(f"{running.headline()}: showing it"), timeout=8)
            self.watch_run(running)
            return
        selected = self.selected_change()
        skipped: tuple[str, ...] = ()
        try:
            if selected is not None:
                plan = self.cockpit.plan_change_revert(selected)
            else:
                plan, skipped = self.cockpit.plan_suspect_revert()
        except RevertError as exc:
            toast(self, one_line(f"cannot revert: {exc}"), severity="error", timeout=15)
            return
        if skipped:
            # A suspect above the one planned cannot be reverted: said before the plan.
            said = "; ".join(skipped)
            toast(self, one_line(f"not planned: {said}"), severity="warning", timeout=20)
        running = self.cockpit.running(plan.service)
        if running is not None:
            toast(self, one_line(f"{running.headline()}: showing it"), timeout=8)
            self.watch_run(running)
            return
        from widgets.modals import RevertScreen

        self.push_screen(RevertScreen(plan, self.lock_holder(plan.service)), self._revert_closed)

    def selected_change(self) -> Change | None:
        """The change chosen in the Changes panel (focused, a row selected): `R` reverts it
        instead of the top suspect."""
        from cockpit.sources.changes.merge import change_key

        panel = self.query_one(ChangesPanel)
        if not panel.has_focus or panel.selected is None or self.last_view is None:
            return None
        return next(
            (c for c in self.last_view.assessment.changes if change_key(c) == panel.selected),
            None,
        )

    def lock_holder(self, service: str) -> LockHolder | None:
        """Who holds the service's revert lock now: said in the plan, before any typing."""
        from cockpit.actions.lock import ServiceLock

        if self.cockpit is None or self.cockpit.data_dir is None:
            return None
        try:
            return ServiceLock(self.cockpit.data_dir, service).holder()
        except OSError:
            return None

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
        running = self.cockpit.running()
        if running is not None:
            toast(self, one_line(f"{running.headline()}: showing it"), timeout=8)
            self.watch_run(running)
            return
        try:
            plan = self.cockpit.plan_action(name)
        except RevertError as exc:
            toast(self, one_line(f"cannot run {name}: {exc}"), severity="error", timeout=15)
            return
        from widgets.modals import RevertScreen

        self.push_screen(RevertScreen(plan, self.lock_holder(plan.service)), self._revert_closed)

    def _revert_closed(self, result: bool | None) -> None:
        if self.cockpit is not None:
            self.show(self.cockpit.view)

    async def on_revert_screen_confirmed(self, message: RevertScreen.Confirmed) -> None:
        self.run_revert(message.screen)

    @work(exclusive=True, group="revert", exit_on_error=False)
    async def run_revert(self, screen: RevertScreen) -> None:
        """Start the supervised run and show it on the screen that confirmed it. Cancelling
        this worker (quitting) stops only the watching: the run goes on."""
        from cockpit.actions.guarded import RevertOutcome
        from cockpit.actions.runs import RunError
        from cockpit.incident.store.errors import StoreError
        from cockpit.runtime import ReadOnlyError
        from cockpit.timeutil import utcnow

        assert self.cockpit is not None

        def output(line: str) -> None:
            if screen.is_attached:  # closed with Esc: the run goes on, unwatched
                screen.add_output(line)

        try:
            run = await self.cockpit.start(screen.plan)
        except (RunError, ReadOnlyError, StoreError, OSError) as exc:
            now = utcnow()
            reason = one_line(str(exc))
            outcome = RevertOutcome(False, None, reason, (reason,), now, now, result="error")
        else:
            outcome = await self.cockpit.follow(run, output, verify=True)
        if screen.is_attached:
            screen.finish(outcome)
        else:
            toast(self, one_line(f"{screen.plan.describe()}: {_said(outcome)}"), timeout=30)
        self.show(self.cockpit.view)

    def action_watch(self) -> None:
        assert self.cockpit is not None
        view = self.cockpit.view
        run = next((r for r in view.runs if r.active), None) or next(iter(view.runs), None)
        if run is None:
            toast(self, Inert("no revert or action is running"), timeout=5)
            return
        self.watch_run(run)

    def watch_run(self, run: Run) -> None:
        from widgets.run_screen import RunScreen

        screen = RunScreen(run)
        self.push_screen(screen)
        self.follow_run(screen)

    @work(group="watch", exit_on_error=False)
    async def follow_run(self, screen: object) -> None:
        from widgets.run_screen import RunScreen

        assert self.cockpit is not None and isinstance(screen, RunScreen)

        def output(line: str) -> None:
            if screen.is_attached:
                screen.add_output(line)

        def status(run: Run) -> None:
            if screen.is_attached:
                screen.show_run(run)

        outcome = await self.cockpit.follow(screen.run, output, status)
        if screen.is_attached:
            screen.finish(outcome)
        self.show(self.cockpit.view)

    @work(exclusive=True, group="status-screen", exit_on_error=False)
    async def action_status(self) -> None:
        assert self.cockpit is not None
        incident = self.cockpit.view.incident
        if incident is None:
            toast(self, Inert("no open incident: declare one first"), severity="warning")
            return
        from widgets.modals import StatusScreen

        failed = await self.cockpit.failed_notifications()
        view = self.cockpit.view
        from cockpit.incident.lifecycle import recovery_time

        recovered = recovery_time(view.timeline, view.status_times)
        self.push_screen(
            StatusScreen(incident.status, failed, recovered=recovered), self._status_chosen
        )

    def action_mitigate(self) -> None:
        """One key after a verified recovery: mitigated (then resolved) at the recovery's time,
        shown in the form to edit before Enter."""
        assert self.cockpit is not None
        view = self.cockpit.view
        incident = view.incident
        if incident is None:
            toast(self, Inert("no open incident: declare one first"), severity="warning")
            return
        from widgets.modals import StatusScreen

        done = incident.status in (IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)
        wanted = IncidentStatus.RESOLVED if done else IncidentStatus.MITIGATED
        from cockpit.incident.lifecycle import recovery_time

        recovered = recovery_time(view.timeline, view.status_times)
        self.push_screen(
            StatusScreen(incident.status, recovered=recovered, focus=wanted), self._status_chosen
        )

    def _status_chosen(self, choice: object) -> None:
        if self.cockpit is None or choice is None:
            return
        if choice == "retry":
            self.retry_notifications()
            return
        if isinstance(choice, tuple):
            status, at = choice
            self.save_status(IncidentStatus(status), at)

    def action_correct(self) -> None:
        assert self.cockpit is not None
        view = self.cockpit.view
        incident = view.incident
        if incident is None:
            toast(self, Inert("no open incident to correct"), severity="warning")
            return
        from widgets.modals import CorrectScreen

        times: dict[str, datetime | None] = {
            "impact-start": incident.impact_started_at,
            "declared": incident.declared_at,
        }
        for status, at in view.status_times.items():
            times.setdefault(status.value, at)
        self.push_screen(CorrectScreen(times), self._corrected)

    def _corrected(self, choice: object) -> None:
        if self.cockpit is not None and isinstance(choice, tuple):
            self.save_correction(*choice)

    @work(exclusive=True, group="correct", exit_on_error=False)
    async def save_correction(self, field: str, when: datetime) -> None:
        assert self.cockpit is not None
        try:
            event = await self.until_saved(
                f"correction of {field}",
                lambda: self.cockpit.correct(field, when),  # type: ignore[union-attr]
            )
        except Exception as exc:
            toast(self, one_line(f"not corrected: {exc}"), severity="error", timeout=15)
            return
        self.show(self.cockpit.view)
        toast(self, one_line(event.text), title=Inert("Corrected"), timeout=8)

    @work(exclusive=True, group="status", exit_on_error=False)
    async def save_status(self, status: IncidentStatus, at: datetime | None = None) -> None:
        assert self.cockpit is not None
        # Read while the incident is open: resolved, it is no longer the one on screen.
        silences = self.cockpit.incident_silences() if status is IncidentStatus.RESOLVED else ()
        try:
            incident = await self.until_saved(
                f"status {status.value}",
                lambda: self.cockpit.set_status(status, at),  # type: ignore[union-attr]
            )
        except Exception as exc:
            toast(self, one_line(f"status change failed: {exc}"), severity="error")
            return
        self.show(self.cockpit.view)
        when = f" as of {local_hms(at)}" if at is not None else ""
        toast(self, Inert(f"incident #{incident.id} is {incident.status}{when}"), timeout=5)
        if incident.status is IncidentStatus.RESOLVED:
            self.offer_to_expire_silences(silences)

    def offer_to_expire_silences(self, made: tuple[tuple[str, str], ...]) -> None:
        """Resolved: the silences made during the incident should not outlive it unseen."""
        from widgets.modals import ChoiceScreen

        if not made:
            return
        n = len(made)
        title = f"{n} silence{'s' if n != 1 else ''} made during the incident still active"
        choices = [("expire", "Expire them now"), ("keep", "Keep them until they end")]

        def chosen(choice: str | None) -> None:
            if choice == "expire":
                self.expire_silences(made)

        self.push_screen(ChoiceScreen(title, choices), chosen)

    @work(group="silence", exit_on_error=False)
    async def expire_silences(self, made: tuple[tuple[str, str], ...]) -> None:
        assert self.cockpit is not None
        for silence_id, source in made:
            try:
                await self.cockpit.expire_silence(silence_id, source)
            except Exception as exc:
                toast(self, one_line(f"not expired: {exc}", 300), severity="error", timeout=10)
                return
        toast(self, one_line(f"expired {len(made)} silence(s)"), timeout=6)

    @work(exclusive=True, group="notify", exit_on_error=False)
    async def retry_notifications(self) -> None:
        assert self.cockpit is not None
        await self.cockpit.retry_notifications()
        left = await self.cockpit.failed_notifications()
        toast(
            self,
            Inert(f"{left} notification(s) still failing" if left else "notifications sent"),
            severity="warning" if left else "information",
        )
        self.show(self.cockpit.view)

    @work(exclusive=True, group="timeline", exit_on_error=False)
    async def action_timeline(self) -> None:
        from cockpit.incident.store.errors import StoreError
        from widgets.timeline_view import TimelineScreen

        assert self.cockpit is not None
        incident = self.cockpit.view.incident
        events: list[TimelineEvent] | None = None
        if incident is not None:
            with contextlib.suppress(StoreError):
                events = await self.cockpit.incident_events(incident)
        if incident is not None and events is not None:
            title = f"Timeline of incident #{incident.id}: {incident.title}"
        elif incident is not None:
            events = list(self.cockpit.view.timeline)
            title = f"Timeline of incident #{incident.id} (latest only: store unavailable)"
        else:
            events = list(self.cockpit.view.timeline)
            title = "Timeline (no open incident)"
        self.push_screen(TimelineScreen(events, title=title))

    @work(exclusive=True, group="export", exit_on_error=False)
    async def action_export(self) -> None:
        from cockpit.incident.export import export_dir
        from cockpit.incident.store.errors import StoreError
        from widgets.export_preview import ExportPreviewScreen

        assert self.cockpit is not None
        data_dir = self.cockpit.data_dir
        try:
            if data_dir is None:
                raise LookupError(f"cannot export: {self.cockpit.read_only_reason()}")
            draft = await self.cockpit.draft()
        except LookupError as exc:
            toast(self, one_line(exc), severity="warning", timeout=10)
            return
        except StoreError as exc:
            toast(self, one_line(f"cannot export now: {exc}"), severity="error", timeout=15)
            return

        def saved(save: bool | None) -> None:
            if save:
                self._write_export(draft)

        self.push_screen(ExportPreviewScreen(draft, export_dir(data_dir)), saved)

    @work(exclusive=True, group="export-write", exit_on_error=False)
    async def _write_export(self, draft: str) -> None:
        from cockpit.incident.store.errors import StoreError

        assert self.cockpit is not None
        try:
            paths = await self.cockpit.export(("md", "json"))
        except (StoreError, OSError) as exc:
            # The draft goes on the clipboard: nothing typed or collected is lost.
            copied = clip(self, Inert(draft))
            kept = (
                "the draft was copied to the clipboard where the terminal allows"
                if copied
                else "the draft is too long for the terminal's clipboard: press x again "
                "once the disk is writable"
            )
            toast(
                self, one_line(f"export not written: {exc}; {kept}"), severity="error", timeout=20
            )
            return
        # OSC 52: the terminal puts it on the clipboard of the engineer's own machine, over SSH.
        copied = clip(self, Inert(draft))
        self.show(self.cockpit.view)
        also = (
            "and copied to the clipboard where the terminal allows"
            if copied
            else "too long for the terminal's clipboard: copy it from the file"
        )
        toast(
            self,
            one_line(f"timeline draft written to {paths[0]} ({also})"),
            title=Inert("Exported"),
            timeout=20,
        )

    async def action_quit(self) -> None:
        if self.cockpit is not None:
            running = list(await self.cockpit.active_runs())
        else:
            running = [r for r in (self.last_view.runs if self.last_view else ()) if r.active]
        if running:
            from widgets.run_screen import QuitScreen

            if isinstance(self.screen, QuitScreen):  # ctrl+q asked twice: that is a yes
                self.screen.dismiss(True)
                return
            self.push_screen(QuitScreen(running[0]), self._quit_chosen)
            return
        self._quit()

    def _quit_chosen(self, leave: bool | None) -> None:
        if leave:
            self._quit(detached=True)

    def _quit(self, *, detached: bool = False) -> None:
        if self.cockpit is not None:
            # Who was watching, and until when, belongs in the postmortem too.
            running = [r for r in (self.last_view.runs if self.last_view else ()) if r.active]
            still = f"; {running[0].describe} runs on in its own process" if detached else ""
            self.cockpit.record("cockpit.quit", f"left the cockpit{still}")
        self.exit(0)

    async def on_unmount(self) -> None:
        from cockpit.crash_report import shutdown_self_report

        if self.cockpit is not None:
            await self.cockpit.aclose()
        if self.on_close is not None:
            await self.on_close()
        shutdown_self_report()


def _said(outcome: object) -> str:
    from cockpit.actions.guarded import RevertOutcome, describe_outcome

    return describe_outcome(outcome) if isinstance(outcome, RevertOutcome) else str(outcome)


def data_dir_said(cockpit: Cockpit) -> str:
    if cockpit.data_dir is None:
        return f"nothing is kept: {cockpit.read_only_reason()}"
    if cockpit.drill:
        return f"drill data (incidents, lock, exports) apart from yours: {cockpit.data_dir}"
    return f"incidents, lock and exports are kept in {cockpit.data_dir}"


def notices(
    view: View, unsaved_action: str, watch_key: str, mitigate_key: str = "m"
) -> tuple[tuple[Inert, str], ...]:
    """The header's lines under the title, most urgent first: why nothing can be changed, what
    is not saved, and every revert running or whose outcome is unknown."""
    from cockpit.actions.runs import RunStatus

    out: list[tuple[str, str]] = []
    if view.read_only and not view.read_only.startswith("read-only mode"):
        out.append((f"READ-ONLY: {view.read_only}", "$warning bold"))
    problem = view.store.problem
    if problem and (view.store.pending or not view.read_only):
        out.append((f"NOT SAVED: {problem}" if view.store.pending else problem, "$warning"))
    if unsaved_action:
        out.append((unsaved_action, "$warning bold"))
    incident = view.incident
    open_statuses = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED)
    if incident is not None and incident.status in open_statuses:
        from cockpit.incident.lifecycle import recovery_time

        recovered = recovery_time(view.timeline, view.status_times)
        if recovered is not None:
            out.append(
                (
                    f"{recovered.text}: {mitigate_key} marks the incident mitigated at "
                    f"{local_hms(recovered.at)}",
                    "$success bold",
                )
            )
    for run in view.runs:
        word = run.kind.upper()
        if run.status is RunStatus.UNKNOWN:
            out.append((f"{word} {run.headline()} ({watch_key}: output)", "$error bold"))
        else:
            out.append((f"{word}: {run.headline()} ({watch_key}: watch)", "$accent bold"))
    return tuple((one_line(note, 300), style) for note, style in out[:3])


def run_tui(
    *,
    config: Config | None,
    data_dir: Path | None,
    read_only: bool = False,
    data_dir_problem: str = "",
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

            return Cockpit(loaded, data_dir, read_only=read_only, data_dir_problem=data_dir_problem)

    else:
        from cockpit.drill.world_process import WorldProcess

        world = WorldProcess(bad_deploy_after=bad_deploy_after, alertmanager=True)

        async def factory() -> Cockpit:
            directory = await world.start()  # the screen paints while the world boots
            from cockpit.config.loader import load
            from cockpit.runtime import Cockpit

            return Cockpit(
                load(directory), data_dir, read_only=read_only, data_dir_problem=data_dir_problem
            )

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
    from cockpit.term.caps import detect

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


# -- drills ---------------------------------------------------------------------------------


def run_drill_tui(
    scenario: Any,
    *,
    data_dir: Path,
    speed: float | None,
    notifications: str,
    ascii_only: bool = False,
) -> int:
    """The cockpit on the drill's world, DRILL in its header; when the scenario's clock runs
    out the drill report opens. Quitting early still writes the report."""
    from cockpit.drill.session import DrillSession
    from cockpit.term.caps import detect

    session = DrillSession(scenario, data_dir=data_dir, speed=speed, notifications=notifications)
    app = drill_app(session, ascii_only=ascii_only or not detect().unicode)
    code = int(app.run() or 0)
    if session.report is not None:
        for path in session.report.files:
            print(Inert(path))
    return code


def drill_app(session: DrillSession, *, ascii_only: bool = False) -> CockpitApp:
    """The cockpit app for one drill: it starts the session's world, opens the drill report by
    itself when the scenario clock reaches the scenario's end, and stops the world on the way
    out (the cockpit writes the report as it closes if the end was not reached)."""
    from widgets.drill_report import DrillReportScreen

    ending: list[asyncio.Task[None]] = []

    async def show_report_at_end() -> None:
        await session.until_scenario(session.scenario.end)
        cockpit = session.cockpit()
        # Closing already wrote the report from the cockpit's last state; the store may be
        # closed by now, so the run is not scored twice.
        if cockpit.closing:
            return
        report = session.finish(app.last_view)
        app.push_screen(DrillReportScreen(report))

    async def factory() -> Cockpit:
        await session.start()
        ending.append(asyncio.create_task(show_report_at_end(), name="drill-end"))
        return session.cockpit()

    async def on_close() -> None:
        for task in ending:
            task.cancel()
        await session.stop()

    app = CockpitApp(factory, ascii_only=ascii_only, on_close=on_close)
    return app
