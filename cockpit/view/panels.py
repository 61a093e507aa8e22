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
from cockpit.view.header import HeaderView, header_view
from cockpit.view.probes import ProbesView, RowCache, probes_view
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
    header: HeaderView = field(default_factory=HeaderView)


class _Memo:
    """The last view data of one panel and what it was built from: the readings (compared by
    identity, a source that did not poll again keeps its very reading) and the rest (compared
    by value)."""

    def __init__(self) -> None:
        self.readings: tuple[object, ...] = ()
        self.rest: object = None
        self.data: object = None

    def same(self, readings: tuple[object, ...], rest: object) -> bool:
        return (
            self.data is not None
            and len(readings) == len(self.readings)
            and all(a is b for a, b in zip(readings, self.readings, strict=True))
            and rest == self.rest
        )

    def keep(self, readings: tuple[object, ...], rest: object, data: object) -> None:
        self.readings, self.rest, self.data = readings, rest, data


class PanelBuilder:
    """Builds `Panels`; a panel whose inputs are the very objects of the last build (a source
    that did not poll again) keeps its last view data. Ten thousand Sentry issues are then
    ranked once per poll of Sentry and three hours of 5xx buckets summed once per poll of the
    log, not once per refresh (a refresh follows every poll of any source)."""

    def __init__(self) -> None:
        self._sentry = _Memo()
        self._errors = _Memo()
        self._probe_rows: RowCache = {}
        self._last: (
            tuple[Snapshot, Assessment, Incident | None, Mapping[IncidentStatus, datetime], Panels]
            | None
        ) = None

    def build(
        self,
        snapshot: Snapshot,
        assessment: Assessment,
        incident: Incident | None,
        status_times: Mapping[IncidentStatus, datetime],
    ) -> Panels:
        # A view built again after the store was read (same snapshot, same assessment): the
        # panels are what they were unless the incident moved.
        last = self._last
        if (
            last is not None
            and last[0] is snapshot
            and last[1] is assessment
            and last[2] == incident
            and last[3] == status_times
        ):
            return last[4]
        panels = self._build(snapshot, assessment, incident, status_times)
        self._last = (snapshot, assessment, incident, status_times, panels)
        return panels

    def _build(
        self,
        snapshot: Snapshot,
        assessment: Assessment,
        incident: Incident | None,
        status_times: Mapping[IncidentStatus, datetime],
    ) -> Panels:
        return Panels(
            probes_view(snapshot, assessment, self._probe_rows),
            deploys_view(snapshot, assessment),
            self._errors_view(snapshot, assessment, incident, status_times),
            self._sentry_view(snapshot, assessment),
            header_view(assessment),
        )

    def _errors_view(
        self,
        snapshot: Snapshot,
        assessment: Assessment,
        incident: Incident | None,
        status_times: Mapping[IncidentStatus, datetime],
    ) -> ErrorsView:
        readings = tuple(reading for _, reading in snapshot.of(Category.ERRORS))
        rest = (
            source_lines(snapshot, Category.ERRORS),
            assessment.spikes,
            assessment.baselines,
            tuple(d.at for d in assessment.deploys),
            incident.declared_at if incident is not None else None,
            status_times.get(IncidentStatus.MITIGATED) if incident is not None else None,
        )
        memo = self._errors
        if not memo.same(readings, rest):
            memo.keep(readings, rest, errors_view(snapshot, assessment, incident, status_times))
        assert isinstance(memo.data, ErrorsView)
        return memo.data

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
        memo = self._sentry
        if not memo.same(readings, rest):
            memo.keep(readings, rest, sentry_view(snapshot, assessment))
        assert isinstance(memo.data, SentryView)
        return memo.data
