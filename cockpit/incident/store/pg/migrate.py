"""Copy a SQLite incident store into the PostgreSQL one (`cockpit store migrate`).

Rows keep their ids, so a copy run twice copies nothing the second time, and every row is then
checked against its source: the copy is done when each incident, event and notification of
the SQLite file is in the database exactly as it was. A database holding other rows under the
same ids (another store already moved there) is refused, nothing copied.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.incident.store.errors import StoreError
from cockpit.incident.store.pg.store import WRITE_LOCK, PgIncidentStore
from cockpit.incident.store.sqlite import IncidentStore

# table -> (its columns, its key)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "incidents": (
        (
            "id", "title", "severity", "commander", "status", "declared_at", "impact_started_at",
            "summary", "drill", "resolved_at", "investigating_at", "identified_at",
            "mitigated_at", "detected_at", "notify_key",
        ),
        ("id",),
    ),
    "events": (
        ("id", "at", "kind", "text", "source", "key", "incident_id", "recorded_at", "family"),
        ("id",),
    ),
    "notifications": (
        (
            "incident_id", "channel", "event", "status", "error", "attempts", "updated_at",
            "sent_at",
        ),
        ("incident_id", "channel", "event"),
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    source: int  # rows in the SQLite store
    copied: int  # rows added to the database by this run
    present: int  # rows of the source found in the database, identical, after the run

    @property
    def ok(self) -> bool:
        return self.present == self.source


def _rows(path: Path, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    # Read-only and schema-checked: the file is opened as the store opens it.
    IncidentStore(path, read_only=True).close()
    with sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True) as db:
        rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    db.close()
    return rows


def _audit_lines(path: Path) -> list[tuple[str, str]]:
    """(host, line) of each whole entry of an audit log (a torn last line is left out)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        out.append((str(entry.get("host", "")) if isinstance(entry, dict) else "", line))
    return out


def copy_store(source: Path, store: PgIncidentStore, audit: Path | None = None) -> list[Copied]:
    """Copy every row of the SQLite store at `source` that the database lacks, and every
    entry of the `audit` log, in one transaction; then verify. Raises StoreError (nothing
    copied) on a conflicting row."""
    import hashlib

    import psycopg

    tables = {name: _rows(source, name, cols) for name, (cols, _) in TABLES.items()}
    lines = _audit_lines(audit) if audit is not None else []
    result: list[Copied] = []
    conn = store.raw().conn
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            added: dict[str, int] = {}
            for name, (columns, key) in TABLES.items():
                added[name] = _insert(conn, name, columns, key, tables[name])
            for name in ("incidents", "events"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"GREATEST((SELECT max(id) FROM {name}), 1))"
                )
            for name, (columns, key) in TABLES.items():
                present = _present(conn, name, columns, key, tables[name])
                result.append(Copied(name, len(tables[name]), added[name], present))
            keys = [hashlib.sha256(f"{host}\n{line}".encode()).hexdigest() for host, line in lines]
            audit_added = 0
            with conn.cursor() as cursor:
                for (host, line), digest in zip(lines, keys, strict=True):
                    cursor.execute(
                        "INSERT INTO audit_log (host, entry, key) VALUES (%s, %s, %s) "
                        "ON CONFLICT (key) DO NOTHING",
                        (host, line, digest),
                    )
                    audit_added += cursor.rowcount
            kept = {row[0] for row in conn.execute("SELECT key FROM audit_log").fetchall()}
            present = sum(1 for digest in keys if digest in kept)
            result.append(Copied("audit log", len(lines), audit_added, present))
            bad = [c for c in result if not c.ok]
            if bad:
                raise StoreError(
                    "the database holds other rows under the ids of this store ("
                    + ", ".join(f"{c.table}: {c.source - c.present} differ" for c in bad)
                    + "); nothing copied",
                    "conflicting rows",
                )
            conn.execute("SELECT pg_notify('oncall_cockpit_store', '')")
    except psycopg.errors.UniqueViolation as exc:
        raise StoreError(
            "the database already has an open incident, and so has this store; resolve one "
            f"first (nothing copied): {str(exc).splitlines()[0]}",
            "two open incidents",
        ) from None
    except psycopg.Error as exc:
        from cockpit.incident.store.pg.connect import offline

        raise offline(store.target, exc) from None
    return result


def _insert(
    conn: Any, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list[Any]
) -> int:
    if not rows:
        return 0
    placeholders = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
    )
    added = 0
    with conn.cursor() as cursor:
        for row in rows:
            cursor.execute(sql, row)
            added += cursor.rowcount
    return added


def _present(
    conn: Any, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list[Any]
) -> int:
    """How many source rows are in the database with every column equal."""
    found = {
        tuple(row[: len(key)]): tuple(row)
        for row in conn.execute(
            f"SELECT {', '.join(key)}, {', '.join(columns)} FROM {table}"
        ).fetchall()
    }
    width = len(key)
    index = [columns.index(k) for k in key]
    return sum(
        1
        for row in rows
        if (there := found.get(tuple(row[i] for i in index))) is not None
        and there[width:] == tuple(row)
    )
