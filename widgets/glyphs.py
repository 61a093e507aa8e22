"""Glyph sets: Unicode where the terminal can show it, plain ASCII where it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from textual.command import CommandPalette


@dataclass(frozen=True)
class Glyphs:
    bars: str  # from empty to full, one cell
    marker: str  # a deploy on the time axis
    declared: str
    mitigated: str
    rising: str
    arrow: str
    ellipsis: str
    bullet: str


UNICODE = Glyphs(
    bars=" ▁▂▃▄▅▆▇█",
    marker="▲",
    declared="◆",
    mitigated="✓",
    rising="↑",
    arrow="→",
    ellipsis="…",
    bullet="•",
)
ASCII = Glyphs(
    bars=" .:-=+*#%",
    marker="^",
    declared="!",
    mitigated="v",
    rising="^",
    arrow="->",
    ellipsis="~",
    bullet="*",
)


def glyphs(ascii_only: bool) -> Glyphs:
    return ASCII if ascii_only else UNICODE


# The one terminal this process draws on: set once by the app, read where no widget is at hand
# (cutting text to a width, the header's separators).
_terminal = [UNICODE]


def use(ascii_only: bool) -> None:
    _terminal[0] = glyphs(ascii_only)


def current() -> Glyphs:
    return _terminal[0]


def fit(raw: str, width: int, g: Glyphs) -> Inert:
    """The text made Inert and cut to width, marking the cut."""
    text = Inert(raw)
    if width <= 0:
        return Inert("")
    if len(text) <= width:
        return text
    return Inert(text[: max(0, width - len(g.ellipsis))] + g.ellipsis)


def fit_middle(raw: str, width: int, g: Glyphs) -> Inert:
    """The text made Inert and cut to width in the middle: names that share a long prefix
    stay told apart."""
    text = Inert(raw)
    if len(text) <= width:
        return text
    if width <= len(g.ellipsis) + 2:
        return fit(text, width, g)
    keep = width - len(g.ellipsis)
    head = keep // 2
    return Inert(text[:head] + g.ellipsis + text[len(text) - (keep - head) :])


def ascii_scrollbars() -> None:
    """Scrollbars without the block glyphs Textual draws a thumb's fractional ends with: an
    ASCII terminal shows the thumb by its colour alone."""
    from textual.scrollbar import ScrollBar, ScrollBarRender

    class AsciiScrollBarRender(ScrollBarRender):
        VERTICAL_BARS = [" "] * 8
        HORIZONTAL_BARS = [" "] * 8

    ScrollBar.renderer = AsciiScrollBarRender


def ascii_palette() -> CommandPalette:
    """The command palette without its emoji search icon and Unicode placeholder ellipsis."""
    from textual.command import CommandPalette, SearchIcon

    class AsciiCommandPalette(CommandPalette):
        def on_mount(self) -> None:
            for icon in self.query(SearchIcon):
                icon.icon = ">"  # before the first frame: mounting comes before painting

    return AsciiCommandPalette(placeholder="Search for commands...", id="--command-palette")
