"""Which incident store a cockpit uses: SQLite in the data dir (the default, one host), or the
PostgreSQL database `[cockpit] store` names (a team on several hosts). Everything that opens
the store goes through here, so the TUI, the headless commands and a revert's supervisor
always agree on where the incident is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.incident.store.connection import store_path
from cockpit.incident.store.errors import StoreError
from cockpit.incident.store.sqlite import IncidentStore

if TYPE_CHECKING:
    from cockpit.config import Config
    from cockpit.incident.store.pg.connect import PgTarget


def store_target(config: Config | None) -> PgTarget | None:
    """The PostgreSQL database of the config, or None for SQLite. Raises StoreError when the
    config names one whose password this environment lacks."""
    section = config.cockpit if config is not None else None
    if section is None or not section.store:
        return None
    from cockpit.incident.store.pg.connect import PgTarget

    secret = section.store_password
    if secret is not None and not secret.is_set:
        raise StoreError(
            f"incident store password: {secret.unset}", f"not configured: {secret.unset}"
        )
    return PgTarget(
        url=section.store,
        password=secret.reveal() if secret is not None else None,
        sslmode=section.store_sslmode,
        sslrootcert=section.store_sslrootcert,
    )


def open_target(
    target: PgTarget | None, data_dir: Path, *, read_only: bool = False
) -> IncidentStore:
    if target is None:
        return IncidentStore(store_path(data_dir), read_only=read_only)
    from cockpit.incident.store.pg.store import PgIncidentStore

    return PgIncidentStore(target)


def opener(config: Config | None) -> Callable[[Path, bool], IncidentStore]:
    """What a StoreWorker opens: `opener(path, read_only)`; the path is SQLite's file."""

    def open_store(path: Path, read_only: bool) -> IncidentStore:
        target = store_target(config)
        if target is None:
            return IncidentStore(path, read_only=read_only)
        from cockpit.incident.store.pg.store import PgIncidentStore

        return PgIncidentStore(target)

    return open_store


def open_store(config: Config | None, data_dir: Path) -> IncidentStore:
    """The store, read-write (created on first use)."""
    return open_target(store_target(config), data_dir)


def for_reading(config: Config | None, data_dir: Path) -> IncidentStore:
    """The store to read from (SQLite: read-only when this account may not write it)."""
    target = store_target(config)
    if target is None:
        return IncidentStore.for_reading(data_dir)
    return open_target(target, data_dir)


def describe(config: Config | None, data_dir: Path) -> str:
    """Where the incidents are kept, for people: a file, or a database (no secret)."""
    section = config.cockpit if config is not None else None
    if section is None or not section.store:
        return str(store_path(data_dir))
    from cockpit.incident.store.pg.connect import PgTarget

    return PgTarget(section.store).display
