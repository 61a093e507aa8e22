"""Fixtures of the action tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IncidentStore]:
    """A SQLite incident store of the test's own."""
    with IncidentStore(store_path(tmp_path)) as s:
        yield s
