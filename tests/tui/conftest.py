"""Fixtures the screen tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cockpit.config import Config, load
from cockpit.drill.world_process import WorldProcess


@pytest.fixture
async def world_config() -> AsyncIterator[Config]:
    world = WorldProcess(bad_deploy_after=1.0)
    try:
        yield load(await world.start())
    finally:
        await world.stop()
