"""The feature pipeline's tool: what the cockpit's command change sources run, and the revert.

    python -m cockpit.world.featurectl --root DIR history     # publications, JSON lines
    python -m cockpit.world.featurectl --root DIR grants      # database grants changes
    python -m cockpit.world.featurectl --root DIR rollback bot-features v41

DIR is the world directory (the store lives in DIR/features). `history` and `grants` print one
JSON object per line, oldest first, in the shape a `command` change source reads. Exit 0 on
success, 1 when it cannot be done (message on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cockpit.world.features import (
    FEATURES_DIR,
    SUBJECT,
    FeatureStore,
    grants_records,
    history_records,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="featurectl", description="The drill feature store.")
    parser.add_argument("--root", required=True, type=Path, help="the world directory")
    parser.add_argument("--service", default="", help="the service the file belongs to")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("history", help="print the feature file's publications")
    commands.add_parser("grants", help="print the database's grants changes")
    rollback = commands.add_parser("rollback", help="publish an earlier version again")
    rollback.add_argument("subject")
    rollback.add_argument("version")
    args = parser.parse_args(argv)
    try:
        store = FeatureStore.open(args.root.expanduser().absolute() / FEATURES_DIR)
    except FileNotFoundError as exc:
        print(f"featurectl: {exc}", file=sys.stderr)
        return 1
    if args.command in ("history", "grants"):
        records = (
            history_records(store, args.service)
            if args.command == "history"
            else grants_records(store)
        )
        sys.stdout.write("".join(json.dumps(r) + "\n" for r in records))
        return 0
    if args.subject != SUBJECT:
        print(f"featurectl: no feature file {args.subject!r} (only {SUBJECT})", file=sys.stderr)
        return 1
    try:
        done = store.rollback(args.version, by=os.environ.get("USER") or "operator")
    except LookupError as exc:
        print(f"featurectl: {exc}", file=sys.stderr)
        return 1
    print(f"{SUBJECT}: published {done.version} with the content of {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
