"""The drill world's deploy tool: what an operator (or the cockpit's revert) runs.

    python -m cockpit.world.deployctl --root DIR status
    python -m cockpit.world.deployctl --root DIR list
    python -m cockpit.world.deployctl --root DIR check VERSION
    python -m cockpit.world.deployctl --root DIR rollback --to VERSION
    python -m cockpit.world.deployctl --root DIR failover

`failover` switches the running world's database to its standby (it acts on the world that
lives in DIR, through its control door; nothing in the deploy log changes).

Exit 0 on success, 1 when the request cannot be done (message on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from cockpit.world.control import ControlError, send_fault
from cockpit.world.releases import DeployError, ReleaseRoot


def _who() -> str:
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deployctl", description="Deploy tool of the drill world's service."
    )
    parser.add_argument("--root", required=True, type=Path, help="the service's deploy root")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="print the version `current` points to")
    commands.add_parser("list", help="print the installed releases, oldest first")
    check = commands.add_parser("check", help="exit 0 if a release of VERSION is installed")
    check.add_argument("version")
    rollback = commands.add_parser("rollback", help="switch `current` to an installed release")
    rollback.add_argument("--to", required=True, dest="version", help="the version to run")
    rollback.add_argument("--service", help="service name for the log (default: from the log)")
    commands.add_parser("failover", help="fail the running service over to its standby database")
    return parser


def _fail(message: str) -> int:
    print(f"deployctl: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = ReleaseRoot(args.root.expanduser().absolute())
    if not root.releases_dir.is_dir():
        return _fail(f"{root.root} is not a deploy root (no {root.releases_dir.name}/)")

    if args.command == "status":
        current = root.current_version()
        if current is None:
            return _fail(f"{root.current_link} does not point at a release")
        print(current)
        return 0

    if args.command == "list":
        current = root.current_version()
        for release in root.releases():
            marker = "*" if release.version == current else " "
            print(f"{marker} {release.version}  {release.path.name}")
        return 0

    if args.command == "failover":
        try:
            send_fault(root.root, "failover")
        except ControlError as exc:
            return _fail(f"failover failed: {exc}")
        print(f"{root.service_name()}: failed over to the standby database")
        return 0

    if args.command == "check":
        found = root.find(args.version)
        if found is None:
            return _fail(f"no release {args.version!r} under {root.releases_dir}")
        print(f"release {found.version} is installed at {found.path}")
        return 0

    try:
        done = root.rollback(args.version, who=_who(), service=args.service)
    except (DeployError, OSError) as exc:
        return _fail(f"rollback failed: {exc}")
    if not done.changed:
        print(f"{done.service} already runs {done.to_version}; nothing changed")
    else:
        print(f"{done.service}: rolled back {done.from_version} -> {done.to_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
