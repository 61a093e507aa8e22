"""Opening the SQLite file and its transactions.

Several cockpits on one bastion (two engineers, or a TUI and `cockpit export`) share the file, so
it runs in WAL mode with a busy timeout, and every write is its own committed transaction before
the call returns: a kill -9 or a dropped SSH session right after loses nothing reported as saved.
The queries see a connection only through `Db`, which the PostgreSQL backend also provides.
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from cockpit.incident.store.errors import StoreError, failure
from cockpit.incident.store.migrations import check_version, migrate

STORE_FILENAME = "incidents.sqlite3"
BUSY_TIMEOUT_MS = 5000


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row, and the PostgreSQL backend's)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> builtins.list[Any]: ...


class Db(Protocol):
    """What the queries need of a connection: sqlite3's, or the PostgreSQL backend's adapter
    (same SQL, "?" placeholders)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...


# How the queries get a connection: `with write() as db:` one committed transaction, `with
# read() as db:` a read; either turns the backend's failures into StoreError.
Transaction = Callable[[], AbstractContextManager[Db]]


def store_path(data_dir: Path) -> Path:
    return data_dir / STORE_FILENAME


def open_sqlite(
    path: Path, lock: threading.Lock, *, read_only: bool, busy_ms: int
) -> sqlite3.Connection:
    """The file's connection, schema checked (read-only) or brought up to date."""
    if not read_only:
        _create_file(path)
    try:
        if read_only:
            uri = f"file:{path.as_posix()}?mode=ro"
            db = sqlite3.connect(
                uri,
                uri=True,
                timeout=busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            db = sqlite3.connect(
                path,
                timeout=busy_ms / 1000,
                isolation_level=None,  # autocommit; writes use explicit transactions
                check_same_thread=False,
            )
    except sqlite3.Error as exc:
        raise failure(path, exc) from None
    db.row_factory = sqlite3.Row
    try:
        db.execute(f"PRAGMA busy_timeout = {busy_ms}")
        if read_only:
            check_version(db, path)
        else:
            _set_wal(db, path)
            # FULL: the WAL is synced at each commit, so "saved" survives power loss too.
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            with write(db, lock, path):
                migrate(db, path)
    except sqlite3.Error as exc:
        db.close()
        raise failure(path, exc) from None
    except BaseException:
        db.close()
        raise
    return db


def _create_file(path: Path) -> None:
    """Create the file ourselves, so that in a shared data dir it is group-writable: sqlite
    would make it 0644, and gives its -wal and -shm files the same mode as the file."""
    from cockpit.host.datadir import DataDirError, ensure_data_dir, touch

    try:
        ensure_data_dir(path.parent)
        touch(path)
    except DataDirError as exc:
        raise StoreError(str(exc)) from None
    except OSError as exc:
        raise failure(path, exc) from None


def _set_wal(db: sqlite3.Connection, path: Path) -> None:
    # Switching a fresh file to WAL needs a moment of exclusive access; a second process
    # opening the same new file at that instant gets "locked" without the busy handler.
    for attempt in range(50):
        try:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.02)
            continue
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL journal (got {mode})")
        return


@contextmanager
def write(db: sqlite3.Connection, lock: threading.Lock, path: Path) -> Iterator[Db]:
    """One IMMEDIATE transaction, committed before the block's caller returns."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise failure(path, exc) from None


@contextmanager
def read(db: sqlite3.Connection, lock: threading.Lock, path: Path) -> Iterator[Db]:
    with lock:
        try:
            yield db
        except sqlite3.Error as exc:
            raise failure(path, exc) from None
