"""The SQLite schema, one list of statements per version step, and bringing a file up to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cockpit.incident.store.errors import StoreError

SCHEMA_VERSION = 3

# An open incident, as SQL: the schema's unique index and the queries say it the same way.
OPEN = "status != 'resolved'"

# One list of statements per schema version step; index N upgrades from version N to N + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            severity TEXT NOT NULL,
            commander TEXT NOT NULL,
            status TEXT NOT NULL,
            declared_at TEXT NOT NULL,
            impact_started_at TEXT,
            summary TEXT NOT NULL DEFAULT '',
            drill INTEGER NOT NULL DEFAULT 0,
            resolved_at TEXT,
            investigating_at TEXT,
            identified_at TEXT,
            mitigated_at TEXT
        )
        """,
        # At most one open incident, enforced by the file itself so two processes cannot race.
        f"CREATE UNIQUE INDEX incidents_one_open ON incidents ({OPEN}) WHERE {OPEN}",
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            key TEXT UNIQUE,
            incident_id INTEGER REFERENCES incidents (id),
            recorded_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX events_at ON events (at, id)",
        "CREATE INDEX events_incident ON events (incident_id)",
    ),
    (
        # A person's correction of when detection happened; unset = the first detector event.
        "ALTER TABLE incidents ADD COLUMN detected_at TEXT",
        # The PagerDuty dedup_key (and any channel's alert identity) of this incident, so that
        # the resolve closes the alert the trigger opened, from whichever process sends it.
        "ALTER TABLE incidents ADD COLUMN notify_key TEXT",
        """
        CREATE TABLE notifications (
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            channel TEXT NOT NULL,
            event TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (incident_id, channel, event)
        )
        """,
    ),
    (
        # What an event is a state change of ("probe:web", "spike:nginx"): a second cockpit, or
        # a restarted one, must not record again a state the timeline already shows.
        "ALTER TABLE events ADD COLUMN family TEXT",
        "CREATE INDEX events_family ON events (family, at) WHERE family IS NOT NULL",
    ),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION


def check_version(db: sqlite3.Connection, path: Path) -> None:
    """A file opened read-only must already have this schema: it cannot be upgraded."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, this cockpit needs "
            f"{SCHEMA_VERSION}; open it once from an account that may write it",
            "needs a schema upgrade",
        )


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Upgrade step by step, inside the caller's write transaction; refuse a newer file."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, written by a newer "
            f"oncall-cockpit; this one knows up to {SCHEMA_VERSION}"
        )
    for step in range(version, SCHEMA_VERSION):
        for statement in _MIGRATIONS[step]:
            db.execute(statement)
    if version != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
