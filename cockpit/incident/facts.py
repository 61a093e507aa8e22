"""The moments of an incident and the durations between them, as a postmortem states them.

"Detected" is the first detector event at or after the impact start: a probe going down, a 5xx
spike starting, a probe failing only under concurrency, or a blind spot (see DETECTOR_KINDS).
A new Sentry issue does not count: its time is when Sentry first saw the error, which may be
an old, unrelated issue (the Files.com morning had exactly that). A person's correction of the
detected time wins over the timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cockpit.incident.store.corrections import parse_correction_key
from cockpit.incident.store.incidents import IncidentTimes
from cockpit.model import Incident, TimelineEvent
from cockpit.timeutil import duration

# Kinds written by cockpit.detect.detector that mean "the tooling saw the failure".
DETECTOR_KINDS = frozenset({"probe.down", "spike.start", "concurrency", "blind_spot"})
# Kinds that say where monitoring was blind: a spike no error tracker reported, and a failure
# only concurrent sessions show.
GAP_KINDS = frozenset({"blind_spot", "concurrency"})

DETECTED_RULE = (
    "detected = the first detector event (probe.down, spike.start, concurrency, blind_spot) "
    "at or after the impact start, unless corrected by hand"
)


@dataclass(frozen=True, slots=True)
class Measure:
    name: str  # "time to detect"
    formula: str  # "detected - impact start"
    seconds: float | None  # None when one of its ends is unknown


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    impact_started: datetime | None
    detected: datetime | None
    detected_by: TimelineEvent | None  # the event that set `detected`, None if corrected
    detected_corrected: bool
    declared: datetime
    identified: datetime | None
    mitigated: datetime | None
    resolved: datetime | None
    measures: tuple[Measure, ...]
    gaps: tuple[TimelineEvent, ...]


def first_detection(
    events: Sequence[TimelineEvent], impact_started: datetime | None
) -> TimelineEvent | None:
    candidates = [
        e
        for e in events
        if e.kind in DETECTOR_KINDS and (impact_started is None or e.at >= impact_started)
    ]
    return min(candidates, key=lambda e: e.at, default=None)


def _last_status(events: Sequence[TimelineEvent], status: str) -> datetime | None:
    times = [e.at for e in events if e.kind == f"status.{status}"]
    return max(times, default=None)


def _corrections(incident: Incident, events: Sequence[TimelineEvent]) -> dict[str, datetime]:
    """Field -> corrected value, the latest correction of each winning."""
    out: dict[str, datetime] = {}
    for event in sorted(events, key=lambda e: e.at):
        parsed = parse_correction_key(event.key) if event.kind.startswith("correction.") else None
        if parsed is not None and parsed[0] == incident.id:
            out[parsed[1]] = parsed[2]
    return out


def times_from_events(incident: Incident, events: Sequence[TimelineEvent]) -> IncidentTimes:
    """What the incident row and its timeline say, for callers without the store's times:
    status times from status events, corrected ones from correction events."""
    fixed = _corrections(incident, events)
    return IncidentTimes(
        declared=incident.declared_at,
        impact_started=incident.impact_started_at,
        detected=fixed.get("detected"),
        investigating=incident.declared_at,
        identified=fixed.get("identified") or _last_status(events, "identified"),
        mitigated=fixed.get("mitigated") or _last_status(events, "mitigated"),
        resolved=incident.resolved_at,
    )


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def incident_facts(
    incident: Incident, events: Sequence[TimelineEvent], times: IncidentTimes | None = None
) -> IncidentFacts:
    times = times or times_from_events(incident, events)
    by = None if times.detected else first_detection(events, times.impact_started)
    detected = times.detected or (by.at if by else None)
    start = times.impact_started
    measures = (
        Measure("time to detect", "detected - impact start", _between(start, detected)),
        Measure("time to declare", "declared - detected", _between(detected, times.declared)),
        Measure("time to mitigate", "mitigated - impact start", _between(start, times.mitigated)),
        Measure("time to resolve", "resolved - impact start", _between(start, times.resolved)),
    )
    return IncidentFacts(
        impact_started=start,
        detected=detected,
        detected_by=by,
        detected_corrected=times.detected is not None,
        declared=times.declared,
        identified=times.identified,
        mitigated=times.mitigated,
        resolved=times.resolved,
        measures=measures,
        gaps=tuple(sorted((e for e in events if e.kind in GAP_KINDS), key=lambda e: e.at)),
    )


def signed_duration(seconds: float) -> str:
    """2m 05s, or -3m 00s when the second moment came first (declared before detection)."""
    return duration(seconds) if seconds >= 0 else f"-{duration(-seconds)}"
