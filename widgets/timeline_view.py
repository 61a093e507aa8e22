"""The whole incident timeline on one screen: sorted, scrollable, filterable by kind.

Event texts are untrusted (issue titles, log lines), so every cell is Inert (widgets.inert),
never a markup string.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.model import TimelineEvent
from cockpit.textsafe import Inert, one_line
from cockpit.timeutil import local_clock, utc_hms
from widgets.inert import InertLabel
from widgets.inert_forms import InertTable

ALL = "all"


def family(kind: str) -> str:
    """The group a kind is filtered by: "probe" for probe.down and probe.up."""
    return kind.split(".", 1)[0]


class TimelineScreen(Screen[None]):
    """`events` in time order; `f`/`F` show one family of kinds at a time, `a` all of them."""

    DEFAULT_CSS = """
    TimelineScreen { layout: vertical; }
    TimelineScreen #filter { height: 1; padding: 0 1; color: $text-muted; }
    TimelineScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("f", "next_kind", "Next kind"),
        Binding("F", "previous_kind", "Prev kind", show=False),
        Binding("a", "all_kinds", "All kinds"),
        Binding("escape,q", "close", "Close"),
    ]

    def __init__(
        self,
        events: Sequence[TimelineEvent],
        *,
        title: str = "Timeline",
        now: datetime | None = None,
    ):
        super().__init__()
        self.events = tuple(sorted(events, key=lambda e: e.at))
        self.heading = one_line(title, limit=200)
        self.now = now
        self.kinds: tuple[str, ...] = (ALL, *sorted({family(e.kind) for e in self.events}))
        self.shown_kind = ALL

    def compose(self) -> ComposeResult:
        yield InertLabel(id="filter")
        table = InertTable(cursor_type="row", zebra_stripes=True, id="events")
        table.add_columns(*(Inert(c) for c in ("Local", "UTC", "Kind", "Event", "Source")))
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.fill()
        self.query_one(InertTable).focus()

    def shown_events(self) -> list[TimelineEvent]:
        if self.shown_kind == ALL:
            return list(self.events)
        return [e for e in self.events if family(e.kind) == self.shown_kind]

    def fill(self) -> None:
        table = self.query_one(InertTable)
        table.clear()
        rows = self.shown_events()
        for event in rows:
            table.add_row(
                Inert(local_clock(event.at, self.now)),
                Inert(utc_hms(event.at)),
                one_line(event.kind, limit=40),
                one_line(event.text, limit=1000),
                one_line(event.source, limit=60),
            )
        what = "all kinds" if self.shown_kind == ALL else f"kind {self.shown_kind}"
        label = f"{self.heading}: {len(rows)} of {len(self.events)} events, {what}"
        self.query_one("#filter", InertLabel).update(one_line(label + "  (f: next kind, a: all)"))

    def _step(self, delta: int) -> None:
        index = self.kinds.index(self.shown_kind)
        self.shown_kind = self.kinds[(index + delta) % len(self.kinds)]
        self.fill()

    def action_next_kind(self) -> None:
        self._step(1)

    def action_previous_kind(self) -> None:
        self._step(-1)

    def action_all_kinds(self) -> None:
        self.shown_kind = ALL
        self.fill()

    def action_close(self) -> None:
        self.dismiss(None)
