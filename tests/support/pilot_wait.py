"""Wait, in a Pilot test, until the app shows what the test expects (an event, not a sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


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
