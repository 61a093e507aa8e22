"""The cockpit without a screen: hub -> detector -> store, and the actions a user can take.

The TUI and headless drills both drive this object; the TUI only renders its `View`s and turns
keys into calls here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cockpit.actions.declare import DeclareRequest, declare
from cockpit.actions.revert import RevertOutcome, RevertPlan, plan_revert, run_revert
from cockpit.actions.whoami import current_user
from cockpit.config import Config
from cockpit.detect import Assessment, Detector, DetectSettings
from cockpit.hub import Hub, Snapshot
from cockpit.incident.export import write_export
from cockpit.incident.store import IncidentStore
from cockpit.model import Deploy, Incident, IncidentStatus, TimelineEvent
from cockpit.sources.base import Source
from cockpit.textsafe import one_line
from cockpit.timeutil import utcnow

TIMELINE_ROWS = 50
INCIDENT_TICK = 2.0  # how often another process's changes to the incident are picked up


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
        self._view: View | None = None

    @property
    def drill(self) -> bool:
        return self.config.cockpit.drill

    # -- observing -----------------------------------------------------------------------------

    def refresh(self) -> View:
        """Fold the newest snapshot into judgements, save new events, and build a view."""
        snapshot = self.hub.snapshot()
        assessment = self.detector.observe(snapshot)
        for event in assessment.events:
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

    async def aclose(self) -> None:
        await self.hub.aclose()
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
            title += f" after deploy {view.assessment.suspect.version}"
        return DeclareRequest(
            title=title,
            severity="SEV2",
            commander=self.user,
            impact_started_at=view.assessment.first_failure_at,
        )

    def declare(self, request: DeclareRequest) -> Incident:
        self._writable("declaring an incident")
        incident = declare(self.store, request, drill=self.drill)
        self.refresh()
        return incident

    def record(self, kind: str, text: str) -> None:
        """A user's act as a timeline event, with who did it."""
        self.store.add_event(
            TimelineEvent(utcnow(), kind, f"{self.user}: {one_line(text)}", "cockpit")
        )
        self.refresh()

    def note(self, text: str) -> None:
        self._writable("adding a note")
        self.record("note", text)

    def revert_target(self) -> str:
        """The service `R` acts on: the suspect deploy's, else the latest deploy's."""
        assessment = self.view.assessment
        deploy: Deploy | None = assessment.suspect or next(iter(assessment.deploys), None)
        return deploy.service if deploy is not None else self.config.cockpit.service

    def plan_revert(self, service: str | None = None) -> RevertPlan:
        self._writable("revert")
        name = service or self.revert_target()
        return plan_revert(self.config.service(name), self.view.assessment.deploys)

    async def revert(self, plan: RevertPlan, on_output: Callable[[str], None]) -> RevertOutcome:
        self._writable("revert")
        outcome = await run_revert(
            plan, store=self.store, data_dir=self.data_dir, user=self.user, on_output=on_output
        )
        self.refresh()
        return outcome

    def export(self, formats: Sequence[str] = ("md",)) -> list[Path]:
        """Write the timeline draft of the open incident (else the latest one)."""
        incident = self.store.open_incident() or next(iter(self.store.list()), None)
        if incident is None:
            raise LookupError("no incident to export: declare one first (d)")
        paths = write_export(
            self.data_dir, incident, self.store.incident_events(incident), formats=tuple(formats)
        )
        self.store.add_event(
            TimelineEvent(
                utcnow(), "export", f"timeline draft exported to {paths[0].name}", "cockpit"
            )
        )
        self.refresh()
        return paths
