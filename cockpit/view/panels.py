"""All panels' view data, and the builder the runtime keeps between refreshes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.model import Category, Incident, IncidentStatus, SentryIssues
from cockpit.view.deploys import DeploysView, deploys_view
from cockpit.view.errors import ErrorsView, errors_view
from cockpit.view.probes import ProbesView, probes_view
from cockpit.view.sentry import SentryView, sentry_view
from cockpit.view.sources import source_lines

if TYPE_CHECKING:
    from cockpit.hub import Snapshot


@dataclass(frozen=True, slots=True)
class Panels:
    probes: ProbesView = field(default_factory=ProbesView)
    deploys: DeploysView = field(default_factory=DeploysView)
    errors: ErrorsView = field(default_factory=ErrorsView)
    sentry: SentryView = field(default_factory=SentryView)


class PanelBuilder:
    """Builds `Panels`; a panel whose inputs are the very objects of the last build (a source
    that did not poll again) keeps its last view data, so ten thousand Sentry issues are ranked
    once per poll of Sentry, not once per refresh."""

    def __init__(self) -> None:
        self._readings: tuple[object, ...] = ()
        self._rest: tuple[object, ...] = ()
        self._sentry = SentryView()

    def build(
        self,
        snapshot: Snapshot,
        assessment: Assessment,
        incident: Incident | None,
        status_times: Mapping[IncidentStatus, datetime],
    ) -> Panels:
        return Panels(
            probes_view(snapshot, assessment),
            deploys_view(snapshot, assessment),
            errors_view(snapshot, assessment, incident, dict(status_times)),
            self._sentry_view(snapshot, assessment),
        )

    def _sentry_view(self, snapshot: Snapshot, assessment: Assessment) -> SentryView:
        readings = tuple(reading for _, reading in snapshot.of(Category.SENTRY))
        rest = (
            source_lines(snapshot, Category.SENTRY),
            assessment.suspect,
            assessment.blind_spot,
            assessment.blind_routes,
            assessment.blind_probes,
            assessment.first_failure_at,
            assessment.first_failure_known,
            tuple(
                bool(r.rate_limited_until and r.rate_limited_until > snapshot.at)
                for r in readings
                if isinstance(r, SentryIssues)
            ),
        )
        # Readings by identity: a poll that read the same issues again is ranked again once;
        # comparing ten thousand issues each refresh would cost what ranking them does.
        same = (
            len(readings) == len(self._readings)
            and all(a is b for a, b in zip(readings, self._readings, strict=True))
            and rest == self._rest
        )
        if not same:
            self._sentry = sentry_view(snapshot, assessment)
            self._readings, self._rest = readings, rest
        return self._sentry
