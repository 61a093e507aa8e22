"""A real PostgreSQL 15 (Debian's postgresql-15, `.ci/run` installs it) for the store tests:
its own cluster in a temp dir, a free port on 127.0.0.1, in the foreground, torn down after.

initdb and postgres refuse to run as root, so as root (the tests' usual account) the cluster
belongs to the `postgres` system user and the server runs under `runuser`. Clients log in over
TCP with a password (scram-sha-256), as a cockpit configured with store_password_env would.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from daemons import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "cockpit"
PASSWORD = "pg-test-secret-3141"
START_SECONDS = 30.0
_names = itertools.count(1)


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class PgServer:
    """One cluster; `url(db)` names a database in it, `new_database()` makes a fresh one."""

    def __init__(self, settings: tuple[str, ...] = ()) -> None:
        """`settings`: more server settings ("log_statement=all")."""
        self.settings = settings
        if not (BIN / "postgres").exists():
            raise AssertionError(f"{BIN}/postgres is not installed (apt-get install postgresql)")
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            _as_owner(
                [
                    str(BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    USER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        self.start()

    @property
    def env(self) -> dict[str, str]:
        """What a cockpit's environment holds: the password its config names."""
        return {"COCKPIT_PG_PASSWORD": PASSWORD}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again, after `stop`) and wait until it takes connections."""
        argv = [
            str(BIN / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            *(arg for setting in self.settings for arg in ("-c", setting)),
        ]
        process = subprocess.Popen(
            _as_owner(argv),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self.log.append(line.rstrip())
                if "ready to accept connections" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_SECONDS):
            process.kill()
            raise AssertionError("postgres did not start:\n" + "\n".join(self.log[-20:]))
        self.process = process

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Stop the server (SIGINT: fast shutdown, every client disconnected)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(
            self.url(database), password=PASSWORD, autocommit=True, connect_timeout=5
        ) as conn:
            cursor = conn.execute(statement)  # type: ignore[call-overload]
            return list(cursor.fetchall()) if cursor.description else []

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def pg_server(settings: tuple[str, ...] = ()) -> Iterator[PgServer]:
    server = PgServer(settings)
    try:
        yield server
    finally:
        server.close()
