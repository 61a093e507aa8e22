"""TimelineScreen in a tiny host app driven by Pilot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Label

from cockpit.model import TimelineEvent
from cockpit.timeutil import local_clock
from widgets.timeline_view import TimelineScreen

T0 = datetime(2024, 8, 2, 13, 52, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


EVENTS = [
    TimelineEvent(at(43), "declared", "SEV2 declared: SFTP fails", "cockpit"),
    TimelineEvent(at(0), "deploy", "files-web: deploy 2 by bob", "deploys"),
    TimelineEvent(at(1), "probe.down", "sftp-multi [bold red]down[/] \x1b[31m1/2\x1b[0m", "sftp"),
    TimelineEvent(at(49), "probe.up", "sftp-multi passing again", "sftp"),
    TimelineEvent(at(45), "note", "alice: [link=http://evil]click[/link]", "cockpit"),
]


class Host(App[None]):
    def __init__(self, screen: TimelineScreen):
        super().__init__()
        self.timeline = screen
        self.dismissed = False

    def on_mount(self) -> None:
        self.push_screen(self.timeline, self.record_dismissal)

    def record_dismissal(self, _: None) -> None:
        self.dismissed = True


def rows(screen: TimelineScreen) -> list[list[str]]:
    table: DataTable[Text] = screen.query_one(DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_sorted_local_and_utc_times_and_inert_text() -> None:
    screen = TimelineScreen(EVENTS, title="Incident #1", now=at(60))
    app = Host(screen)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        shown = rows(screen)
        assert [r[2] for r in shown] == ["deploy", "probe.down", "declared", "note", "probe.up"]
        assert shown[0][0] == local_clock(at(0), at(60))
        assert shown[0][1] == "13:52:00"
        # Markup stays literal text; terminal controls are gone.
        assert shown[1][3] == "sftp-multi [bold red]down[/] \ufffd1/2\ufffd"
        assert shown[3][3] == "alice: [link=http://evil]click[/link]"
        label = screen.query_one("#filter", Label)
        assert "Incident #1: 5 of 5 events, all kinds" in str(label.render())


async def test_f_cycles_kind_families_and_a_shows_all() -> None:
    screen = TimelineScreen(EVENTS)
    app = Host(screen)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        assert screen.kinds == ("all", "declared", "deploy", "note", "probe")
        seen = []
        for _ in range(4):
            await pilot.press("f")
            seen.append((screen.shown_kind, [r[2] for r in rows(screen)]))
        assert seen == [
            ("declared", ["declared"]),
            ("deploy", ["deploy"]),
            ("note", ["note"]),
            ("probe", ["probe.down", "probe.up"]),
        ]
        assert "2 of 5 events, kind probe" in str(screen.query_one("#filter", Label).render())
        await pilot.press("f")
        assert screen.shown_kind == "all" and len(rows(screen)) == 5
        await pilot.press("F")
        assert screen.shown_kind == "probe"
        await pilot.press("a")
        assert len(rows(screen)) == 5
        await pilot.press("escape")
        await pilot.pause()
        assert app.dismissed and app.screen is not screen


async def test_scrolls_through_a_long_timeline() -> None:
    many = [TimelineEvent(at(i), "note", f"note {i}", "cockpit") for i in range(200)]
    screen = TimelineScreen(many)
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table: DataTable[Text] = screen.query_one(DataTable)
        assert table.row_count == 200
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.cursor_row == 199
        assert table.scroll_y > 0


async def test_an_empty_timeline() -> None:
    screen = TimelineScreen([])
    async with Host(screen).run_test() as pilot:
        await pilot.pause()
        assert rows(screen) == []
        await pilot.press("f")  # nothing to cycle through but "all"
        assert screen.shown_kind == "all"
