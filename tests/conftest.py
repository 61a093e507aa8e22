"""Fixtures shared across the suite: one real PostgreSQL for the whole run (started only when a
test asks for it), a store of either backend so the same tests run on both, and the
Slack/PagerDuty/webhook recorder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from notify_servers import Recorder
from pg_server import PASSWORD, PgServer, pg_server
from servers import serving

from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def unicode_terminal() -> Iterator[None]:
    """Each test starts on a Unicode terminal: an ASCII app before it set the process's glyphs
    (widgets.glyphs.use), which widgets outside a CockpitApp would otherwise inherit."""
    from widgets.glyphs import use

    use(False)
    yield
    use(False)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A PostgreSQL server shared by the tests that only use it (each gets its own database);
    a test that stops or restarts the server starts its own with `pg_server()`."""
    with pg_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], IncidentStore]:
    """Opens (another instance of) one store of the backend the test is run with."""
    if request.param == "sqlite":
        return lambda: IncidentStore(store_path(tmp_path))
    from cockpit.incident.store.pg.connect import PgTarget
    from cockpit.incident.store.pg.store import PgIncidentStore

    server: PgServer = request.getfixturevalue("pg")
    target = PgTarget(server.url(server.new_database()), password=PASSWORD)
    return lambda: PgIncidentStore(target)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """Slack, PagerDuty and webhook stand-in, recording every POST."""
    server = Recorder()
    with serving(server):
        try:
            yield server
        finally:
            server.release.set()
