"""Probe state from successive results: up or down with each probe's thresholds, its recent
results and runs of like results, and "fails only under concurrency" (a concurrent probe failing
while a single-session twin to the same endpoint passes)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from cockpit.model import ProbeResult, TimelineEvent
from cockpit.states import ProbeState as ProbeState  # re-exported: the probes' own states
from cockpit.timeutil import iso_utc, local_hms

HISTORY = 60  # probe results kept per probe for the sparkline and p50
# Runs of like results kept per probe (each state change and each new error text starts one):
# with results every few seconds a whole incident's changes fit, in bounded memory.
RUNS = 400


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """Consecutive results alike (same outcome, sessions and error text but for its figures):
    the first, verbatim, and how many followed until when."""

    first: ProbeResult
    last_at: datetime
    count: int = 1

    def takes(self, result: ProbeResult) -> bool:
        first = self.first
        return (
            result.ok == first.ok
            and result.sessions_ok == first.sessions_ok
            and _error_shape(result.error) == _error_shape(first.error)
        )


def _error_shape(error: str | None) -> str:
    return re.sub(r"\d+(?:\.\d+)?", "#", error or "")


@dataclass(frozen=True, slots=True)
class ProbeView:
    name: str
    kind: str
    target: str
    concurrency: int
    state: ProbeState
    since: datetime | None
    last: ProbeResult | None
    latencies: tuple[float, ...]  # recent successful latencies, oldest first
    only_under_concurrency: bool = False
    history: tuple[ProbeResult, ...] = ()  # recent results, oldest first, for the detail screen
    runs: tuple[ProbeRun, ...] = ()  # every change since watching began (RUNS), oldest first

    @property
    def p50_ms(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[len(ordered) // 2]


@dataclass
class _ProbeTrack:
    state: ProbeState = ProbeState.UNKNOWN
    since: datetime | None = None
    streak_ok: int = 0
    streak_fail: int = 0
    first_fail: ProbeResult | None = None
    failing_at_open: bool = False  # its very first result failed: it began before we looked
    last_at: datetime | None = None
    last: ProbeResult | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY))
    runs: deque[ProbeRun] = field(default_factory=lambda: deque(maxlen=RUNS))
    changes: int = 0  # counts every change above: a view made at the same count still holds

    def add_run(self, result: ProbeResult) -> None:
        if self.runs and self.runs[-1].takes(result):
            run = self.runs[-1]
            self.runs[-1] = ProbeRun(run.first, result.at, run.count + 1)
        else:
            self.runs.append(ProbeRun(result, result.at))


class ProbeWatch:
    """Every probe's track, result by result; `thresholds` maps a probe (or a fleet's source)
    to (failures before down, successes before up)."""

    def __init__(self, thresholds: dict[str, tuple[int, int]]) -> None:
        self._thresholds = thresholds
        self._tracks: dict[str, _ProbeTrack] = {}
        # The last view of each probe and what it was made of: a probe with no new result
        # keeps its very view (2,000 probes polled in turn make a new view of a few of them).
        self._views: dict[str, tuple[ProbeResult, int, bool, ProbeView]] = {}

    def adopt(self, name: str, event: TimelineEvent) -> None:
        """A state the timeline already records (`probe.down` or `probe.up`): a probe recorded
        down at 06:52 is down since 06:52."""
        track = self._tracks.setdefault(name, _ProbeTrack())
        track.changes += 1
        down = event.kind == "probe.down"
        if track.state is ProbeState.UNKNOWN:
            track.state = ProbeState.DOWN if down else ProbeState.UP
            track.since = event.at
        elif down and track.state is ProbeState.DOWN and track.since:
            track.since = min(track.since, event.at)

    def failing_at_open(self, name: str) -> bool:
        return self._tracks[name].failing_at_open

    def observe(self, result: ProbeResult, out: list[TimelineEvent]) -> None:
        track = self._tracks.get(result.name)
        if track is None:
            track = self._tracks[result.name] = _ProbeTrack()
        elif track.last_at == result.at:
            return
        track.changes += 1
        track.last_at = result.at
        track.last = result
        track.history.append(result)
        if len(track.history) == 1 and track.state is ProbeState.UNKNOWN:
            track.failing_at_open = not result.ok
        track.add_run(result)
        if result.ok and result.latency_ms is not None:
            track.latencies.append(result.latency_ms)
        fail_after, ok_after = self._thresholds_for(result.name)
        if result.ok:
            track.streak_ok += 1
            track.streak_fail = 0
            track.first_fail = None
            track.failing_at_open = False
            if track.state is not ProbeState.UP and track.streak_ok >= ok_after:
                if track.state is ProbeState.DOWN:
                    out.append(
                        TimelineEvent(
                            result.at,
                            "probe.up",
                            f"probe {result.name} passing again ({_sessions(result)})",
                            result.name,
                            f"probe:{result.name}:up:{iso_utc(result.at)}",
                        )
                    )
                track.state, track.since = ProbeState.UP, result.at
        else:
            track.streak_fail += 1
            track.streak_ok = 0
            track.first_fail = track.first_fail or result
            if track.state is not ProbeState.DOWN and track.streak_fail >= fail_after:
                first = track.first_fail
                since = (
                    f"failing when first probed at {local_hms(first.at)} (found on open)"
                    if track.failing_at_open
                    else f"failing since {local_hms(first.at)}"
                )
                out.append(
                    TimelineEvent(
                        first.at,
                        "probe.down",
                        f"probe {result.name} {since}: "
                        f"{_sessions(first)}, {first.error or 'failed'}",
                        result.name,
                        f"probe:{result.name}:down:{iso_utc(first.at)}",
                    )
                )
                track.state, track.since = ProbeState.DOWN, first.at

    def _thresholds_for(self, name: str) -> tuple[int, int]:
        """A probe's own thresholds; a fleet's probes ("source:target@location") take their
        source's."""
        if name in self._thresholds:
            return self._thresholds[name]
        source = name.partition(":")[0]
        return self._thresholds.get(source, (2, 1))

    def views(
        self, results: dict[str, ProbeResult], out: list[TimelineEvent]
    ) -> tuple[ProbeView, ...]:
        views = []
        # Endpoints a single-session probe passes on, once per round: comparing every probe
        # with every other made a round of 2,000 probes four million comparisons.
        singles_up = {
            (other.kind, _endpoint(other.target))
            for other in results.values()
            if other.concurrency == 1 and self._tracks[other.name].state is ProbeState.UP
        }
        for name, result in results.items():
            track = self._tracks[name]
            twin_up = (result.kind, _endpoint(result.target)) in singles_up
            only = result.concurrency > 1 and track.state is ProbeState.DOWN and twin_up
            if only and track.since is not None:
                out.append(
                    TimelineEvent(
                        track.since,
                        "concurrency",
                        f"{name} fails only under concurrency: {_sessions(result)} "
                        f"while single sessions to {_endpoint(result.target)} pass",
                        name,
                        f"concurrency:{name}:{iso_utc(track.since)}",
                    )
                )
            kept = self._views.get(name)
            if (
                kept is not None
                and kept[0] is result
                and kept[1] == track.changes
                and kept[2] is only
            ):
                views.append(kept[3])
                continue
            view = ProbeView(
                name,
                result.kind,
                result.target,
                result.concurrency,
                track.state,
                track.since,
                track.last,
                tuple(track.latencies),
                only,
                tuple(track.history),
                tuple(track.runs),
            )
            self._views[name] = (result, track.changes, only, view)
            views.append(view)
        return tuple(views)


@lru_cache(maxsize=8192)
def _endpoint(target: str) -> str:
    """Where a probe goes, without account, query or fragment: probes of one endpoint as
    different users are still twins."""
    parts = urlsplit(target)
    if not parts.scheme or not parts.netloc:
        return target
    host = parts.netloc.rpartition("@")[2].lower()
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def concurrency_twins(results: Iterable[ProbeResult]) -> dict[str, str]:
    """Concurrent probes that fail while a single-session twin to the same endpoint passes,
    judged on these results alone (one round: `cockpit check`): name -> the passing twin."""
    rounds = list(results)
    out: dict[str, str] = {}
    for result in rounds:
        if result.concurrency <= 1 or result.ok:
            continue
        twin = next(
            (
                other.name
                for other in rounds
                if other.concurrency == 1
                and other.ok
                and other.kind == result.kind
                and _endpoint(other.target) == _endpoint(result.target)
            ),
            None,
        )
        if twin is not None:
            out[result.name] = twin
    return out


def _sessions(result: ProbeResult) -> str:
    return f"{result.sessions_ok}/{result.concurrency} sessions"
