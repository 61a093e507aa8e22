"""The incident store on a real PostgreSQL (the backend-independent tests run on both in
test_incident_store.py and test_incident_lifecycle.py): the config that selects it, its
versioned schema, and cockpits on several hosts (separate data dirs) sharing one incident."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pg_server import PASSWORD, PgServer
from revert_world import RevertWorld

from cockpit.config import ConfigError, load
from cockpit.incident.store.errors import IncidentAlreadyOpen, StoreError
from cockpit.incident.store.pg.connect import PgTarget
from cockpit.incident.store.pg.store import SCHEMA_VERSION, PgIncidentStore
from cockpit.runtime import Cockpit, View

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def target(pg: PgServer) -> PgTarget:
    return PgTarget(pg.url(pg.new_database()), password=PASSWORD)


def config_file(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[cockpit]\nservice = "files-web"\n{textwrap.dedent(lines)}')
    return path


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://cockpit:hunter2@db.internal/oncall",
        "postgresql://cockpit@db.internal/oncall?password=hunter2",
    ],
)
def test_a_password_written_in_the_store_url_is_refused(tmp_path: Path, url: str) -> None:
    path = config_file(tmp_path, f'store = "{url}"\n')
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    assert caught.value.line == 3 and caught.value.key == "cockpit.store"
    assert "store_password_env" in caught.value.message
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert f"{path}:3: cockpit.store: credentials" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_the_config_names_the_database_and_where_its_password_is(
    tmp_path: Path, pg: PgServer
) -> None:
    from cockpit.incident.store.backend import open_store

    database = pg.new_database()
    path = config_file(
        tmp_path,
        f"""
        store = "{pg.url(database)}"
        store_password_env = "COCKPIT_PG_PASSWORD"
        store_sslmode = "disable"
        """,
    )
    config = load(path, env=pg.env)
    with open_store(config, tmp_path / "data") as store:
        assert isinstance(store, PgIncidentStore)
        store.declare("shared", "SEV2", "alice")
    assert not (tmp_path / "data" / "incidents.sqlite3").exists()  # nothing went to SQLite
    assert pg.sql("SELECT title FROM incidents", database) == [("shared",)]
    # Without the password in this environment: the store says why it cannot be reached.
    with pytest.raises(StoreError, match="COCKPIT_PG_PASSWORD is not set"):
        open_store(load(path, env={}), tmp_path / "data")


def test_unreachable_database_is_a_store_error_saying_offline(pg: PgServer) -> None:
    from daemons import free_port

    nowhere = PgTarget(f"postgresql://cockpit@127.0.0.1:{free_port()}/x", password=PASSWORD)
    with pytest.raises(StoreError) as caught:
        PgIncidentStore(nowhere)
    assert caught.value.reason.startswith("offline")
    assert PASSWORD not in str(caught.value)


def test_schema_is_versioned_and_a_newer_database_is_refused(target: PgTarget) -> None:
    PgIncidentStore(target).close()
    PgIncidentStore(target).close()  # opening again changes nothing
    with PgIncidentStore(target) as store:
        db = store.raw()
        versions = [r[0] for r in db.execute("SELECT version FROM cockpit_schema").fetchall()]
        assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))  # each step on record
        db.execute("INSERT INTO cockpit_schema (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer oncall-cockpit"):
        PgIncidentStore(target)


def test_a_database_of_an_older_schema_is_upgraded_step_by_step(target: PgTarget) -> None:
    import psycopg

    from cockpit.incident.store.pg.store import MIGRATIONS

    # The database as the first PostgreSQL-backed cockpit left it: schema 1, one incident.
    with psycopg.connect(target.url, password=PASSWORD, autocommit=True) as conn:
        conn.execute("CREATE TABLE cockpit_schema (version INTEGER PRIMARY KEY, applied_at "
                     "TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        for statement in MIGRATIONS[0]:
            conn.execute(statement)  # type: ignore[call-overload]
        conn.execute("INSERT INTO cockpit_schema (version) VALUES (1)")
        conn.execute(
            "INSERT INTO incidents (title, severity, commander, status, declared_at) "
            "VALUES ('kept', 'SEV2', 'alice', 'investigating', '2024-08-02T14:35:00.000000Z')"
        )
    with PgIncidentStore(target) as store:
        assert [i.title for i in store.list()] == ["kept"]
        db = store.raw()
        versions = [r[0] for r in db.execute("SELECT version FROM cockpit_schema").fetchall()]
        assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))
        assert store.append_audit("east", '{"event": "started"}') is True
        assert store.append_audit("east", '{"event": "started"}') is False  # kept once
        assert store.audit_entries() == [("east", '{"event": "started"}')]


def test_tls_with_the_servers_ca_verified_and_a_wrong_ca_refused(tmp_path: Path) -> None:
    import pwd
    import shutil
    import tempfile

    from pg_server import pg_server
    from probe_servers import make_certs

    (tmp_path / "certs").mkdir()
    (tmp_path / "other").mkdir()
    certs = make_certs(tmp_path / "certs")
    other = make_certs(tmp_path / "other")
    tls = Path(tempfile.mkdtemp(prefix="cockpit-pg-tls-"))
    os.chmod(tls, 0o755)
    owner = pwd.getpwnam("postgres")
    for source, name in ((certs.cert, "server.crt"), (certs.key, "server.key")):
        shutil.copy(source, tls / name)
        os.chown(tls / name, owner.pw_uid, owner.pw_gid)
        os.chmod(tls / name, 0o600)
    settings = (
        "ssl=on",
        f"ssl_cert_file={tls / 'server.crt'}",
        f"ssl_key_file={tls / 'server.key'}",
    )
    try:
        with pg_server(settings) as server:
            url = server.url()
            verified = PgTarget(url, PASSWORD, sslmode="verify-full", sslrootcert=str(certs.ca))
            with PgIncidentStore(verified) as store:
                store.declare("over TLS", "SEV3", "alice")
                row = (
                    store.raw()
                    .execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetchone()
                )
                assert row[0] is True
            wrong = PgTarget(url, PASSWORD, sslmode="verify-full", sslrootcert=str(other.ca))
            with pytest.raises(StoreError, match="certificate verify failed"):
                PgIncidentStore(wrong)
    finally:
        shutil.rmtree(tls, ignore_errors=True)


_RACER = textwrap.dedent(
    """
    import sys
    from cockpit.incident.store.pg.connect import PgTarget
    from cockpit.incident.store.pg.store import PgIncidentStore
    from cockpit.incident.store.errors import IncidentAlreadyOpen

    store = PgIncidentStore(PgTarget(sys.argv[1], password=sys.argv[3]))
    sys.stdin.readline()  # start together
    try:
        store.declare("race " + sys.argv[2], "SEV2", sys.argv[2])
    except IncidentAlreadyOpen:
        print("refused", flush=True)
    else:
        print("declared", flush=True)
    """
)


def test_two_hosts_declaring_at_once_open_one_incident(target: PgTarget, tmp_path: Path) -> None:
    script = tmp_path / "racer.py"
    script.write_text(_RACER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), target.url, name, PASSWORD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("alice", "bob", "carol")
    ]
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    results = [r.communicate(timeout=60)[0].strip() for r in racers]
    assert sorted(results) == ["declared", "refused", "refused"]
    with PgIncidentStore(target) as store:
        assert len(store.list()) == 1
        assert [e.kind for e in store.events()] == ["declared"]
        with pytest.raises(IncidentAlreadyOpen):
            store.declare("one more", "SEV3", "dave")


# -- two bastions -------------------------------------------------------------------------------


def store_lines(pg: PgServer, database: str) -> str:
    return f'store = "{pg.url(database)}"\nstore_password_env = "COCKPIT_PG_PASSWORD"'


@pytest.fixture
def bastions(tmp_path: Path, pg: PgServer) -> Iterator[tuple[RevertWorld, RevertWorld]]:
    """Two hosts' worth of cockpit: each its own config, data dir and service instance; one
    PostgreSQL database between them."""
    lines = store_lines(pg, pg.new_database())
    with (
        RevertWorld(tmp_path / "east", cockpit_extra=lines) as east,
        RevertWorld(tmp_path / "west", cockpit_extra=lines) as west,
    ):
        yield east, west


@contextlib.asynccontextmanager
async def watching(
    world: RevertWorld, pg: PgServer, user: str, data: Path | None = None
) -> AsyncIterator[tuple[Cockpit, list[View]]]:
    """A cockpit on `world`'s config; `data`: its own data dir (another host's) instead."""
    config = load(world.config, env=pg.env)
    spool = world.state if data is None else data.parent / f"{data.name}-state"
    cockpit = Cockpit(config, data or world.data, user=user, spool_dir=spool)
    views: list[View] = []

    async def feed() -> None:
        async for view in cockpit.views(min_gap=0.05):
            views.append(view)

    task = asyncio.create_task(feed())
    try:
        yield cockpit, views
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await cockpit.aclose()


async def until_view(views: list[View], check: object, timeout: float) -> View:
    async with asyncio.timeout(timeout):
        while True:
            if views and check(views[-1]):  # type: ignore[operator]
                return views[-1]
            await asyncio.sleep(0.02)


async def test_one_declares_the_other_bastion_sees_it(
    bastions: tuple[RevertWorld, RevertWorld], pg: PgServer
) -> None:
    east, west = bastions
    async with (
        watching(east, pg, "alice") as (alice, _views),
        watching(west, pg, "bob") as (_, seen),
    ):
        await until_view(seen, lambda v: v.store.opened and v.store.writable, 10)
        incident = await alice.storage.call(lambda s: s.declare("SFTP fails", "SEV2", "alice"))
        view = await until_view(seen, lambda v: v.incident is not None, 10)
        assert view.incident == incident
        assert not (east.data / "incidents.sqlite3").exists()
        assert not (west.data / "incidents.sqlite3").exists()
