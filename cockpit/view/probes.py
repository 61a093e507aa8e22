"""The probes panel's rows: one per probe (a fleet read from Prometheus gives one per
target), its state, figures and the note under a failing one, in configured order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.detect.detector import Assessment
from cockpit.detect.probes import ProbeState, ProbeView
from cockpit.model import Category, Freshness, ProbeResults
from cockpit.view.sources import SourceLine, source_line, source_lines

if TYPE_CHECKING:
    from cockpit.hub import Snapshot

_RANKS: dict[ProbeState | None, int] = {ProbeState.DOWN: 0, ProbeState.UNKNOWN: 2, ProbeState.UP: 3}

# Latencies kept for a row's sparkline: more than the widest panel shows.
SPARK = 60


@dataclass(frozen=True, slots=True)
class ProbeRow:
    name: str
    source: SourceLine
    kind: str = ""
    state: ProbeState | None = None  # None: no result yet (loading, stale, not configured)
    ok: bool = True  # the last round passed
    sessions_ok: int = 0
    concurrency: int = 0
    latency_ms: float | None = None
    p50_ms: float | None = None
    since: datetime | None = None  # in this state since
    latencies: tuple[float, ...] = ()
    only_under_concurrency: bool = False
    error: str = ""  # the last round's error
    failed_in_a_row: int = 0  # rounds failed in a row, while not yet down

    @property
    def unconfirmed(self) -> bool:
        """Its last round failed, but not yet often enough in a row to count as down."""
        return self.state is not None and self.state is not ProbeState.DOWN and not self.ok

    @property
    def rank(self) -> int:
        """Where the row goes when not all fit: failing first, then not configured, unknown,
        up."""
        if self.source.freshness is Freshness.UNCONFIGURED:
            return 1
        return _RANKS.get(self.state, 2)


@dataclass(frozen=True, slots=True)
class ProbesView:
    sources: tuple[SourceLine, ...] = ()
    rows: tuple[ProbeRow, ...] = ()
    up: int = 0
    down: int = 0

    @property
    def alerting(self) -> bool:
        return self.down > 0


def _failed_in_a_row(probe: ProbeView) -> int:
    count = 0
    for result in reversed(probe.history):
        if result.ok:
            break
        count += 1
    return max(count, 1)


def probe_row(name: str, source: SourceLine, probe: ProbeView | None) -> ProbeRow:
    if probe is None or probe.last is None:
        return ProbeRow(name, source)
    last = probe.last
    return ProbeRow(
        name,
        source,
        kind=probe.kind,
        state=probe.state,
        ok=last.ok,
        sessions_ok=last.sessions_ok,
        concurrency=last.concurrency,
        latency_ms=last.latency_ms,
        p50_ms=probe.p50_ms,
        since=probe.since,
        latencies=probe.latencies[-SPARK:],
        only_under_concurrency=probe.only_under_concurrency,
        error=last.error,
        failed_in_a_row=_failed_in_a_row(probe) if not last.ok else 0,
    )


RowCache = dict[str, tuple[ProbeView | None, SourceLine, ProbeRow]]


def probes_view(
    snapshot: Snapshot, assessment: Assessment, cache: RowCache | None = None
) -> ProbesView:
    """`cache` keeps each row with what it was made of: a probe whose view is the very one
    of the last build keeps its row (the detector keeps the view of a probe with no new
    result)."""
    probes = {p.name: p for p in assessment.probes}
    rows: list[ProbeRow] = []
    cache = {} if cache is None else cache

    def row(name: str, line: SourceLine) -> ProbeRow:
        probe = probes.get(name)
        kept = cache.get(name)
        if kept is not None and kept[0] is probe and kept[1] == line:
            return kept[2]
        made = probe_row(name, line, probe)
        cache[name] = (probe, line, made)
        return made

    for status, reading in snapshot.of(Category.PROBE):
        line = source_line(status)
        if isinstance(reading, ProbeResults):
            rows.extend(row(r.name, line) for r in reading.results)
        else:
            rows.append(row(status.name, line))
    return ProbesView(
        source_lines(snapshot, Category.PROBE),
        tuple(rows),
        up=sum(1 for p in assessment.probes if p.state is ProbeState.UP),
        down=sum(1 for p in assessment.probes if p.state is ProbeState.DOWN),
    )
