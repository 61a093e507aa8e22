"""A lock for acting on one service, shared by every cockpit of a team on any host: a
PostgreSQL session advisory lock held by a connection of its own.

The server drops the lock when that connection ends, however it ends: released, the holder
killed (its socket closes), or its host gone (the session's TCP keepalives give up within
about 11 s). The connection's socket is handed to the revert's command with the local lock's
descriptor, so the lock lives exactly as long as the revert runs. A row in `action_locks`
says who holds it (user, host, pid, since, what); the next holder finds the row of a holder
whose connection is gone, overwrites it and says so.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cockpit.host.whoami import host_name
from cockpit.incident.store.pg.connect import PgTarget, close_quietly, offline
from cockpit.incident.store.pg.store import CHANNEL, migrate
from cockpit.timeutil import iso_utc, parse_iso, utcnow

if TYPE_CHECKING:
    import psycopg

NAMESPACE = 0x0C0C  # the first key of every action lock (the second is the name's hash)
# A holder that took the lock a moment ago may not have written its row yet.
ROW_PATIENCE = 1.0
# Set on the lock's own session: the server notices a holder whose host vanished.
SESSION = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


@dataclass(frozen=True, slots=True)
class Holder:
    user: str
    host: str
    pid: int | None
    since: datetime | None
    what: str = ""
    run: str = ""


def lock_key(name: str) -> int:
    """A name's second advisory-lock key: 31 bits of its hash (pg_locks shows it as objid)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFF_FFFF


def _holder(row: Any) -> Holder:
    return Holder(
        user=str(row[0]),
        host=str(row[1]),
        pid=int(row[2]),
        since=parse_iso(row[3]) if row[3] else None,
        what=str(row[4]),
        run=str(row[5]),
    )


_COLUMNS = "user_name, host, pid, since, what, run, backend_pid"
_HOLDER_QUERY = (
    "SELECT a.user_name, a.host, a.pid, a.since, a.what, a.run FROM action_locks a "
    "JOIN pg_locks l ON l.pid = a.backend_pid WHERE a.name = %s AND l.locktype = 'advisory' "
    "AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
)


class TeamLock:
    """One claim on the lock named `name`; `acquire` never waits for another holder."""

    def __init__(self, target: PgTarget, name: str, *, user: str, what: str = "", run: str = ""):
        self.target = target
        self.name = name
        self.user = user
        self.what = what
        self.run = run
        self.key = lock_key(name)
        self.stale: Holder | None = None  # the record of a holder whose connection was gone
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def fileno(self) -> int:
        """The lock's connection: whoever holds a copy of it keeps the lock."""
        if self._conn is None:
            raise RuntimeError(f"team lock for {self.name} is not held")
        return int(self._conn.fileno())

    def acquire(self) -> Holder | None:
        """Take the lock: None when taken, else who holds it. StoreError when the database
        cannot be reached (then nobody may act: the lock cannot be known to be free)."""
        import psycopg

        if self._conn is not None:
            raise RuntimeError(f"team lock for {self.name} is already held by this object")
        target = self.target
        try:
            conn = psycopg.connect(target.url, autocommit=True, options=SESSION, **target.kwargs())
        except psycopg.Error as exc:
            raise offline(target, exc) from None
        try:
            migrate(conn, target)
            got = conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, self.key)
            ).fetchone()
            if not got or not got[0]:
                holder = self._holder(conn)
                close_quietly(conn)
                return holder
            with conn.transaction():
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM action_locks WHERE name = %s", (self.name,)
                ).fetchone()
                # We hold the lock, so whoever this row names does not: its connection is gone.
                self.stale = _holder(row) if row is not None else None
                conn.execute(
                    f"INSERT INTO action_locks (name, {_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid()) "
                    "ON CONFLICT (name) DO UPDATE SET user_name = excluded.user_name, "
                    "host = excluded.host, pid = excluded.pid, since = excluded.since, "
                    "what = excluded.what, run = excluded.run, backend_pid = excluded.backend_pid",
                    (
                        self.name,
                        self.user,
                        host_name(),
                        os.getpid(),
                        iso_utc(utcnow()),
                        self.what,
                        self.run,
                    ),
                )
                conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        except psycopg.Error as exc:
            close_quietly(conn)
            raise offline(target, exc) from None
        except BaseException:
            close_quietly(conn)
            raise
        self._conn = conn
        return None

    def _holder(self, conn: psycopg.Connection[Any]) -> Holder:
        """Who holds the lock: the row written by the backend that holds it in pg_locks."""
        deadline = time.monotonic() + ROW_PATIENCE
        while True:
            row = conn.execute(_HOLDER_QUERY, (self.name, NAMESPACE, self.key)).fetchone()
            if row is not None:
                return _holder(row)
            if time.monotonic() > deadline:
                return Holder(user="unknown", host="", pid=None, since=None)
            time.sleep(0.02)

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            with conn.transaction():
                conn.execute(
                    "DELETE FROM action_locks WHERE name = %s AND backend_pid = pg_backend_pid()",
                    (self.name,),
                )
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (NAMESPACE, self.key))
                conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        except Exception:
            pass
        finally:
            close_quietly(conn)
