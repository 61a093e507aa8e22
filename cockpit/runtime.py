"""The cockpit without a screen: hub -> detector -> store, and the actions a user can take.

The TUI and headless drills both drive this object; the TUI only renders its `View`s and turns
keys into calls here.

Live signals never wait for the store: `refresh()` builds a view from the sources at once, with
the store's part (the incident, the timeline) as last read, and queues new events; a background
sync saves them and reads the store again on the store's own thread (`StoreWorker`). Whatever
the store does (locked, full, read-only, damaged, not openable at all) the probes, deploys, 5xx
and Sentry panels stay live, and the view says what is wrong with the store.

Reverts and runbook actions run under their own supervisor process (`actions.runs`): quitting
or losing the terminal never stops one, and every cockpit on the host sees it run and end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from cockpit.actions.audit import append_audit
from cockpit.actions.change_revert import ChangeRevertPlan, plan_change_revert
from cockpit.actions.revert import RevertOutcome, RevertPlan, plan_revert
from cockpit.actions.revert_plan import RevertError, VersionRefused
from cockpit.actions.runbook import ActionPlan, action_names, plan_action
from cockpit.actions.runs import Run, RunCatalog, RunError, follow_run, shown_runs, start_run
from cockpit.actions.verify import RecoveryWatch
from cockpit.alerts.view import AlertsView, alerts_view
from cockpit.config import Config
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Assessment, Detector, state_family
from cockpit.host.whoami import current_user, host_name
from cockpit.hub import Hub, Snapshot
from cockpit.incident.declare import DeclareRequest
from cockpit.incident.lifecycle import Lifecycle, note_event
from cockpit.incident.store.backend import opener, store_target
from cockpit.incident.store.errors import StoreError, StoreUnavailable
from cockpit.incident.store.events import FAMILY_WINDOW
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.incident.store.worker import StoreHealth, StoreWorker
from cockpit.model import (
    Category,
    Change,
    Deploy,
    Incident,
    IncidentStatus,
    SentryIssue,
    SentryIssues,
    TimelineEvent,
)
from cockpit.sources.base import Source
from cockpit.term.textsafe import identity, one_line
from cockpit.timeutil import iso_utc, utcnow
from cockpit.view.panels import PanelBuilder, Panels

if TYPE_CHECKING:
    from cockpit.actions.silence import SilenceMade, SilencePlan
    from cockpit.alerts.api import AlertmanagerClient
    from cockpit.notify.notifier import Notifier
    from cockpit.sentry.event import SentryEventDetail

T = TypeVar("T")

TIMELINE_ROWS = 50
INCIDENT_TICK = 2.0  # how often another process's changes to the incident are picked up
# A store that announces changes (PostgreSQL) is read when told, and at least this often.
RESYNC_EVERY = 30.0
NOTIFY_DRAIN = 5.0  # seconds quitting waits for notifications still being sent
CLOSE_FLUSH = 2.0  # seconds quitting waits for unsaved events (the rest stays spooled)


def _report_source_bug(source: Source, exc: BaseException) -> None:
    from cockpit.crash_report import report_exception

    report_exception(exc)  # a no-op unless self-reporting is on; SourceErrors are not bugs


class ReadOnlyError(Exception):
    """An action that changes things was asked of a read-only cockpit."""


@dataclass(frozen=True, slots=True)
class View:
    snapshot: Snapshot
    assessment: Assessment
    incident: Incident | None
    timeline: tuple[TimelineEvent, ...]  # newest last; unsaved events included
    # When the open incident reached each status (investigating, identified, mitigated ...).
    status_times: Mapping[IncidentStatus, datetime] = field(default_factory=dict)
    store: StoreHealth = field(default_factory=lambda: StoreHealth(opened=True, writable=True))
    unsaved: frozenset[str] = frozenset()  # keys of timeline events not saved yet
    runs: tuple[Run, ...] = ()  # reverts and actions running, or whose outcome is unknown
    read_only: str = ""  # why nothing can be changed ("" when the cockpit may act)
    alerts: AlertsView = field(default_factory=AlertsView)  # the page: Alertmanager's alerts
    # False until the store has been read once: "no incident" would then be a guess (a
    # cockpit started while a shared store is offline does not know of the open one).
    incident_known: bool = True
    # What each panel shows (cockpit.view), built from the rest once per view, also for a
    # view made elsewhere (a headless drill, a test, `replace`): widgets only render it. The
    # runtime passes its builder, which keeps what did not change since the last refresh.
    panels: Panels = field(init=False, compare=False)
    builder: InitVar[PanelBuilder | None] = None

    def __post_init__(self, builder: PanelBuilder | None) -> None:
        built = (builder or PanelBuilder()).build(
            self.snapshot, self.assessment, self.incident, self.status_times
        )
        object.__setattr__(self, "panels", built)


@dataclass(frozen=True, slots=True)
class _Stored:
    """The store's part of the view, as last read."""

    incident: Incident | None = None
    latest_id: int | None = None  # the open incident, else the newest one
    timeline: tuple[TimelineEvent, ...] = ()
    status_times: Mapping[IncidentStatus, datetime] = field(default_factory=dict)
    runs: tuple[Run, ...] = ()
    read: bool = False  # the store has been read at least once


class _Deferred:
    """Stands in for the notifier while a lifecycle step runs on the store's thread: what it
    would announce is announced afterwards, from the event loop."""

    def __init__(self) -> None:
        self.announced: list[tuple[Incident, str]] = []

    def start(self, incident: Incident, event: str) -> None:
        self.announced.append((incident, event))


def _read_store(store: IncidentStore) -> _Stored:
    incident = store.open_incident()
    latest = incident or next(iter(store.list()), None)
    return _Stored(
        incident=incident,
        latest_id=latest.id if latest else None,
        timeline=tuple(store.recent_events(TIMELINE_ROWS)),
        status_times=store.status_times(incident.id) if incident else {},
    )


class Cockpit:
    def __init__(
        self,
        config: Config,
        data_dir: Path | None,
        *,
        read_only: bool = False,
        sources: Sequence[Source] | None = None,
        user: str | None = None,
        detect: DetectSettings | None = None,
        spool_dir: Path | None = None,
        data_dir_problem: str = "",
    ):
        """`data_dir` None (with `data_dir_problem` saying why) when it cannot be used: the
        cockpit then runs read-only, with the reason on screen."""
        from cockpit.sources.registry import build_sources

        self.config = config
        self.data_dir = data_dir
        self.read_only = read_only
        self.user = user or current_user()
        self.hub = Hub(
            sources if sources is not None else build_sources(config.sources()),
            on_error=_report_source_bug,
        )
        self.detector = Detector(config, detect)
        self.storage = StoreWorker(
            data_dir, spool_dir=spool_dir, unusable=data_dir_problem, opener=opener(config)
        )
        self.catalog = RunCatalog(data_dir) if data_dir is not None else None
        self.notifier: Notifier | None = None
        self._stored = _Stored()
        self._panels = PanelBuilder()
        self._view: View | None = None
        self._watch: RecoveryWatch | None = None  # after a fix: did it work?
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_lock: asyncio.Lock | None = None
        self._adopted = False
        self._watched: IncidentStore | None = None  # the store whose changes are announced
        self._unwatch: Callable[[], None] | None = None
        self._store_changed = True  # read the store at the next sync
        self._last_read = 0.0
        self._reconciled: set[str] = set()  # run event keys queued by this cockpit
        self._closing = False
        self._silenced: list[str] = []  # ids of the silences this cockpit made
        # More Markdown sections for the draft (a drill adds its scored report).
        self.export_sections: list[Callable[[], str]] = [self._probe_history, self._page]

    @property
    def drill(self) -> bool:
        return self.config.cockpit.drill

    @property
    def store(self) -> IncidentStore:
        """The open store, for headless code that may block (drill reports); the screen goes
        through `storage`. Raises StoreUnavailable when it is not open."""
        store = self.storage.store
        if store is None:
            raise StoreUnavailable(
                f"incident store not available: {self.storage.health.reason}",
                self.storage.health.reason,
            )
        return store

    # -- observing -----------------------------------------------------------------------------

    def refresh(self) -> View:
        """Fold the newest snapshot into judgements, queue new events, and build a view. No
        I/O: the store is written and read by a background sync this starts."""
        snapshot = self.hub.snapshot()
        assessment = self.detector.observe(snapshot)
        events = list(assessment.events)
        if self._watch is not None:
            verdict = self._watch.observe(assessment, snapshot.at)
            if verdict is not None:
                # The watch says the same as the detector's "recovered", and how long after
                # the fix: one event, not two.
                events = [e for e in events if e.kind != "recovered"] + [verdict]
                self._watch = None
        if self.storage.accepts_writes:
            # Observations are kept for when the store takes them (a store that never took
            # one here will not: another cockpit with the right to write records them).
            for event in events:
                self.storage.queue(event, family=state_family(event))
        self._view = self._build(snapshot, assessment)
        self._kick()
        return self._view

    def _build(self, snapshot: Snapshot, assessment: Assessment) -> View:
        stored = self._stored
        pending = [w.event for w in self.storage.pending()]
        overdue = {w.event.key for w in self.storage.overdue()}
        keys = {e.key for e in stored.timeline if e.key}
        unsaved = [e for e in pending if e.key not in keys]
        timeline = sorted([*stored.timeline, *unsaved], key=lambda e: e.at)[-TIMELINE_ROWS:]
        return View(
            snapshot,
            assessment,
            stored.incident,
            tuple(timeline),
            stored.status_times,
            self.storage.health,
            frozenset(e.key for e in unsaved if e.key in overdue),
            stored.runs,
            self.read_only_reason(),
            alerts_view(snapshot.of(Category.ALERTS)),
            # Until the store was read, "no incident" would be a guess: a cockpit opened (or
            # reconnected) in the middle of an incident must never say it.
            incident_known=stored.read,
            builder=self._panels,
        )

    @property
    def view(self) -> View:
        return self._view or self.refresh()

    def _kick(self) -> None:
        """Start a background sync unless one is under way (or there is no event loop)."""
        if self._closing or (self._sync_task is not None and not self._sync_task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sync_task = loop.create_task(self.sync(), name="cockpit-store-sync")

    async def sync(self) -> None:
        """Save what is queued and read the store and the runs again; never raises. The hub
        is poked afterwards when the view changed, so a consumer of `views()` shows the result
        at once."""
        if self._sync_lock is None:
            self._sync_lock = asyncio.Lock()
        async with self._sync_lock:
            try:
                await self._sync()
            except Exception:  # a bug here must not end the feed
                import logging

                logging.getLogger(__name__).exception("store sync failed")
            before = self._view
            self._rebuild()
            # Only a sync that changed the view wakes `views()`: each view kicks a sync, and
            # an unconditional poke kept the screen rebuilding four times a second.
            if self._view != before:
                self.hub.poke()

    def _rebuild(self) -> None:
        """The view again from what the store now holds, without a new observation: a note
        just saved must not still be shown (and warned about) as unsaved."""
        if self._view is not None:
            self._view = self._build(self._view.snapshot, self._view.assessment)

    async def _sync(self) -> None:
        storage = self.storage
        if await storage.open():
            self._connect()
            if not self._adopted:
                await self._adopt()
        await self._watch_store()
        wrote = bool(storage.pending())
        await storage.flush()
        stale = time.monotonic() - self._last_read > RESYNC_EVERY
        if self._unwatch is None or self._store_changed or wrote or stale:
            await self._read()
        if self.catalog is not None:
            runs = await asyncio.to_thread(self.catalog.scan)
            self._stored = _replace_runs(self._stored, shown_runs(runs))
            self._reconcile(runs)
            if self.storage.pending():
                await storage.flush()

    async def _watch_store(self) -> None:
        """Have the open store announce other cockpits' changes, when it can (PostgreSQL):
        the store is then read when something changed, not every tick. Starting and stopping
        a listener happen off the event loop: stopping waits for its thread."""
        store = self.storage.store
        if store is None or store is self._watched:
            return
        if self._unwatch is not None:
            await asyncio.to_thread(self._unwatch)
            self._unwatch = None
        loop = asyncio.get_running_loop()

        def told() -> None:  # on the listener's thread
            self._store_changed = True
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.hub.poke)

        self._watched = store
        self._unwatch = await asyncio.to_thread(store.watch, told)

    async def _read(self) -> None:
        storage = self.storage
        self._store_changed = False
        try:
            stored = await storage.call(_read_store)
        except StoreError:
            self._store_changed = True  # read again next time
        else:
            self._last_read = time.monotonic()
            self._stored = _Stored(
                stored.incident,
                stored.latest_id,
                stored.timeline,
                stored.status_times,
                self._stored.runs,
                read=True,
            )

    def _connect(self) -> None:
        """Once the store is open: the notifier, which records every attempt there."""
        if self.notifier is None and self.config.notify and self.storage.store is not None:
            from cockpit.notify.notifier import Notifier  # httpx only when something is sent

            self.notifier = Notifier.from_config(self.storage.store, self.config)

    async def _adopt(self) -> None:
        since = utcnow() - FAMILY_WINDOW
        try:
            states = await self.storage.call(lambda store: store.family_states(since))
        except StoreError:
            return
        self._adopted = True
        self.detector.adopt(states)

    def _reconcile(self, runs: list[Run]) -> None:
        """Record the timeline events of runs whose own supervisor could not (same keys: a
        run's event is recorded once, whoever records it)."""
        if not self.storage.accepts_writes:
            return
        for run in runs:
            for event in run.events():
                if event.key not in self._reconciled:
                    self._reconciled.add(event.key)
                    self.storage.queue(event)

    async def views(self, min_gap: float = 0.25) -> AsyncIterator[View]:
        """Start the sources; yield a view per burst of changes, and at least every few seconds
        so that an incident changed by another cockpit on this host shows up."""
        self.hub.start()
        yield self.refresh()
        while True:
            await self.hub.wait_changed(timeout=INCIDENT_TICK)
            yield self.refresh()
            await asyncio.sleep(min_gap)

    def fit_graph(self, columns: int) -> None:
        """Sources that can choose their resolution (Prometheus' step) match the graph."""
        for source in self.hub.sources:
            fit = getattr(source, "fit_width", None)
            if fit is not None:
                fit(columns)

    async def aclose(self) -> None:
        self._closing = True
        await self.hub.aclose()
        if self.notifier is not None:
            # Sends cut off here are found by `retry_failed` (cockpit incident retry) later.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.notifier.drain(), NOTIFY_DRAIN)
            await self.notifier.aclose()
        task = self._sync_task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), CLOSE_FLUSH)
        if self._unwatch is not None:
            await asyncio.to_thread(self._unwatch)
            self._unwatch = None
        await self.storage.aclose(flush_for=CLOSE_FLUSH)

    # -- acting --------------------------------------------------------------------------------

    def read_only_reason(self) -> str:
        """Why the cockpit cannot change anything now; "" when it can."""
        health = self.storage.health
        if self.data_dir is None:
            return health.reason or "no data dir"
        if health.opened and not health.writable:
            return f"the incident store is read-only here: {health.read_only_reason}"
        if not health.opened and not self.storage.accepts_writes:
            return f"the incident store cannot be opened: {health.reason}"
        if self.read_only:
            return "read-only mode (--read-only)"
        return ""

    def can_write(self) -> bool:
        return not self.read_only_reason()

    def _writable(self, what: str) -> None:
        reason = self.read_only_reason()
        if reason:
            raise ReadOnlyError(f"{what} is disabled: {reason}")

    async def _life(self, act: Callable[[Lifecycle], T]) -> T:
        """A lifecycle step on the store's thread; its notifications go out afterwards."""
        deferred = _Deferred()

        def step(store: IncidentStore) -> T:
            lifecycle = Lifecycle(
                store,
                user=self.user,
                drill=self.drill,
                notifier=deferred,  # type: ignore[arg-type]
            )
            return act(lifecycle)

        result = await self.storage.call(step)
        if self.notifier is not None:
            for incident, event in deferred.announced:
                self.notifier.start(incident, event)
        await self.sync()
        return result

    def declare_request(self) -> DeclareRequest:
        """The form's defaults: the cockpit's service, the first failure it saw."""
        view = self.view
        title = f"{self.config.cockpit.service} degraded"
        top = self.top_suspect()
        if top is not None and top.deploy is None:
            title += f" after {top.kind} {identity(top.subject or top.what)}"
        elif view.assessment.suspect is not None:
            title += f" after deploy {identity(view.assessment.suspect.version)}"
        return DeclareRequest(
            title=title,
            severity="SEV2",
            commander=self.user,
            impact_started_at=view.assessment.first_failure_at,
        )

    async def declare(self, request: DeclareRequest) -> Incident:
        """Open the incident; configured channels are notified in the background. Raises
        StoreError when the store cannot take it now (the caller keeps the request)."""
        self._writable("declaring an incident")
        return await self._life(lambda life: life.declare(request))

    async def set_status(self, status: IncidentStatus, at: datetime | None = None) -> Incident:
        """investigating -> identified -> mitigated -> resolved; resolving closes the page.
        `at`: when it happened (a verified recovery), else now."""
        self._writable("changing the incident's status")
        return await self._life(lambda life: life.set_status(status, at=at))

    async def correct(self, field: str, new: datetime) -> TimelineEvent:
        self._writable("correcting a time")
        return await self._life(lambda life: life.correct(field, new))

    async def failed_notifications(self) -> int:
        incident = self.view.incident
        if incident is None:
            return 0
        try:
            found = await self.storage.call(
                lambda store: store.notifications(incident.id, status="failed")
            )
        except StoreError:
            return 0
        return len(found)

    async def retry_notifications(self) -> None:
        if self.notifier is not None:
            await self.notifier.retry_failed()
        await self.sync()

    def record(self, kind: str, text: str) -> None:
        """A user's act as a timeline event, with who did it; saved in the background."""
        if not self.storage.accepts_writes:
            return
        self.storage.queue(
            TimelineEvent(utcnow(), kind, f"{self.user}: {one_line(text)}", "cockpit")
        )
        self._kick()

    async def note(self, text: str) -> TimelineEvent:
        """Add a note: queued at once (it is never lost: kept on disk until the store takes
        it), then saved; ValueError when it is empty."""
        self._writable("adding a note")
        event = note_event(self.user, text)
        self.storage.queue(event, self._stored.latest_id, person=True)
        self.refresh()
        await self.sync()
        return event

    # -- alerts: silences ----------------------------------------------------------------------

    def plan_silence(self, fingerprint: str, whole_group: bool = False) -> SilencePlan:
        """The silence `s` (one alert) or `g` (its group) would make, with its reach over the
        current alerts; ReadOnlyError in read-only mode, SilenceRefused when it cannot be."""
        from cockpit.actions.silence import SilenceRefused, plan_silence

        self._writable("silencing an alert")
        alerts = self.view.alerts
        alert = alerts.alert(fingerprint)
        if alert is None:
            raise SilenceRefused("that alert is no longer listed")
        cfg = next((c for c in self.config.alerts if c.name == alert.source), None)
        if cfg is None:
            raise SilenceRefused(f"no [[alerts]] source {alert.source!r}")
        group = next((g for g in alerts.groups if alert in g.alerts), None)
        selected = group.alerts if whole_group and group else (alert,)
        same = [a for a in alerts.alerts if a.source == alert.source]
        return plan_silence(cfg, selected, same, self.user)

    def _alert_client(self, source: str) -> AlertmanagerClient:
        from cockpit.actions.silence import SilenceRefused

        found = next((s for s in self.hub.sources if s.name == source), None)
        client = getattr(found, "client", None)
        if client is None:
            why = getattr(found, "not_configured", "") or "not available"
            raise SilenceRefused(f"alerts source {source}: {why}")
        return cast("AlertmanagerClient", client)

    async def silence(self, plan: SilencePlan, comment: str, minutes: float) -> SilenceMade:
        """Make the silence (audited before and after), record it on the timeline."""
        from cockpit.actions.silence import create_silence

        self._writable("silencing an alert")
        made = await create_silence(
            plan, comment, minutes, self._alert_client(plan.source), self.data_dir
        )
        self.record_event(made.event)
        self._silenced.append(made.id)
        return made

    async def acknowledge(self) -> str:
        """Acknowledge the open incident's PagerDuty page (declaring already does; this is for
        when that failed or was not configured then). Returns what happened, in words."""
        from cockpit.config.notify import ACKNOWLEDGED

        self._writable("acknowledging the page")
        incident = self.view.incident
        if incident is None:
            raise LookupError("no open incident: declaring one (d) acknowledges its page")
        notifier = self.notifier
        if notifier is None or not any(c.wants(ACKNOWLEDGED) for c in notifier.channels):
            raise LookupError("no PagerDuty channel takes acknowledgements")
        sent = await notifier.send(incident, ACKNOWLEDGED)
        await self.sync()
        if not sent:
            return "the page was acknowledged already"
        failed = [d for d in sent if d.status != "sent"]
        if failed:
            raise LookupError(f"acknowledge failed: {failed[0].error}")
        return f"page acknowledged on {', '.join(d.channel for d in sent)}"

    def incident_silences(self) -> tuple[tuple[str, str], ...]:
        """(silence id, source) of the silences made during the open incident that are still
        active: made by this cockpit, or by another whose event is on the incident's timeline."""
        view = self.view
        if view.incident is None:
            return ()
        made = set(self._silenced) | {
            e.key.split(":")[1]
            for e in view.timeline
            if e.kind == "silence.created" and e.at >= view.incident.declared_at and e.key
        }
        out = []
        for status, reading in view.snapshot.of(Category.ALERTS):
            for silence in getattr(reading, "silences", ()):
                if silence.id in made and silence.state == "active":
                    out.append((silence.id, status.name))
        return tuple(out)

    async def expire_silence(self, silence_id: str, source: str) -> TimelineEvent:
        from cockpit.actions.silence import expire_silence

        self._writable("expiring a silence")
        event = await expire_silence(
            silence_id, source, self.user, self._alert_client(source), self.data_dir
        )
        self.record_event(event)
        return event

    # -- looking closer ----------------------------------------------------------------------

    def sentry_issue(self, issue_id: str) -> SentryIssue | None:
        """The issue as last read, from whichever Sentry source lists it."""
        for _, reading in self.view.snapshot.of(Category.SENTRY):
            if isinstance(reading, SentryIssues):
                found = next((i for i in reading.issues if i.id == issue_id), None)
                if found is not None:
                    return found
        return None

    async def sentry_detail(self, issue_id: str) -> SentryEventDetail:
        """The latest event of an issue, fetched through its source's client (which shares
        the source's rate-limit state). LookupError when no source lists it now; the client's
        errors otherwise."""
        from cockpit.sentry.event import fetch_detail
        from cockpit.sentry.source import SentryIssuesSource

        for _, reading in self.view.snapshot.of(Category.SENTRY):
            if not isinstance(reading, SentryIssues):
                continue
            issue = next((i for i in reading.issues if i.id == issue_id), None)
            source = next((s for s in self.hub.sources if s.name == reading.source), None)
            if issue is not None and isinstance(source, SentryIssuesSource):
                return await fetch_detail(source.cfg, issue, client=source.client)
        raise LookupError(f"issue {issue_id} is no longer listed")

    def world_dir(self) -> Path | None:
        """The drill world this cockpit watches, when it runs one (demo, drills)."""
        from cockpit.world.control import CONTROL_FILE

        config = self.config
        if not config.cockpit.drill or config.path is None:
            return None
        directory = config.path.parent
        return directory if (directory / CONTROL_FILE).exists() else None

    async def inject(self, fault: str) -> None:
        """Break the drill world on purpose, now; on the timeline. LookupError when this
        cockpit watches no drill world, ControlError when the world refused."""
        from cockpit.world.control import send_fault

        directory = self.world_dir()
        if directory is None:
            raise LookupError("no drill world to inject a fault into")
        await asyncio.to_thread(send_fault, directory, fault, strict=True)
        self.record("drill.inject", f"injected fault {fault}")

    def revert_target(self) -> str:
        """The service `R` acts on: the suspect deploy's, else the latest deploy's."""
        assessment = self.view.assessment
        deploy: Deploy | None = assessment.suspect or next(iter(assessment.deploys), None)
        return deploy.service if deploy is not None else self.config.cockpit.service

    async def active_runs(self) -> tuple[Run, ...]:
        """The reverts and actions still going, read from their folders now: the last refresh
        may be seconds old, and one may have finished since (or started)."""
        if self.catalog is None:
            return ()
        runs = await asyncio.to_thread(self.catalog.scan)
        return tuple(r for r in runs if r.active)

    def running(self, service: str | None = None) -> Run | None:
        """The revert or action running on `service` (any cockpit's), as last seen."""
        name = service or self.revert_target()
        return next((r for r in self._stored.runs if r.active and r.service == name), None)

    def plan_revert(self, service: str | None = None) -> RevertPlan:
        self._writable("revert")
        name = service or self.revert_target()
        try:
            return plan_revert(self.config.service(name), self.view.assessment.deploys)
        except VersionRefused as refused:
            self._refused(refused)
            raise

    def _refused(self, refused: VersionRefused) -> None:
        """A refused revert is on record: the audit log (with the exact version) and the
        timeline. Neither failing hides the refusal itself, which the caller shows."""
        entry = {"who": self.user, "when": iso_utc(utcnow()), "host": host_name()}
        if self.data_dir is not None:
            with contextlib.suppress(OSError):
                append_audit(self.data_dir, {**entry, **refused.audit()})
        with contextlib.suppress(Exception):
            version = identity(refused.deploy.version)
            self.record(
                "revert.refused",
                f"revert of {refused.service} refused: the {refused.role} version {version} "
                f"{refused.why}",
            )

    def top_suspect(self) -> Change | None:
        """The change suspected first while degraded, else None."""
        suspects = self.view.assessment.suspects if self.view.assessment.degraded else ()
        return suspects[0].change if suspects else None

    def plan_change_revert(self, change: Change | None = None) -> RevertPlan | ChangeRevertPlan:
        """The revert of `change` (default: what `R` plans, `plan_suspect_revert`). A deploy
        goes back through its service's revert; another change through its source's `revert`
        template; RevertError says why there is no plan."""
        self._writable("revert")
        if change is None:
            return self.plan_suspect_revert()[0]
        if change.deploy is not None:
            return self.plan_revert(change.deploy.service)
        return plan_change_revert(change, self.config.change_source(str(change.source)))

    def plan_suspect_revert(self) -> tuple[RevertPlan | ChangeRevertPlan, tuple[str, ...]]:
        """What `R` plans with no change selected: the top suspect; when it cannot be
        reverted (a maintenance run has no revert), the deploy `R` always reverted, and why
        the top suspect was not planned."""
        self._writable("revert")
        top = self.top_suspect()
        skipped: tuple[str, ...] = ()
        if top is not None:
            try:
                return self.plan_change_revert(top), ()
            except VersionRefused:
                raise  # a forged record: on record, and said, never passed over
            except RevertError as exc:
                skipped = (exc.reason,)
        try:
            return self.plan_revert(), skipped
        except VersionRefused:
            raise
        except RevertError as exc:
            raise RevertError("; ".join([*skipped, exc.reason])) from None

    async def start(self, plan: RevertPlan | ChangeRevertPlan | ActionPlan) -> Run:
        """Start a revert or an action under its own supervisor; returns once it runs (or was
        refused: its result then says why). Raises RunError when it cannot start at all."""
        what = "revert" if not isinstance(plan, ActionPlan) else f"action {plan.name}"
        self._writable(what)
        if self.data_dir is None:
            raise RunError("no data dir to run it in")
        try:
            target = store_target(self.config)
        except StoreError as exc:
            raise RunError(f"not started: {exc}") from None
        run = await start_run(self.data_dir, plan, self.user, store=target)
        await self.sync()
        return run

    async def follow(
        self,
        run: Run,
        on_output: Callable[[str], None],
        on_status: Callable[[Run], None] | None = None,
        *,
        verify: bool = False,
    ) -> RevertOutcome:
        """Show a run's output from its start until it ends; cancelling only stops watching.
        With `verify`, a successful end starts the recovery watch."""
        ended = await follow_run(run, on_output, on_status)
        outcome = ended.outcome()
        assert outcome is not None
        if verify:
            self._verify(outcome, "the revert" if run.kind == "revert" else run.describe)
        await self.sync()
        return outcome

    async def revert(
        self, plan: RevertPlan | ChangeRevertPlan, on_output: Callable[[str], None]
    ) -> RevertOutcome:
        return await self._run(plan, on_output)

    def action_names(self, service: str | None = None) -> tuple[str, ...]:
        """The runbook actions of the service `R` would act on (e.g. failover)."""
        return action_names(self.config.service(service or self.revert_target()))

    def plan_action(self, name: str, service: str | None = None) -> ActionPlan:
        self._writable(f"action {name}")
        svc = self.config.service(service or self.revert_target())
        return plan_action(svc, name, self.view.assessment.deploys)

    async def run_action(self, plan: ActionPlan, on_output: Callable[[str], None]) -> RevertOutcome:
        return await self._run(plan, on_output)

    async def _run(
        self, plan: RevertPlan | ChangeRevertPlan | ActionPlan, on_output: Callable[[str], None]
    ) -> RevertOutcome:
        try:
            run = await self.start(plan)
        except RunError as exc:
            now = utcnow()
            on_output(str(exc))
            return RevertOutcome(False, None, str(exc), (str(exc),), now, now, result="error")
        return await self.follow(run, on_output, verify=True)

    def _verify(self, outcome: RevertOutcome, what: str) -> None:
        if outcome.ok and not outcome.dry_run:
            self._watch = RecoveryWatch(
                outcome.finished_at or utcnow(), self.config.detect.verify_minutes, what
            )

    async def latest_incident(self) -> Incident | None:
        """The incident an export is about: the open one, else the latest."""
        return await self.storage.call(
            lambda store: store.open_incident() or next(iter(store.list()), None)
        )

    async def export_incident(self) -> Incident:
        incident = await self.latest_incident()
        if incident is None:
            raise LookupError("no incident to export: declare one first (d)")
        return incident

    async def incident_events(self, incident: Incident) -> list[TimelineEvent]:
        return await self.storage.call(lambda store: store.incident_events(incident))

    async def draft(self) -> str:
        """The Markdown draft as it would be written now, for a preview."""
        from cockpit.incident.export import render_incident

        incident = await self.export_incident()
        markdown = await self.storage.call(lambda store: render_incident(store, incident, "md"))
        return self._with_sections(markdown)

    def _incident_since(self) -> datetime | None:
        incident = self.view.incident
        return (incident.impact_started_at or incident.declared_at) if incident else None

    def _probe_history(self) -> str:
        from cockpit.incident.export import probe_history_markdown

        return probe_history_markdown(self.view.assessment.probes, self._incident_since())

    def _page(self) -> str:
        from cockpit.alerts.view import detection_markdown

        view = self.view
        impact = view.incident.impact_started_at if view.incident else None
        return detection_markdown(view.alerts.alerts, view.timeline, impact)

    def _with_sections(self, markdown: str) -> str:
        extra = [s for s in (section().strip() for section in self.export_sections) if s]
        return "\n\n".join([markdown.rstrip(), *extra]) + "\n" if extra else markdown

    async def export(self, formats: Sequence[str] = ("md",)) -> list[Path]:
        """Write the timeline draft of the open incident (else the latest one)."""
        from cockpit.incident.export import export_incident

        data_dir = self.data_dir
        if data_dir is None:
            raise StoreUnavailable("no data dir to write the export to")
        incident = await self.export_incident()
        sections = self._with_sections

        def write(store: IncidentStore) -> list[Path]:
            paths = export_incident(store, data_dir, incident, tuple(formats))
            for path in paths:
                if path.suffix == ".md" and self.export_sections:
                    path.write_text(sections(path.read_text(encoding="utf-8")))
                elif path.suffix == ".json":
                    add_probe_history(path, history)
            return paths

        from cockpit.incident.export import add_probe_history, probe_history_json

        history = probe_history_json(self.view.assessment.probes, self._incident_since())

        paths = await self.storage.call(write)
        self.record_event(
            TimelineEvent(
                utcnow(), "export", f"timeline draft exported to {paths[0].name}", "cockpit"
            )
        )
        await self.sync()
        return paths

    def record_event(self, event: TimelineEvent) -> None:
        self.storage.queue(event)
        self._kick()


def _replace_runs(stored: _Stored, runs: tuple[Run, ...]) -> _Stored:
    return _Stored(
        stored.incident, stored.latest_id, stored.timeline, stored.status_times, runs, stored.read
    )
