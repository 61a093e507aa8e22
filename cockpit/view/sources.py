"""What a panel says about its sources: fresh, loading, stale (since when, why) or not
configured. Without the poll times, which change with every poll: a panel whose sources merely
polled again has nothing new to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cockpit.model import Category, Freshness, SourceStatus

if TYPE_CHECKING:
    from cockpit.hub import Snapshot


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    freshness: Freshness
    stale_since: datetime | None = None
    reason: str = ""
    read: bool = False  # polled successfully at least once

    @property
    def working(self) -> bool:
        return self.freshness not in (Freshness.STALE, Freshness.UNCONFIGURED)


# The line last made of each source's status: a status the hub did not replace (its source has
# not polled since) keeps its line. Every refresh asks for every source's line, several times.
_MADE: dict[str, tuple[SourceStatus, SourceLine]] = {}


def source_line(status: SourceStatus) -> SourceLine:
    made = _MADE.get(status.name)
    if made is not None and made[0] is status:
        return made[1]
    line = SourceLine(
        status.name,
        status.freshness,
        status.stale_since,
        status.reason,
        status.updated_at is not None,
    )
    _MADE[status.name] = (status, line)
    return line


def source_lines(snapshot: Snapshot, category: Category) -> tuple[SourceLine, ...]:
    return tuple(source_line(status) for status, _ in snapshot.of(category))
