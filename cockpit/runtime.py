"""The cockpit without a screen: hub -> detector -> store, and the actions a user can take.

The TUI and headless drills both drive this object; the TUI only renders its `View`s and turns
keys into calls here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.actions.audit import append_audit
from cockpit.actions.declare import DeclareRequest
from cockpit.actions.revert import RevertOutcome, RevertPlan, plan_revert, run_revert
from cockpit.actions.revert_plan import VersionRefused
from cockpit.actions.runbook import ActionPlan, action_names, plan_action, run_action
from cockpit.actions.verify import RecoveryWatch
from cockpit.actions.whoami import current_user, host_name
from cockpit.config import Config
from cockpit.detect import Assessment, Detector, DetectSettings
from cockpit.hub import Hub, Snapshot
from cockpit.incident.export import export_incident, render_incident
from cockpit.incident.lifecycle import Lifecycle
from cockpit.incident.store import IncidentStore
from cockpit.model import Deploy, Incident, IncidentStatus, TimelineEvent
from cockpit.sources.base import Source
from cockpit.textsafe import identity, one_line
from cockpit.timeutil import iso_utc, utcnow

if TYPE_CHECKING:
    from cockpit.notify.notifier import Notifier

TIMELINE_ROWS = 50
INCIDENT_TICK = 2.0  # how often another process's changes to the incident are picked up
NOTIFY_DRAIN = 5.0  # seconds quitting waits for notifications still being sent


def _report_source_bug(source: Source, exc: BaseException) -> None:
    from cockpit.selfreport import report_exception

    report_exception(exc)  # a no-op unless self-reporting is on; SourceErrors are not bugs


class ReadOnlyError(Exception):
    """An action that changes things was asked of a read-only cockpit."""


@dataclass(frozen=True, slots=True)
class View:
    snapshot: Snapshot
    assessment: Assessment
    incident: Incident | None
    timeline: tuple[TimelineEvent, ...]  # newest last
    # When the open incident reached each status (investigating, identified, mitigated ...).
    status_times: Mapping[IncidentStatus, datetime] = field(default_factory=dict)


class Cockpit:
    def __init__(
        self,
        config: Config,
        data_dir: Path,
        *,
        read_only: bool = False,
        sources: Sequence[Source] | None = None,
        user: str | None = None,
        detect: DetectSettings | None = None,
    ):
        from cockpit.sources.registry import build_source

        self.config = config
        self.data_dir = data_dir
        self.read_only = read_only
        self.user = user or current_user()
        self.hub = Hub(
            sources if sources is not None else [build_source(c) for c in config.sources()],
            on_error=_report_source_bug,
        )
        self.detector = Detector(config, detect)
        self.store = IncidentStore.in_data_dir(data_dir)
        self.notifier: Notifier | None = None
        if config.notify:  # httpx only when something is to be sent
            from cockpit.notify.notifier import Notifier

            self.notifier = Notifier.from_config(self.store, config)
        self.lifecycle = Lifecycle(
            self.store, user=self.user, drill=self.drill, notifier=self.notifier
        )
        self._view: View | None = None
        self._watch: RecoveryWatch | None = None  # after a fix: did it work?
        # More Markdown sections for the draft (a drill adds its scored report).
        self.export_sections: list[Callable[[], str]] = []

    @property
    def drill(self) -> bool:
        return self.config.cockpit.drill

    # -- observing -----------------------------------------------------------------------------

    def refresh(self) -> View:
        """Fold the newest snapshot into judgements, save new events, and build a view."""
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
        for event in events:
            self.store.add_event(event)
        incident = self.store.open_incident()
        self._view = View(
            snapshot,
            assessment,
            incident,
            tuple(self.store.recent_events(TIMELINE_ROWS)),
            self.store.status_times(incident.id) if incident else {},
        )
        return self._view

    @property
    def view(self) -> View:
        return self._view or self.refresh()

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
        await self.hub.aclose()
        if self.notifier is not None:
            # Sends cut off here are found by `retry_failed` (cockpit incident retry) later.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.notifier.drain(), NOTIFY_DRAIN)
            await self.notifier.aclose()
        self.store.close()

    # -- acting --------------------------------------------------------------------------------

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only mode: {what} is disabled")

    def declare_request(self) -> DeclareRequest:
        """The form's defaults: the cockpit's service, the first failure it saw."""
        view = self.view
        title = f"{self.config.cockpit.service} degraded"
        if view.assessment.suspect is not None:
            title += f" after deploy {identity(view.assessment.suspect.version)}"
        return DeclareRequest(
            title=title,
            severity="SEV2",
            commander=self.user,
            impact_started_at=view.assessment.first_failure_at,
        )

    def declare(self, request: DeclareRequest) -> Incident:
        """Open the incident; configured channels are notified in the background."""
        self._writable("declaring an incident")
        incident = self.lifecycle.declare(request)
        self.refresh()
        return incident

    def set_status(self, status: IncidentStatus) -> Incident:
        """investigating -> identified -> mitigated -> resolved; resolving closes the page."""
        self._writable("changing the incident's status")
        incident = self.lifecycle.set_status(status)
        self.refresh()
        return incident

    def correct(self, field: str, new: datetime) -> TimelineEvent:
        self._writable("correcting a time")
        event = self.lifecycle.correct(field, new)
        self.refresh()
        return event

    def failed_notifications(self) -> int:
        incident = self.view.incident
        if incident is None:
            return 0
        return len(self.store.notifications(incident.id, status="failed"))

    async def retry_notifications(self) -> None:
        if self.notifier is not None:
            await self.notifier.retry_failed()
        self.refresh()

    def record(self, kind: str, text: str) -> None:
        """A user's act as a timeline event, with who did it."""
        self.store.add_event(
            TimelineEvent(utcnow(), kind, f"{self.user}: {one_line(text)}", "cockpit")
        )
        self.refresh()

    def note(self, text: str) -> None:
        self._writable("adding a note")
        self.lifecycle.note(text)
        self.refresh()

    def revert_target(self) -> str:
        """The service `R` acts on: the suspect deploy's, else the latest deploy's."""
        assessment = self.view.assessment
        deploy: Deploy | None = assessment.suspect or next(iter(assessment.deploys), None)
        return deploy.service if deploy is not None else self.config.cockpit.service

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
        with contextlib.suppress(OSError):
            append_audit(self.data_dir, {**entry, **refused.audit()})
        with contextlib.suppress(Exception):
            version = identity(refused.deploy.version)
            self.record(
                "revert.refused",
                f"revert of {refused.service} refused: the {refused.role} version {version} "
                f"{refused.why}",
            )

    async def revert(self, plan: RevertPlan, on_output: Callable[[str], None]) -> RevertOutcome:
        self._writable("revert")
        outcome = await run_revert(
            plan, store=self.store, data_dir=self.data_dir, user=self.user, on_output=on_output
        )
        self._verify(outcome, "the revert")
        self.refresh()
        return outcome

    def action_names(self, service: str | None = None) -> tuple[str, ...]:
        """The runbook actions of the service `R` would act on (e.g. failover)."""
        return action_names(self.config.service(service or self.revert_target()))

    def plan_action(self, name: str, service: str | None = None) -> ActionPlan:
        self._writable(f"action {name}")
        svc = self.config.service(service or self.revert_target())
        return plan_action(svc, name, self.view.assessment.deploys)

    async def run_action(self, plan: ActionPlan, on_output: Callable[[str], None]) -> RevertOutcome:
        self._writable(f"action {plan.name}")
        outcome = await run_action(
            plan, store=self.store, data_dir=self.data_dir, user=self.user, on_output=on_output
        )
        self._verify(outcome, plan.name)
        self.refresh()
        return outcome

    def _verify(self, outcome: RevertOutcome, what: str) -> None:
        if outcome.ok and not outcome.dry_run:
            self._watch = RecoveryWatch(
                outcome.finished_at or utcnow(), self.config.detect.verify_minutes, what
            )

    def export_incident(self) -> Incident:
        """The incident an export is about: the open one, else the latest."""
        incident = self.store.open_incident() or next(iter(self.store.list()), None)
        if incident is None:
            raise LookupError("no incident to export: declare one first (d)")
        return incident

    def draft(self) -> str:
        """The Markdown draft as it would be written now, for a preview."""
        return self._with_sections(render_incident(self.store, self.export_incident(), "md"))

    def _with_sections(self, markdown: str) -> str:
        extra = [section().strip() for section in self.export_sections]
        return "\n\n".join([markdown.rstrip(), *extra]) + "\n" if extra else markdown

    def export(self, formats: Sequence[str] = ("md",)) -> list[Path]:
        """Write the timeline draft of the open incident (else the latest one)."""
        incident = self.export_incident()
        paths = export_incident(self.store, self.data_dir, incident, tuple(formats))
        for path in paths:
            if path.suffix == ".md" and self.export_sections:
                path.write_text(self._with_sections(path.read_text(encoding="utf-8")))
        self.store.add_event(
            TimelineEvent(
                utcnow(), "export", f"timeline draft exported to {paths[0].name}", "cockpit"
            )
        )
        self.refresh()
        return paths
