"""The report's arithmetic on a known timeline: scenario minutes after the impact, a flapping
probe is not a mitigation, a probe that keeps failing makes a partial recovery, and untrusted
text stays inert in Markdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.drill.report import build_report, export_section, render_markdown, write_report
from cockpit.drill.scenario import find_scenario
from cockpit.drill.schedule import DrillClock, FaultRecord
from cockpit.model import Incident, IncidentStatus, TimelineEvent

REAL = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SPEED = 60.0  # one real second is one scenario minute


def real(minute: float) -> datetime:
    return REAL + timedelta(seconds=minute)


def event(kind: str, source: str = "cockpit", text: str = "") -> TimelineEvent:
    return TimelineEvent(REAL, kind, text or kind, source)


def test_figures_in_scenario_minutes_with_flaps_and_a_long_tail(tmp_path: Path) -> None:
    scenario = find_scenario("files-com-2024", {})
    clock = DrillClock(scenario.start, REAL, SPEED)
    impact = real(7)  # 06:52 on the scenario clock
    shown = [
        # an issue shown after the impact but first seen before it: the unrelated one
        (TimelineEvent(real(1), "sentry.new", "old issue", "sentry"), real(8)),
        (event("probe.down", "session-x4", "probe \x1b[31mred | <b>"), real(10)),
        (event("concurrency", "session-x4"), real(10)),
        (event("probe.down", "mobile"), real(11)),
        (event("probe.up", "session-x4"), real(15)),  # a flap, not the mitigation
        (event("probe.down", "session-x4"), real(16)),
        (event("probe.up", "session-x4"), real(30)),
        (event("probe.up", "mobile"), real(31)),
        (event("probe.down", "mobile"), real(33)),  # the long tail
    ]
    acts = [
        TimelineEvent(real(20), "declared", "SEV2 declared"),
        TimelineEvent(real(25), "revert.started", "revert files-web"),
        TimelineEvent(real(2), "cockpit.open", "opened"),
    ]
    incident = Incident(1, "t", "SEV2", "me", IncidentStatus.INVESTIGATING, real(20), drill=True)
    report = build_report(
        scenario,
        clock,
        faults=[FaultRecord(impact, "bad_deploy", "schedule", True)],
        events=acts,
        shown=shown,
        incidents=[incident],
        last_view=None,
        ended_at=real(40),
    )
    assert report.impact_start == scenario.clock("06:52")
    detect, declare, mitigate, recover = report.milestones
    assert (detect.minutes, declare.minutes, mitigate.minutes) == (3, 13, 23)
    assert recover.minutes is None  # mobile never came back for good
    assert report.lingering == ("mobile",)
    assert (declare.real_minutes, mitigate.real_minutes, mitigate.best_minutes) == (43, 49, 2)
    assert mitigate.versus_real == 26
    assert [s.name for s in report.signals] == ["probe", "concurrency", "probe", "probe", "probe"]
    assert report.silent == ("5xx", "sentry", "blind spot", "page")  # its world pages
    assert [a.kind for a in report.acts] == ["declared", "revert.started"]

    report = write_report(tmp_path, report)
    markdown = report.files[0].read_text()
    assert "\x1b" not in markdown and "<b>" not in markdown and "red \\| &lt;b>" in markdown
    assert "| declare | 13.0 min (07:05:00) | 43.0 min | — | 30.0 min faster" in markdown
    assert "Partial recovery" in markdown
    assert render_markdown(report) == markdown
    assert export_section(report).startswith("## Drill")
    data = json.loads(report.files[1].read_text())
    assert data["format"] == "oncall-cockpit.drill-report"
    assert data["lingering"] == ["mobile"]


def test_a_signal_the_scenario_cannot_cause_is_not_in_the_report() -> None:
    """Dropbox: after the failover a four-session probe fails more often than a single one by
    chance; "fails only under concurrency" did not happen in that scenario."""
    scenario = find_scenario("dropbox-2014", {})
    clock = DrillClock(scenario.start, REAL, SPEED)
    shown = [
        (event("probe.down", "web-health"), real(2)),
        (event("probe.up", "web-health"), real(20)),
        (event("probe.down", "sftp-list-x4"), real(25)),
        (
            event("concurrency", "sftp-list-x4", "sftp-list-x4 fails only under concurrency"),
            real(25),
        ),
    ]
    faults = [
        FaultRecord(real(1), "db_reinstall", "schedule", True),
        FaultRecord(real(18), "failover", "control", True),
    ]
    report = build_report(
        scenario,
        clock,
        faults=faults,
        events=[],
        shown=shown,
        incidents=[],
        last_view=None,
        ended_at=real(40),
    )
    assert "concurrency" not in [s.name for s in report.signals]
    assert "fails only under concurrency" not in render_markdown(report)


def test_texts_use_the_scenario_clock_and_the_cockpit_is_told_apart_from_the_responder() -> None:
    scenario = find_scenario("files-com-2024", {})
    clock = DrillClock(scenario.start, REAL, SPEED)
    impact = real(7)  # 06:52 on the scenario clock
    wall = real(10).astimezone().strftime("%H:%M:%S")  # what the detector wrote, wall clock
    shown = [
        (event("probe.down", "x4", f"probe x4 failing since {wall}: 1/4 sessions"), real(10)),
        (event("probe.up", "x4"), real(30)),
        (TimelineEvent(real(31), "recovered", "recovered at 1 (12 s after the revert)"), real(31)),
    ]
    acts = [
        TimelineEvent(real(20), "declared", "SEV2 declared"),
        TimelineEvent(real(25), "revert.started", "revert files-web"),
        TimelineEvent(real(32), "status.resolved", "resolved"),
    ]
    incident = Incident(1, "t", "SEV2", "me", IncidentStatus.INVESTIGATING, real(20), drill=True)
    report = build_report(
        scenario,
        clock,
        faults=[FaultRecord(impact, "bad_deploy", "schedule", True)],
        events=acts,
        shown=shown,
        incidents=[incident],
        last_view=None,
        ended_at=real(40),
    )
    text = report.signals[0].text
    assert "failing since 06:55:00" in text, text  # 10 real s at 60x = 06:55 scenario
    markdown = render_markdown(report)
    assert wall not in markdown or wall == "06:55:00"
    detect, declare, mitigate, recover = report.milestones
    assert (detect.shown_minutes, detect.acted_minutes) == (3, 13)
    assert (declare.shown_minutes, declare.acted_minutes) == (None, 13)
    assert (mitigate.shown_minutes, mitigate.acted_minutes) == (23, 18)
    assert mitigate.acted_what == "revert.started"
    assert (recover.shown_minutes, recover.acted_minutes) == (24, 25)
    assert "## The cockpit showed it, you acted" in markdown
    assert (
        "| mitigate | 23.0 min: a failing probe passing for good | 18.0 min: revert.started |"
        in markdown
    )


def test_the_cockpits_own_wall_time_counts_as_at_1x() -> None:
    """Starting up and a revert's processes take wall seconds no speed shortens: at 60x each
    would read as a scenario minute against the responder. They count as seconds."""
    scenario = find_scenario("files-com-2024", {})
    clock = DrillClock(scenario.start, REAL, SPEED)
    impact = real(7)
    shown = [
        (event("probe.down", "session-x4"), real(10)),
        (event("probe.up", "session-x4"), real(14)),
    ]
    acts = [TimelineEvent(real(11), "revert.started", "revert files-web")]
    incident = Incident(1, "t", "SEV2", "me", IncidentStatus.INVESTIGATING, real(10), drill=True)
    report = build_report(
        scenario,
        clock,
        faults=[FaultRecord(impact, "bad_deploy", "schedule", True)],
        events=acts,
        shown=shown,
        incidents=[incident],
        last_view=None,
        ended_at=real(20),
        # The cockpit looked from 1 s after the impact; the revert ran from 10.5 s to 13.5 s.
        own_time=[(real(6), real(8)), (real(10.5), real(13.5))],
    )
    detect, declare, mitigate, _ = report.milestones
    assert detect.minutes == pytest.approx(2 + 1 / 60) and declare.minutes == detect.minutes
    # 7 s of wall time after the impact: 3 of the drill's own (60x) and 4 of the cockpit's.
    assert mitigate.minutes == pytest.approx(3 + 4 / 60)
    assert report.own_seconds == pytest.approx(4)
    assert "counted in the figures as it would take at 1x" in render_markdown(report)


def test_times_in_texts_keep_their_precision_on_the_scenario_clock() -> None:
    """A text cuts a time to its second (or minute); at 60x a real second is a scenario
    minute. The event's own time, when the text names it, is taken exactly: a failure seen
    0.9 s into a second is not told as most of a minute earlier (before the fault)."""
    from cockpit.drill.report import on_scenario_clock
    from cockpit.timeutil import local_hm, local_hms

    scenario = find_scenario("files-com-2024", {})
    clock = DrillClock(scenario.start, REAL, SPEED)
    at = REAL + timedelta(seconds=7.9)  # 06:52:54 on the scenario clock
    said = on_scenario_clock(f"failing since {local_hms(at)}", at, clock)
    assert said == "failing since 06:52:54"
    # Another time in the same text is told as the text says it.
    other = REAL + timedelta(seconds=5)
    said = on_scenario_clock(f"since {local_hms(other)}, seen {local_hms(at)}", at, clock)
    assert said == "since 06:50:00, seen 06:52:54"
    # Minutes only: the event's own minute is its exact time too.
    assert on_scenario_clock(f"spike {local_hm(at)}", at, clock) == "spike 06:52"
    later = REAL + timedelta(seconds=65)  # told as "12:01": 12:01:00 is 07:45
    assert on_scenario_clock(f"spike {local_hm(later)}", at, clock) == "spike 07:45"
