"""`cockpit store migrate --to postgresql://...`: move a host's SQLite incident store into the
team's PostgreSQL one. Safe to run again (it copies only what is missing) and it says, per
table, how many rows the SQLite store has and how many are in the database, identical.
Exit status: 0 copied and verified, 1 the copy failed or does not match, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cockpit.term.textsafe import Inert


def _fail(message: str, code: int) -> int:
    print(f"cockpit store: {Inert(message)}", file=sys.stderr)
    return code


def _password(args: argparse.Namespace, url: str) -> str | None:
    """--password-env / --password-file, else the config's own store password when the
    config names this same database."""
    if args.password_env:
        value = os.environ.get(args.password_env, "").strip()
        if not value:
            raise ValueError(f"{args.password_env} is not set")
        return value
    if args.password_file:
        path = Path(args.password_file).expanduser()
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"{path} cannot be read ({exc.strerror})") from None
    from cockpit.config.loader import load
    from cockpit.config.paths import config_path

    path = config_path(getattr(args, "config", None))
    if not path.exists():
        return None
    section = load(path).cockpit
    if section.store == url and section.store_password is not None:
        if not section.store_password.is_set:
            raise ValueError(section.store_password.unset)
        return section.store_password.reveal()
    return None


def cmd_migrate(args: argparse.Namespace) -> int:
    from cockpit.actions.audit import AUDIT_FILENAME
    from cockpit.config.paths import data_dir_for
    from cockpit.incident.store.connection import store_path
    from cockpit.incident.store.errors import StoreError
    from cockpit.incident.store.pg.connect import PgTarget, url_problem

    problem = url_problem(args.to)
    if problem:
        return _fail(f"--to: {problem}", 2)
    source = (
        Path(args.source).expanduser()
        if args.source
        else store_path(data_dir_for(getattr(args, "config", None)))
    )
    if not source.is_file():
        return _fail(f"no SQLite incident store at {source}", 2)
    try:
        password = _password(args, args.to)
    except ValueError as exc:
        return _fail(f"the database's password: {exc}", 2)
    target = PgTarget(args.to, password=password, sslmode=args.sslmode)
    from cockpit.incident.store.pg.migrate import copy_store
    from cockpit.incident.store.pg.store import PgIncidentStore

    try:
        store = PgIncidentStore(target)
        try:
            copied = copy_store(source, store, audit=source.parent / AUDIT_FILENAME)
        finally:
            store.close()
    except StoreError as exc:
        return _fail(str(exc), 1)
    for table in copied:
        origin = AUDIT_FILENAME if table.table == "audit log" else source.name
        print(
            f"{table.table}: {table.source} in {origin}, {table.copied} copied now, "
            f"{table.present} in {target.display} and identical"
        )
    print(
        f"done: every row of {source} is in {target.display}; "
        f'set [cockpit] store = "{args.to}" to use it'
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("store", help="the incident store: move it to PostgreSQL")
    commands = group.add_subparsers(dest="store_command", metavar="COMMAND", required=True)
    text = "copy this host's SQLite incident store into a PostgreSQL database (idempotent)"
    migrate = commands.add_parser("migrate", help=text, description=text)
    migrate.add_argument("--config", default=argparse.SUPPRESS)
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="postgresql://user@host:5432/dbname"
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="the SQLite file (default: the data dir's incidents.sqlite3)",
    )
    secret = migrate.add_mutually_exclusive_group()
    secret.add_argument("--password-env", metavar="VAR", help="the password's variable")
    secret.add_argument("--password-file", metavar="PATH", help="a file holding the password")
    migrate.add_argument("--sslmode", help="libpq's sslmode (verify-full checks name and CA)")
    migrate.set_defaults(func=cmd_migrate)
