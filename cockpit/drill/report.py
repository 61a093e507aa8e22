"""The drill report: how fast the response was, in the scenario's own minutes, next to the real
incident and the best that was possible; which signals fired and when; what the responder did.

How each figure is measured (minutes after the first fault the world applied):
    detect    the first failure signal the cockpit showed (probe down, fails only under
              concurrency, 5xx spike, new Sentry issue, blind spot)
    declare   the incident's declaration
    mitigate  the first failing probe that passed again for good (it never failed again in
              the drill); a 5xx spike that ended for good when no probe ever failed
    recover   the last "recovered" (every probe passing, no spike) with no failure after it
Signals count from when the cockpit first showed them, not from the older evidence they cite.

The cockpit's own work takes wall seconds that no drill speed shortens: starting up until every
source answered once, and its runs (a revert's or an action's supervisor and commands, from
the request to their end). Starting three Python processes is a second or two on a loaded
bastion, which at 60x would read as two scenario minutes against the responder. Those seconds
count as they would at 1x (a second is a scenario second), so a figure is what the response
would have taken, at any speed and any load.

The impact starts with the first fault that broke something (a dry run, a harmless grants
change or an innocent deploy before it is a change on record, not the impact).

When the scenario names its real cause (a change), the report also says which change the
cockpit named first as its suspect and when, when it first named the real cause (minutes after
the impact start, on the scenario clock), and whether the responder reverted the right change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.drill.cause import ChangeRef
from cockpit.drill.scenario import MILESTONES, QUIET_FAULTS, Scenario
from cockpit.drill.schedule import DrillClock, FaultRecord
from cockpit.model import Incident, TimelineEvent
from cockpit.term.textsafe import one_line, strip_controls
from cockpit.timeutil import duration, iso_utc, utc_stamp

if TYPE_CHECKING:
    from cockpit.runtime import View

REPORT_STEM = "drill-report"
JSON_FORMAT = "oncall-cockpit.drill-report"
JSON_VERSION = 1

LABELS = {
    "detected": "detect",
    "declared": "declare",
    "mitigated": "mitigate",
    "resolved": "recover",
}
# Signal name -> the detector event kinds that raise it.
SIGNALS: dict[str, tuple[str, ...]] = {
    "probe": ("probe.down",),
    "concurrency": ("concurrency",),
    "5xx": ("spike.start",),
    "sentry": ("sentry.new",),
    "blind spot": ("blind_spot",),
    "page": ("alert.firing",),
}
# Signals only a scenario whose world runs an Alertmanager can raise.
_ALERT_SIGNALS = frozenset({"page"})
_SIGNAL_OF = {kind: name for name, kinds in SIGNALS.items() for kind in kinds}
_FAILING = ("probe.down", "spike.start")
# What a responder does, by the first part of the event kind.
ACT_KINDS = frozenset(
    {"declared", "note", "revert", "action", "status", "export", "notify", "silence"}
)
# The faults that break sessions only when several are open at once: a "fails only under
# concurrency" signal under any other fault is the detector reading chance (a failover's
# lingering tail fails a four-session probe more often than a single one), not the scenario.
CONCURRENCY_FAULTS = frozenset({"bad_deploy"})
_CLOCK_IN_TEXT = re.compile(r"(?<![\d.:])(\d{2}):(\d{2})(?::(\d{2}))?(?!\d|:\d)")
_SECONDS_AFTER = re.compile(r"\b(\d+) s after\b")


def on_scenario_clock(text: str, real: datetime, clock: DrillClock) -> str:
    """An event's text with its wall-clock times ("failing since 06:48:10", "10 s after the
    revert") told on the scenario clock, like every other figure of the report."""
    local = real.astimezone()
    zone = clock.scenario_start.tzinfo

    def clock_time(match: re.Match[str]) -> str:
        hour, minute = int(match[1]), int(match[2])
        second = int(match[3]) if match[3] is not None else 0
        if hour > 23 or minute > 59 or second > 59:
            return match[0]
        said = local.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if said > local + timedelta(hours=12):
            said -= timedelta(days=1)
        elif said < local - timedelta(hours=12):
            said += timedelta(days=1)
        # The text cut the time to its second (or minute): on a compressed clock that is many
        # scenario seconds, enough to tell a failure as begun before the fault. The event's own
        # time, when the text names it, is taken exactly.
        step = timedelta(seconds=1 if match[3] is not None else 60)
        if said <= local < said + step:
            said = local
        scenario = clock.scenario_at(said.astimezone(UTC)).astimezone(zone)
        return scenario.strftime("%H:%M:%S" if match[3] is not None else "%H:%M")

    def seconds_after(match: re.Match[str]) -> str:
        return f"{duration(int(match[1]) * clock.speed)} after"

    return _SECONDS_AFTER.sub(seconds_after, _CLOCK_IN_TEXT.sub(clock_time, text))


@dataclass(frozen=True)
class Milestone:
    name: str  # one of MILESTONES
    label: str  # detect, declare, mitigate, recover
    at: datetime | None  # scenario clock
    minutes: float | None  # after the impact start
    real_minutes: float | None  # the real incident's
    best_minutes: float | None
    # The milestone split in two: what the cockpit showed (the tool) and what the responder
    # did (the person); either may be None (nothing to show for a declaration).
    shown_minutes: float | None = None
    shown_what: str = ""
    acted_minutes: float | None = None
    acted_what: str = ""

    @property
    def versus_real(self) -> float | None:
        """Minutes faster (positive) or slower (negative) than the real incident."""
        if self.minutes is None or self.real_minutes is None:
            return None
        return self.real_minutes - self.minutes


@dataclass(frozen=True)
class Signal:
    name: str  # probe, concurrency, 5xx, sentry, blind spot
    kind: str
    text: str  # inert
    shown_at: datetime  # scenario clock
    minutes: float  # after the impact start


@dataclass(frozen=True)
class Page:
    """The page: the first alert that fired after the impact began, against the impact start;
    when the cockpit showed it, when the responder silenced it, when it resolved."""

    text: str  # inert: the alert as the cockpit described it
    fired_at: datetime  # scenario clock: the alert's startsAt
    minutes: float | None  # after the impact start
    shown_at: datetime  # scenario clock
    silenced_at: datetime | None = None
    resolved_at: datetime | None = None  # scenario clock: the alert's endsAt
    resolved_minutes: float | None = None


@dataclass(frozen=True)
class Act:
    kind: str
    text: str  # inert
    at: datetime  # scenario clock
    minutes: float | None


@dataclass(frozen=True)
class AppliedFault:
    fault: str
    origin: str
    at: datetime  # scenario clock
    ok: bool
    detail: str


@dataclass(frozen=True)
class NamedChange:
    """A change the cockpit put at the top of its suspects, or one the responder reverted."""

    what: str  # inert
    at: datetime  # scenario clock
    minutes: float | None  # after the impact start
    is_cause: bool


@dataclass(frozen=True)
class CauseVerdict:
    """The scenario's real cause against what the cockpit named and the responder reverted."""

    cause: str  # the real cause in words
    named: tuple[NamedChange, ...]  # each top suspect, in the order the cockpit named them
    named_minutes: float | None  # first named the real cause as its top suspect
    listed_minutes: float | None  # first listed the real cause among its suspects at all
    reverted: tuple[NamedChange, ...]  # every revert started, in order

    @property
    def first_named_was_cause(self) -> bool | None:
        return self.named[0].is_cause if self.named else None

    @property
    def reverted_cause(self) -> bool:
        return any(r.is_cause for r in self.reverted)

    @property
    def reverted_other(self) -> tuple[NamedChange, ...]:
        return tuple(r for r in self.reverted if not r.is_cause)


@dataclass(frozen=True)
class DrillReport:
    scenario: str
    title: str
    speed: float
    real_start: datetime  # UTC
    scenario_start: datetime
    ended_at: datetime  # scenario clock
    impact_start: datetime | None  # scenario clock
    milestones: tuple[Milestone, ...]
    signals: tuple[Signal, ...]  # every failure signal shown after the impact, in order
    silent: tuple[str, ...]  # signal names that never fired
    acts: tuple[Act, ...]
    faults: tuple[AppliedFault, ...]
    still_failing: tuple[str, ...]  # what the cockpit still showed failing at the end
    # Probes that failed again (or still) after the first failure cleared: a partial recovery.
    lingering: tuple[str, ...] = ()
    incident_id: int | None = None
    # Scenario time the cockpit started, for a drill that opens it mid-incident: detection
    # is scored from then (nothing could see the failure before it looked).
    opened_at: datetime | None = None
    reference_source: str = ""
    reference_notes: str = ""
    best_source: str = ""
    cause: CauseVerdict | None = None  # when the scenario names its real cause
    page: Page | None = None  # when the world's Alertmanager paged
    files: tuple[Path, ...] = field(default=())
    # Wall seconds of the cockpit's own work after the impact, counted at 1x (see above).
    own_seconds: float = 0.0

    def milestone(self, name: str) -> Milestone:
        return next(m for m in self.milestones if m.name == name or m.label == name)

    def first(self, signal: str) -> Signal | None:
        return next((s for s in self.signals if s.name == signal), None)


def build_report(
    scenario: Scenario,
    clock: DrillClock,
    *,
    faults: Sequence[FaultRecord],
    events: Iterable[TimelineEvent],
    shown: Iterable[tuple[TimelineEvent, datetime]],
    incidents: Iterable[Incident],
    last_view: View | None,
    ended_at: datetime,
    opened_at: datetime | None = None,
    named: Sequence[tuple[ChangeRef, datetime]] = (),
    listed: dict[ChangeRef, datetime] | None = None,
    reverted: Sequence[tuple[ChangeRef | None, str, datetime]] = (),
    own_time: Sequence[tuple[datetime, datetime]] = (),
) -> DrillReport:
    """All inputs carry real UTC times; the report is on the scenario clock. `own_time`: the
    spans the cockpit spent on its own wall-clock work (starting, its runs), counted at 1x."""
    applied = [f for f in faults if f.ok]
    breaking = [f for f in applied if f.fault not in QUIET_FAULTS]
    impact = breaking[0].at if breaking else None
    own = _merged(own_time)

    def minutes(real: datetime, since: datetime | None = None) -> float | None:
        start = since or impact
        if start is None:
            return None
        elapsed = (real - start).total_seconds()
        held = _overlap(own, start, real)
        return ((elapsed - held) * clock.speed + held) / 60

    detector = sorted(
        ((e, at) for e, at in shown if impact is not None and at >= impact), key=lambda p: p[1]
    )
    signals = []
    concurrency_from = min((f.at for f in applied if f.fault in CONCURRENCY_FAULTS), default=None)
    for event, at in detector:
        name = _SIGNAL_OF.get(event.kind)
        # A Sentry issue first seen before the fault is the unrelated one, not a signal.
        if name is None or (event.kind == "sentry.new" and impact and event.at < impact):
            continue
        if event.kind == "concurrency" and (concurrency_from is None or at < concurrency_from):
            continue  # no fault of the scenario fails only under concurrency
        signals.append(
            Signal(
                name,
                event.kind,
                one_line(on_scenario_clock(event.text, event.at, clock), 300),
                clock.scenario_at(at),
                minutes(at) or 0.0,
            )
        )
    detected = signals[0] if signals else None
    cleared = _cleared_for_good(detector)
    recovered = None
    for event, at in detector:
        if event.kind == "recovered":
            recovered = recovered or at
        elif event.kind in _FAILING:
            recovered = None
    started = [i for i in incidents if i.declared_at >= clock.real_start]
    incident = min(started, key=lambda i: i.declared_at) if started else None

    reached: dict[str, datetime | None] = {
        "detected": _real_of(detected, clock),
        "declared": incident.declared_at if incident else None,
        "mitigated": cleared,
        "resolved": recovered,
    }
    acted_events = [
        e
        for e in sorted(events, key=lambda e: e.at)
        if e.kind.split(".", 1)[0] in ACT_KINDS and e.at >= clock.real_start
    ]
    split = _split(
        detected=reached["detected"],
        cleared=cleared,
        recovered=recovered,
        acts=[e for e in acted_events if impact is None or e.at >= impact],
        declared=reached["declared"],
    )
    late = (
        opened_at if opened_at is not None and impact is not None and opened_at > impact else None
    )

    def scored(name: str, when: datetime) -> float | None:
        if name == "detected" and late is not None:
            return minutes(when, since=late)
        return minutes(when)

    milestones = tuple(
        Milestone(
            name,
            LABELS[name],
            None if (when := reached[name]) is None else clock.scenario_at(when),
            None if when is None else scored(name, when),
            scenario.real_minutes(name),
            scenario.best.get(name),
            shown_minutes=None if (seen := split[name][0]) is None else minutes(seen[0]),
            shown_what=seen[1] if seen else "",
            acted_minutes=None if (did := split[name][1]) is None else minutes(did[0]),
            acted_what=did[1] if did else "",
        )
        for name in MILESTONES
    )
    acts = tuple(
        Act(
            e.kind,
            one_line(on_scenario_clock(e.text, e.at, clock), 300),
            clock.scenario_at(e.at),
            minutes(e.at),
        )
        for e in acted_events
    )
    fired = {s.name for s in signals}
    still = _still_failing(last_view)
    lingering: list[str] = []
    if cleared is not None:
        after = [e.source for e, at in detector if e.kind == "probe.down" and at > cleared]
        down_at_end = [text.removeprefix("probe ") for text in still if text.startswith("probe ")]
        lingering = sorted(set(after) | set(down_at_end))
    return DrillReport(
        scenario=scenario.name,
        title=scenario.title,
        speed=clock.speed,
        real_start=clock.real_start,
        scenario_start=clock.scenario_start,
        ended_at=clock.scenario_at(ended_at),
        impact_start=None if impact is None else clock.scenario_at(impact),
        milestones=milestones,
        signals=tuple(signals),
        silent=tuple(
            name
            for name in SIGNALS
            if name not in fired and (scenario.alertmanager or name not in _ALERT_SIGNALS)
        ),
        page=_page(detector, acted_events, clock, minutes),
        acts=acts,
        faults=tuple(
            AppliedFault(f.fault, f.origin, clock.scenario_at(f.at), f.ok, one_line(f.detail, 200))
            for f in faults
        ),
        still_failing=still,
        lingering=tuple(one_line(name, 120) for name in lingering),
        incident_id=incident.id if incident else None,
        opened_at=None if opened_at is None else clock.scenario_at(opened_at),
        reference_source=scenario.reference_source,
        reference_notes=scenario.reference_notes,
        best_source=scenario.best_source,
        cause=_verdict(scenario, clock, minutes, named, listed or {}, reverted),
        own_seconds=0.0 if impact is None else _overlap(own, impact, ended_at),
    )


def _merged(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _overlap(spans: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Seconds of `spans` (merged) inside start..end."""
    return sum(
        max(0.0, (min(end, b) - max(start, a)).total_seconds()) for a, b in spans if b > start
    )


def _verdict(
    scenario: Scenario,
    clock: DrillClock,
    minutes: Any,
    named: Sequence[tuple[ChangeRef, datetime]],
    listed: dict[ChangeRef, datetime],
    reverted: Sequence[tuple[ChangeRef | None, str, datetime]],
) -> CauseVerdict | None:
    cause = scenario.cause
    if cause is None:
        return None
    since = clock.real_start

    def is_cause(ref: ChangeRef | None) -> bool:
        return ref is not None and ref.is_cause(cause, since)

    tops = tuple(
        NamedChange(
            one_line(ref.describe(), 200), clock.scenario_at(at), minutes(at), is_cause(ref)
        )
        for ref, at in named
    )
    first_named = next((at for ref, at in named if is_cause(ref)), None)
    first_listed = min((at for ref, at in listed.items() if is_cause(ref)), default=None)
    reverts = tuple(
        NamedChange(
            one_line(ref.describe() if ref is not None else text, 200),
            clock.scenario_at(at),
            minutes(at),
            is_cause(ref),
        )
        for ref, text, at in reverted
    )
    return CauseVerdict(
        cause=one_line(cause.what, 200),
        named=tops,
        named_minutes=None if first_named is None else minutes(first_named),
        listed_minutes=None if first_listed is None else minutes(first_listed),
        reverted=reverts,
    )


Moment = tuple[datetime, str]


def _split(
    *,
    detected: datetime | None,
    cleared: datetime | None,
    recovered: datetime | None,
    acts: Sequence[TimelineEvent],
    declared: datetime | None,
) -> dict[str, tuple[Moment | None, Moment | None]]:
    """Each milestone as (what the cockpit showed, what the responder did), real times."""

    def first(*kinds: str, before: datetime | None = None) -> Moment | None:
        found = [e for e in acts if e.kind.startswith(kinds)]
        if before is not None:
            found = [e for e in found if e.at <= before] or found
            found = found[-1:]  # the fix that preceded the clearing
        return (found[0].at, found[0].kind) if found else None

    fixes = ("revert.started", "action.started")
    return {
        "detected": (
            (detected, "first failure signal") if detected else None,
            first("declared", "note", "revert", "action", "status"),
        ),
        "declared": (None, (declared, "declared") if declared else None),
        "mitigated": (
            (cleared, "a failing probe passing for good") if cleared else None,
            first(*fixes, before=cleared),
        ),
        "resolved": (
            (recovered, "everything passing") if recovered else None,
            first("status.resolved") or first("status.mitigated"),
        ),
    }


def _cleared_for_good(detector: Sequence[tuple[TimelineEvent, datetime]]) -> datetime | None:
    """When the first failure cleared and stayed cleared. A probe flapping back up under load,
    or a spike dipping between buckets, is not a mitigation; a probe that is up for the rest of
    the drill is, even while others still fail (that is a partial recovery)."""
    for clear, fail in (("probe.up", "probe.down"), ("spike.end", "spike.start")):
        last_fail: dict[str, datetime] = {}
        for event, at in detector:
            if event.kind == fail:
                last_fail[event.source] = at
        good = [
            at
            for event, at in detector
            if event.kind == clear and at >= last_fail.get(event.source, at)
        ]
        if good or last_fail:
            return min(good, default=None)
    return None


def _real_of(signal: Signal | None, clock: DrillClock) -> datetime | None:
    return None if signal is None else clock.real_at(signal.shown_at)


def _page(
    detector: Sequence[tuple[TimelineEvent, datetime]],
    acts: Sequence[TimelineEvent],
    clock: DrillClock,
    minutes: Callable[[datetime], float | None],
) -> Page | None:
    fired = [(e, at) for e, at in detector if e.kind == "alert.firing"]
    if not fired:
        return None
    event, shown = min(fired, key=lambda p: p[0].at)
    alert = event.key.split(":")[1] if event.key.count(":") >= 2 else ""
    resolved = next(
        (
            e
            for e, _ in detector
            if e.kind == "alert.resolved" and (not alert or f":{alert}:" in e.key)
        ),
        None,
    )
    silenced = next((e for e in acts if e.kind == "silence.created" and e.at >= event.at), None)
    return Page(
        one_line(on_scenario_clock(event.text, event.at, clock), 300),
        clock.scenario_at(event.at),
        minutes(event.at),
        clock.scenario_at(shown),
        silenced_at=clock.scenario_at(silenced.at) if silenced else None,
        resolved_at=clock.scenario_at(resolved.at) if resolved else None,
        resolved_minutes=minutes(resolved.at) if resolved else None,
    )


def page_line(report: DrillReport) -> str:
    """When the page fired against the impact start, in words; "" when nothing paged."""
    page = report.page
    if page is None:
        return ""
    when = (
        "—"
        if page.minutes is None
        else f"{abs(page.minutes):.1f} min " + ("after" if page.minutes >= 0 else "before")
    )
    line = (
        f"- **Page:** fired {_clock(page.fired_at)}, {when} the impact start "
        f"({_clock(report.impact_start)}); shown {_clock(page.shown_at)}"
    )
    if page.silenced_at is not None:
        line += f"; silenced {_clock(page.silenced_at)}"
    if page.resolved_at is not None:
        line += f"; resolved {_clock(page.resolved_at)} ({_minutes(page.resolved_minutes)})"
    return line + f": {_cell(page.text)}"


def _still_failing(view: View | None) -> tuple[str, ...]:
    if view is None:
        return ()
    from cockpit.detect.probes import ProbeState

    out = [f"probe {p.name}" for p in view.assessment.probes if p.state is ProbeState.DOWN]
    out += [f"5xx spike on {s.source}" for s in view.assessment.spikes]
    return tuple(one_line(text, 120) for text in out)


# -- rendering --------------------------------------------------------------------------------


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} min"


def _clock(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%H:%M:%S")


def _cell(text: str) -> str:
    """Untrusted text for a Markdown table cell: one line, no pipes, no tags."""
    return one_line(text, 300).replace("|", "\\|").replace("<", "&lt;")


def _versus(m: Milestone) -> str:
    delta = m.versus_real
    if delta is None:
        return ""
    if abs(delta) < 0.05:
        return "same as the real incident"
    return f"{abs(delta):.1f} min {'faster' if delta > 0 else 'slower'} than the real incident"


def milestone_rows(report: DrillReport) -> list[tuple[str, str, str, str, str]]:
    """(milestone, drill, real incident, best possible, comparison) as display strings."""
    rows = []
    for m in report.milestones:
        drill = _minutes(m.minutes) + (f" ({_clock(m.at)})" if m.at else "")
        if m.minutes is None:
            drill = "not reached"
        rows.append(
            (m.label, drill, _minutes(m.real_minutes), _minutes(m.best_minutes), _versus(m))
        )
    return rows


def split_rows(report: DrillReport) -> list[tuple[str, str, str]]:
    """(milestone, what the cockpit showed and when, what the responder did and when), in
    scenario minutes after the impact."""

    def said(minutes: float | None, what: str) -> str:
        return "—" if minutes is None else f"{_minutes(minutes)}: {what}"

    return [
        (m.label, said(m.shown_minutes, m.shown_what), said(m.acted_minutes, m.acted_what))
        for m in report.milestones
    ]


def export_section(report: DrillReport) -> str:
    """The drill's figures as a Markdown section an incident export can include."""
    offset = report.scenario_start.strftime("%z")
    out = [
        "## Drill",
        "",
        f"Scenario `{_cell(report.scenario)}` at {report.speed:g}x: {_cell(report.title)}. "
        f"Minutes are scenario minutes after the impact start "
        f"({_clock(report.impact_start)}, UTC{offset[:3]}:{offset[3:]}).",
        "",
        "| Milestone | Drill | Real incident | Best possible | |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {' | '.join(_cell(c) for c in row)} |" for row in milestone_rows(report)]
    out.append("")
    return "\n".join(out)


def render_markdown(report: DrillReport) -> str:
    out = [
        f"# Drill report: {_cell(report.scenario)}",
        "",
        _cell(report.title),
        "",
        f"- **Run:** {utc_stamp(report.real_start)} on the wall clock, at {report.speed:g}x "
        "(scenario seconds per real second); every other time here is on the scenario clock",
        f"- **Scenario clock:** {_clock(report.scenario_start)} to {_clock(report.ended_at)}",
        f"- **Impact started:** {_clock(report.impact_start)}",
        *_opened_line(report),
        *_own_line(report),
        *([line] if (line := page_line(report)) else []),
        f"- **Incident:** #{report.incident_id}"
        if report.incident_id
        else "- **Incident:** not declared",
        "",
    ]
    out += export_section(report).splitlines()[2:]
    out += ["", "## The cockpit showed it, you acted", ""]
    out += [
        "| Milestone | The cockpit showed it | You acted |",
        "|---|---|---|",
    ]
    for label, shown, acted in split_rows(report):
        out.append(f"| {_cell(label)} | {_cell(shown)} | {_cell(acted)} |")
    out += [
        "",
        "Detect: first failure signal shown. Declare: the declaration. Mitigate: the first "
        "failing probe that passed again for good. Recover: every probe passing and no spike, "
        "for good.",
        "",
    ]
    if report.reference_source:
        out.append(f"Real incident: {_cell(report.reference_source)}.")
    if report.reference_notes:
        out.append(_cell(report.reference_notes))
    if report.best_source:
        out.append(f"Best possible: {_cell(report.best_source)}.")
    out += _cause_section(report)
    out += ["", "## Signals", ""]
    if report.signals:
        out += ["| Shown | After impact | Signal | What the cockpit said |", "|---|---|---|---|"]
        out += [
            f"| {_clock(s.shown_at)} | {_minutes(s.minutes)} | {_cell(s.name)} | {_cell(s.text)} |"
            for s in report.signals
        ]
    else:
        out.append("_No failure signal was shown._")
    if report.silent:
        out += ["", f"Never fired: {', '.join(report.silent)}."]
    out += ["", "## What the responder did", ""]
    if report.acts:
        out += ["| At | After impact | Kind | What |", "|---|---|---|---|"]
        out += [
            f"| {_clock(a.at)} | {_minutes(a.minutes)} | {_cell(a.kind)} | {_cell(a.text)} |"
            for a in report.acts
        ]
    else:
        out.append("_Nothing._")
    out += ["", "## Faults the world applied", ""]
    out += [
        f"- {_clock(f.at)} `{_cell(f.fault)}` ({_cell(f.origin)}): "
        + ("ok" if f.ok else "failed")
        + (f", {_cell(f.detail)}" if f.detail else "")
        for f in report.faults
    ] or ["_None._"]
    out += ["", "## At the end of the drill", ""]
    if report.lingering:
        out.append(
            "Partial recovery: after the first failure cleared, these kept failing: "
            + ", ".join(_cell(name) for name in report.lingering)
            + "."
        )
    if report.still_failing:
        out += [f"- still failing: {_cell(text)}" for text in report.still_failing]
    else:
        out.append("Nothing was failing.")
    out.append("")
    return "\n".join(out)


def _after(minutes: float | None) -> str:
    return "" if minutes is None else f" ({_minutes(minutes)} after the impact start)"


def cause_lines(report: DrillReport) -> list[str]:
    """The verdict on the cause in plain sentences (the report and the command line)."""
    verdict = report.cause
    if verdict is None:
        return []
    out = [f"Real cause: {verdict.cause}."]
    if not verdict.named:
        out.append("The cockpit named no suspect.")
    else:
        first = verdict.named[0]
        out.append(
            f"First suspect named at {_clock(first.at)}{_after(first.minutes)}: {first.what}: "
            + ("the real cause." if first.is_cause else "not the cause.")
        )
        if verdict.named_minutes is not None:
            if not first.is_cause:
                out.append(
                    f"The real cause was named as the suspect{_after(verdict.named_minutes)}."
                )
        elif verdict.listed_minutes is not None:
            out.append(
                "The real cause was listed among the suspects, never first"
                f"{_after(verdict.listed_minutes)}."
            )
        else:
            out.append("The real cause was never named.")
    if not verdict.reverted:
        out.append("Nothing was reverted.")
    for revert in verdict.reverted:
        out.append(
            f"Reverted at {_clock(revert.at)}{_after(revert.minutes)}: {revert.what}: "
            + ("the real cause." if revert.is_cause else "not the cause.")
        )
    if verdict.reverted:
        out.append(
            "The responder reverted the right change."
            if verdict.reverted_cause
            else "The responder did not revert the right change."
        )
    return out


def _cause_section(report: DrillReport) -> list[str]:
    lines = cause_lines(report)
    if not lines:
        return []
    return ["", "## What caused it", "", *[f"- {_cell(line)}" for line in lines]]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return strip_controls(value)
    return value


def render_json(report: DrillReport) -> str:
    document = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        **_jsonable(asdict(report)),
        "real_start": iso_utc(report.real_start),
    }
    if report.cause is not None:
        # The verdicts themselves, not only what they are made of.
        document["cause"] |= {
            "first_named_was_cause": report.cause.first_named_was_cause,
            "reverted_cause": report.cause.reverted_cause,
        }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_report(directory: Path, report: DrillReport) -> DrillReport:
    """Write drill-report.md and drill-report.json in the run's directory."""
    from cockpit.host.files import write_file

    directory.mkdir(parents=True, exist_ok=True)
    paths = (directory / f"{REPORT_STEM}.md", directory / f"{REPORT_STEM}.json")
    report = replace(report, files=paths)
    write_file(paths[0], render_markdown(report), parents=True)
    write_file(paths[1], render_json(report), parents=True)
    return report


def _own_line(report: DrillReport) -> list[str]:
    if report.own_seconds <= 0 or report.speed == 1:
        return []
    return [
        f"- **The cockpit's own work:** {report.own_seconds:.1f} s on the wall clock (starting, "
        "a revert's or action's processes), counted in the figures as it would take at 1x, "
        f"not as {report.own_seconds * report.speed / 60:.1f} scenario minutes"
    ]


def _opened_line(report: DrillReport) -> list[str]:
    opened, impact = report.opened_at, report.impact_start
    if opened is None:
        return []
    into = ""
    if impact is not None and opened > impact:
        minutes = (opened - impact).total_seconds() / 60
        into = f", {minutes:.0f} min into the impact: time to detect counts from then"
    return [f"- **Cockpit opened:** {_clock(opened)}{into}"]
