"""The strip of the latest timeline events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.widget import Widget

from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_clock
from widgets.inert import InertContent, cut, lines, text

if TYPE_CHECKING:
    from cockpit.model import TimelineEvent

KIND_STYLES = {
    "probe.down": "$error",
    "spike.start": "$error",
    "blind_spot": "$error bold",
    "concurrency": "$error",
    "suspect": "$warning bold",
    "declared": "$warning bold",
    "revert.started": "$accent",
    "revert.finished": "$accent",
    "revert.unknown": "$error bold",
    "action.unknown": "$error bold",
    "recovered": "$success bold",
    "probe.up": "$success",
    "spike.end": "$success",
}


class TimelineStrip(Widget):
    BORDER_TITLE = "Timeline"

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id, classes="panel")
        self.events: tuple[TimelineEvent, ...] = ()
        self.unsaved: frozenset[str] = frozenset()

    def show(self, events: Sequence[TimelineEvent], unsaved: frozenset[str] = frozenset()) -> None:
        """`unsaved`: keys of events the store has not taken yet (marked on their row)."""
        if tuple(events) != self.events or unsaved != self.unsaved:
            self.events = tuple(events)
            self.unsaved = unsaved
            self.refresh()

    def render(self) -> InertContent:
        height = max(1, self.content_region.height)
        width = max(10, self.content_region.width)
        shown = self.events[-height:]
        if not shown:
            return text((Inert("no events yet"), "$text-muted"))
        stamps = [local_clock(event.at) for event in shown]
        stamp_width = max(len(stamp) for stamp in stamps)  # rows with a date stay aligned
        rows = []
        for event, stamp in zip(shown, stamps, strict=True):
            kind = one_line(event.kind, 40)
            unsaved = event.key in self.unsaved
            rows.append(
                cut(
                    text(
                        (Inert(stamp.rjust(stamp_width)), "$text-muted"),
                        Inert(" "),
                        (Inert(f"{kind:<15}"), KIND_STYLES.get(kind, "bold")),
                        Inert(" "),
                        (Inert("NOT SAVED " if unsaved else ""), "$warning bold"),
                        one_line(event.text),
                    ),
                    width,
                )
            )
        return lines(rows)
