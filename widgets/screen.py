"""The cockpit's main screen: Textual's default screen, minus a repaint of every cell when the
focus moves.

Textual's `Screen.focused` is a reactive that repaints the whole screen on each change; the
widgets that gain and lose focus repaint themselves anyway (their :focus styles and cursor
rows), so over SSH a Tab between panels rewrote the whole terminal for two panels' worth of
change.
"""

from __future__ import annotations

from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget


class CockpitScreen(Screen[None]):
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
