"""Every screen legible in 16 colours and with NO_COLOR, at 80x24: no text drawn in the colour
of its own background once the colours are a 16-colour terminal's (or NO_COLOR's greys), and
every state said in words (FAIL, stale, BLIND SPOT, the incident's status), not by colour
alone.

The dimmed main screen behind a modal is left out: it is meant to recede."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_wait import until
from rich.color import Color, ColorSystem
from test_hostile_screens import hostile_view, screens
from test_screens_fit import FitHost
from textual.errors import NoWidget
from textual.widgets import Button
from textual.widgets._toast import Toast

from cockpit.term.textsafe import Inert
from widgets.header import CockpitHeader


def _index(color: Color | None) -> int | None:
    """The colour as a 16-colour terminal draws it (None: the terminal's default)."""
    if color is None or color.is_default:
        return None
    return color.downgrade(ColorSystem.STANDARD).number


def unreadable(app: FitHost) -> list[tuple[int, int, str]]:
    """(x, y, character) of every visible character of the top screen drawn in the colour of
    its background, at 16 colours."""
    screen = app.screen
    compositor = screen._compositor
    out = []
    for y, strip in enumerate(compositor.render_strips()):
        x = 0
        for segment in strip:
            style = segment.style
            for offset, char in enumerate(segment.text):
                if char.isspace() or style is None:
                    continue
                try:
                    widget, _ = compositor.get_widget_at(x + offset, y)
                except NoWidget:
                    continue
                if widget is screen or widget.screen is not screen:
                    continue  # the screen's own backdrop over what lies behind it
                if isinstance(widget, Button) and 0x2580 <= ord(char) <= 0x259F:
                    continue  # a button's raised edge: its label says what it is
                fg, bg = style.color, style.bgcolor
                if style.reverse:
                    fg, bg = bg, fg
                if _index(fg) == _index(bg) and (fg is not None or bg is not None):
                    out.append((x + offset, y, char))
            x += segment.cell_length
    return out


def shown_text(app: FitHost) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("no_color", [False, True], ids=["16-colours", "NO_COLOR"])
@pytest.mark.parametrize("ascii_only", [False, True], ids=["unicode", "ascii"])
async def test_every_screen_legible_in_16_colours_and_no_color(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_color: bool, ascii_only: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    view = hostile_view()
    app = FitHost(ascii_only)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        assert app.no_color is no_color
        view_incident = view.incident
        assert view_incident is not None
        app.query_one(CockpitHeader).show(
            service=Inert("files-web"),
            environment=Inert("prod"),
            drill=True,
            incident=view_incident,
            degraded=True,
        )
        await pilot.pause()
        assert not unreadable(app), ("main screen", unreadable(app)[:10])
        # The states, in words: the walk's view has a failing probe, a stale source, an
        # open incident with the suspect deploy, and a blind spot.
        main = shown_text(app)
        for word in ("FAIL", "INCIDENT #1 SEV2 investigating", "BLIND SPOT", "DRILL", "stale"):
            assert word in main, (word, main)
        app.notify(Inert("a warning toast"), severity="warning")
        app.notify(Inert("an error toast"), severity="error")
        await until(pilot, lambda: len(app.screen.query(Toast)) == 2)
        assert not unreadable(app), ("toasts", unreadable(app)[:10])
        app.clear_notifications()
        await pilot.pause()
        for i, (cls, make) in enumerate(screens(view, tmp_path)):
            screen = make()
            await app.push_screen(screen)
            await pilot.pause()
            await pilot.pause()
            name = f"{cls.__name__}#{i}"
            assert not unreadable(app), (name, unreadable(app)[:10])
            await app.pop_screen()
            await pilot.pause()
