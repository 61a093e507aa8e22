"""The compressed clock: scenario time runs `speed` times faster than real time.

The clock is anchored once, when the world is ready: real time `real_start` is scenario time
`scenario_start`. Everything the world and the cockpit record carries real UTC times; the
report turns them into scenario times with the same clock, so the figures come out in the
incident's own minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.drill.scenario import ScheduledFault
from cockpit.timeutil import parse_iso

# The world's config and delays are tuned for watching it in real time at about this many
# scenario seconds per real second; faster drills shrink them by `time_factor`, down to floors.
REFERENCE_SPEED = 60.0
MIN_INTERVAL = 0.2
MIN_ALERT_WINDOW = 2.0  # real seconds of the world's traffic: about fifteen requests
MIN_TIMEOUT = 0.5  # a probe's deadline: far above a healthy loopback answer, even under load
CLOCK_FILE = "drill.json"  # in the world dir: the clock's anchor, written once
FAULTS_FILE = "faults.jsonl"  # in the world dir: one line per fault the world was told


def time_factor(speed: float) -> float:
    """How much shorter the world's real-time delays get at `speed` (1.0 at or below 60x)."""
    return min(1.0, REFERENCE_SPEED / speed)


def alert_timing(speed: float) -> tuple[float, float]:
    """(seconds between evaluations, seconds of requests judged) of the world's 5xx alerting
    rule at `speed`, in real seconds: a window of the same scenario minutes at every speed
    (the 20 s Prometheus would judge at 10x), so the page fires and resolves as many scenario
    minutes after the spike whatever the speed; never under MIN_ALERT_WINDOW, below which the
    world's traffic is too thin for a ratio. Ten evaluations a window, as Prometheus' 2 s over
    20 s."""
    window = min(20.0, max(MIN_ALERT_WINDOW, 200.0 / max(speed, 1.0)))
    return max(MIN_INTERVAL, window / 10), window


def slow_delay(speed: float, base: float) -> float:
    """How long a slowed dependency takes to answer, in real seconds: scaled like the probes'
    deadlines and always well past them, so a slow answer is a failed probe at every speed."""
    return 1.5 * max(base * time_factor(speed), MIN_TIMEOUT)


@dataclass(frozen=True)
class DrillClock:
    scenario_start: datetime
    real_start: datetime  # UTC
    speed: float

    def scenario_at(self, real: datetime) -> datetime:
        seconds = (real - self.real_start).total_seconds() * self.speed
        return self.scenario_start + timedelta(seconds=seconds)

    def real_at(self, scenario: datetime) -> datetime:
        seconds = (scenario - self.scenario_start).total_seconds() / self.speed
        return self.real_start + timedelta(seconds=seconds)

    def real_seconds(self, scenario_seconds: float) -> float:
        return scenario_seconds / self.speed

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario_start": self.scenario_start.isoformat(),
            "real_start": self.real_start.isoformat(),
            "speed": self.speed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DrillClock:
        return cls(
            scenario_start=datetime.fromisoformat(data["scenario_start"]),
            real_start=parse_iso(data["real_start"]),
            speed=float(data["speed"]),
        )


@dataclass(frozen=True)
class FaultRecord:
    """A fault the world was told to apply, and what came of it."""

    at: datetime  # real UTC time it was applied
    fault: str
    origin: str  # "schedule" or "inject"
    ok: bool
    detail: str = ""
    due: datetime | None = None  # real time it was due (scheduled faults)
    request: str = ""  # the id an injection was asked with, so its asker finds the answer

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "fault": self.fault,
            "origin": self.origin,
            "ok": self.ok,
            "detail": self.detail,
            "due": None if self.due is None else self.due.isoformat(),
            **({"request": self.request} if self.request else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRecord:
        due = data.get("due")
        return cls(
            at=parse_iso(data["at"]),
            fault=str(data["fault"]),
            origin=str(data.get("origin", "")),
            ok=bool(data.get("ok", False)),
            detail=str(data.get("detail", "")),
            due=None if not due else parse_iso(due),
            request=str(data.get("request", "")),
        )


@dataclass(frozen=True)
class DueFault:
    real_at: datetime
    fault: ScheduledFault


def plan(clock: DrillClock, schedule: Iterable[ScheduledFault]) -> list[DueFault]:
    """The schedule on the real clock, soonest first."""
    due = [DueFault(clock.real_at(step.at), step) for step in schedule]
    return sorted(due, key=lambda d: d.real_at)


def write_clock(directory: Path, clock: DrillClock, extra: dict[str, Any]) -> None:
    from cockpit.host.files import write_file

    write_file(
        directory / CLOCK_FILE, json.dumps({**clock.to_json(), **extra}) + "\n", parents=True
    )


def read_clock(directory: Path) -> DrillClock:
    return DrillClock.from_json(json.loads((directory / CLOCK_FILE).read_text(encoding="utf-8")))


def append_fault(directory: Path, record: FaultRecord) -> None:
    # One short line per write in append mode: readers never see half a record.
    with (directory / FAULTS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record.to_json()) + "\n")


def read_faults(directory: Path) -> list[FaultRecord]:
    path = directory / FAULTS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(FaultRecord.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash
    return out
