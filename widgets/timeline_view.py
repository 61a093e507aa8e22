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
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_clock, utc_hms
from widgets.inert import InertLabel, InertStatic, text
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
    TimelineScreen #detail {
        height: auto;
        max-height: 30vh;
        padding: 0 1;
        border-top: solid $primary-muted;
    }
    """
    # Fixed columns, the event's text gets the rest; the highlighted event in full below.
    COLUMNS = (("Local", 11), ("UTC", 8), ("Kind", 14), ("Source", 12))
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
        yield InertTable(cursor_type="row", zebra_stripes=True, id="events")
        yield InertStatic(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.fill()
        self.query_one(InertTable).focus()

    def shown_events(self) -> list[TimelineEvent]:
        if self.shown_kind == ALL:
            return list(self.events)
        return [e for e in self.events if family(e.kind) == self.shown_kind]

    def on_resize(self) -> None:
        self.fill()

    def _shown_columns(self) -> tuple[str, ...]:
        """At 80 columns the UTC and source columns give way to the event's text (the line
        under the table has them for the highlighted event)."""
        wide = self.size.width
        names = ["Local"] + ["UTC"] * (wide >= 120) + ["Kind", "Event"] + ["Source"] * (wide >= 100)
        return tuple(names)

    def _columns(self, table: InertTable) -> None:
        widths = dict(self.COLUMNS)
        names = self._shown_columns()
        fixed = sum(widths.get(name, 0) for name in names)
        # Two cells of padding per column and a scrollbar.
        event = max(20, self.size.width - fixed - 2 * len(names) - 2)
        for name in names:
            table.add_sized_column(Inert(name), widths.get(name, event))

    def on_data_table_row_highlighted(self, event: InertTable.RowHighlighted) -> None:
        rows = self.shown_events()
        if 0 <= event.cursor_row < len(rows):
            chosen = rows[event.cursor_row]
            self.query_one("#detail", InertStatic).update(
                text(
                    (
                        Inert(f"{local_clock(chosen.at, self.now)} ({utc_hms(chosen.at)} UTC) "),
                        "$text-muted",
                    ),
                    (one_line(chosen.kind, 40), "bold"),
                    Inert("  "),
                    one_line(chosen.text, 4000),
                    (Inert(f"  ({one_line(chosen.source, 60)})"), "$text-muted"),
                )
            )

    def fill(self) -> None:
        table = self.query_one(InertTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        self._columns(table)
        rows = self.shown_events()
        for event in rows:
            cells = {
                "Local": Inert(local_clock(event.at, self.now)),
                "UTC": Inert(utc_hms(event.at)),
                "Kind": one_line(event.kind, limit=40),
                "Event": one_line(event.text, limit=1000),
                "Source": one_line(event.source, limit=60),
            }
            table.add_row(*(cells[name] for name in self._shown_columns()))
        if rows:
            table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
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
