"""Wait, in a Pilot test, until the app shows what the test expects (an event, not a sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget


async def until(
    pilot: Pilot[Any],
    condition: Callable[[], object],
    timeout: float = 30,
    describe: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time {describe()}".rstrip())
        await pilot.pause(0.02)


def shown_rows(widget: Widget) -> list[str]:
    """The rows inside a widget's border as the screen shows them now: its lines as Textual
    paints them (`render_lines`), cut to the content region, blank rows at the end left out."""
    region, content = widget.region, widget.content_region
    x, y = content.x - region.x, content.y - region.y
    painted = widget.render_lines(Region(0, 0, region.width, region.height))
    rows = ["".join(segment.text for segment in strip) for strip in painted]
    out = [row[x : x + content.width].rstrip() for row in rows[y : y + content.height]]
    while out and not out[-1]:
        out.pop()
    return out


def shown_text(widget: Widget) -> str:
    """What a widget shows inside its border, one row per line."""
    return "\n".join(shown_rows(widget))
