"""Every screen and modal complete at 80x24 and using the room at 200x60, in Unicode and in
ASCII: each control (button, input, select, field label) is inside the screen and not clipped,
long content scrolls, and an ASCII terminal gets not one character outside ASCII on any screen,
modals, toasts, the palette and Textual's own chrome included (outside text too: the walk's
text is full of removed-control MARKs and ellipses)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pilot_wait import until
from test_hostile_screens import Host, frame, hostile_view, never, screens
from textual.command import CommandPalette
from textual.containers import ScrollableContainer
from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select
from textual.widgets._toast import Toast

from cockpit.app import CockpitApp
from cockpit.term.textsafe import Inert

CONTROLS = (Button, Input, Select)


class FitHost(Host):
    def __init__(self, ascii_only: bool) -> None:
        CockpitApp.__init__(self, never, ascii_only=ascii_only)


# The escape sequences of a frame (all ASCII themselves): what is left is what the cells show.
_SEQUENCES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>]\w?")


def not_ascii(app: CockpitApp) -> set[str]:
    """Every character outside ASCII in the frame the terminal would be sent."""
    return {c for c in _SEQUENCES.sub("", frame(app)) if not c.isascii()}


def hidden_controls(screen: Screen[object]) -> list[str]:
    """Controls (and field labels) not wholly on screen: off its edge or clipped by a parent."""
    compositor = screen._compositor
    whole = Region(0, 0, *screen.size)
    out = []
    for widget in screen.query(Widget):
        if not isinstance(widget, CONTROLS) and not (
            isinstance(widget, Label) and widget.has_class("label")
        ):
            continue
        if not widget.display or any(not a.display for a in widget.ancestors_with_self):
            continue
        geometry = compositor.full_map.get(widget)
        if geometry is None:
            out.append(f"{widget!r}: not laid out")
            continue
        region = geometry.region
        shown = region.intersection(geometry.clip).intersection(whole)
        if region.area == 0 or shown != region:
            out.append(f"{widget!r}: {region} shown {shown}")
    return out


@pytest.mark.parametrize("ascii_only", [False, True])
async def test_every_screen_fits_80x24_and_uses_200x60(tmp_path: Path, ascii_only: bool) -> None:
    view = hostile_view()
    widths: dict[tuple[str, int], int] = {}
    for size in ((80, 24), (200, 60)):
        app = FitHost(ascii_only)
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause()
            if ascii_only:
                assert not not_ascii(app), ("main screen", not_ascii(app))
                app.notify(Inert("a toast \u2026 \u00e9t\u00e9 \U0001f50e"), severity="warning")
                await until(pilot, lambda a=app: bool(a.screen.query(Toast)))
                assert not not_ascii(app), ("toast", not_ascii(app))
                app.clear_notifications()
                await pilot.press("ctrl+p")
                await until(pilot, lambda a=app: isinstance(a.screen, CommandPalette))
                await pilot.pause()
                assert not not_ascii(app), ("command palette", not_ascii(app))
                await pilot.press(*"decl")
                await pilot.pause()
                await pilot.pause()
                assert not not_ascii(app), ("command palette, typed into", not_ascii(app))
                await pilot.press("escape")
                await pilot.pause()
            for i, (cls, make) in enumerate(screens(view, tmp_path)):
                screen = make()
                await app.push_screen(screen)
                await pilot.pause()
                await pilot.pause()
                name = f"{cls.__name__}#{i} at {size}"
                assert not hidden_controls(screen), (name, hidden_controls(screen))
                if ascii_only:
                    assert not not_ascii(app), (name, not_ascii(app))
                    # Each control focused in turn (an input's cursor, a button's focus
                    # style), and each select opened: its overlay lists the options.
                    for control in [w for w in screen.focus_chain if isinstance(w, CONTROLS)]:
                        control.focus()
                        await pilot.pause()
                        if isinstance(control, Select):
                            control.expanded = True
                            await pilot.pause()
                        assert not not_ascii(app), (name, control, not_ascii(app))
                        if isinstance(control, Select):
                            control.expanded = False
                            await pilot.pause()
                dialog = screen.query(".dialog")
                if dialog:
                    widths[(cls.__name__, size[0])] = max(d.size.width for d in dialog)
                await app.pop_screen()
                await pilot.pause()
    # The room at 200 columns is used by the screens with the most to show.
    for name in ("HelpScreen", "RevertScreen", "TimelineScreen", "ProbeDetailScreen"):
        if (name, 80) in widths:
            assert widths[(name, 200)] >= 150 > widths[(name, 80)], (name, widths)


async def test_long_content_scrolls_at_80x24(tmp_path: Path) -> None:
    """Help, timeline, probe details and revert output are longer than 24 rows: each sits in
    a scrolling container that the keys move."""
    from widgets.modals import HelpScreen

    view = hostile_view()
    app = FitHost(False)
    async with app.run_test(size=(80, 24)) as pilot:
        rows = [(f"k{i}", f"help line {i}") for i in range(40)]
        await app.push_screen(HelpScreen(rows, read_only=False))
        await pilot.pause()
        scroll = app.screen.query_one(ScrollableContainer)
        assert scroll.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y > 0, "the help scrolls with the keys"
        await app.pop_screen()
        for cls, make in screens(view, tmp_path):
            if cls.__name__ in ("TimelineScreen", "ProbeDetailScreen", "RevertScreen"):
                screen = make()
                await app.push_screen(screen)
                await pilot.pause()
                assert screen.query(ScrollableContainer) or screen.query("Log, DataTable"), cls
                await app.pop_screen()


async def test_the_timeline_at_80x24_cuts_no_event(tmp_path: Path) -> None:
    """Columns that fit 80 columns, and the highlighted event in full (wrapped) under them."""
    from datetime import timedelta

    from cockpit.model import TimelineEvent
    from cockpit.timeutil import utcnow
    from widgets.timeline_view import TimelineScreen

    now = utcnow()
    long_text = "probe sftp-list-x4 failing: " + " ".join(f"word{i}" for i in range(60))
    events = [
        TimelineEvent(now - timedelta(minutes=i), "probe.down", f"{long_text} {i}", "sftp")
        for i in range(40)
    ]
    app = FitHost(False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = TimelineScreen(events, title="Timeline", now=now)
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("down", "down")
        await pilot.pause()
        detail = " ".join(str(screen.query_one("#detail").render()).split())
        assert f"{long_text} 37" in detail, detail  # the third row, every word of it
        table = screen.query_one("#events")
        assert table.size.width <= 80 and table.virtual_size.width <= 80, table.virtual_size
