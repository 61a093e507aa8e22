"""apt-get for the drill world's hosts: what a package revert runs.

    python -m cockpit.world.aptctl --root WORLD/hosts/web-2 install -y --allow-downgrades \\
        systemd=249.11-0ubuntu3.6

It does to the host's files what `sudo apt-get install` does on a real host: the new versions
go into dpkg's status file and the change into dpkg.log and apt's history.log, so the host's
change sources see the revert like any other change, and the host's network (which follows
the installed systemd) comes back. Exit 0 on success, 1 when it cannot be done (message on
stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cockpit.world.debian import DebianHost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aptctl", description="apt-get for a drill host.")
    parser.add_argument("--root", required=True, type=Path, help="the host's root directory")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="install packages at given versions")
    install.add_argument("-y", "--yes", action="store_true", help="assume yes (as apt-get -y)")
    install.add_argument("--allow-downgrades", action="store_true")
    install.add_argument("packages", nargs="+", metavar="PACKAGE=VERSION")
    args = parser.parse_args(argv)

    try:
        host = DebianHost.open(args.root.expanduser().absolute())
    except FileNotFoundError as exc:
        print(f"aptctl: {exc}", file=sys.stderr)
        return 1
    wanted: dict[str, str] = {}
    for item in args.packages:
        package, sep, version = item.partition("=")
        if not sep or not package or not version:
            print(f"aptctl: expected PACKAGE=VERSION, got {item!r}", file=sys.stderr)
            return 2
        wanted[package] = version
    installed = host.installed()
    missing = [p for p in wanted if p not in installed]
    if missing:
        print(f"E: Unable to locate package {missing[0]}", file=sys.stderr)
        return 1
    by = os.environ.get("SUDO_USER") or os.environ.get("USER") or "root"
    try:
        changes = host.install(wanted, by=by, uid=os.getuid(), downgrade=args.allow_downgrades)
    except ValueError as exc:
        print(f"E: {exc}", file=sys.stderr)
        return 1
    if not changes:
        for package, version in wanted.items():
            print(f"{package} is already the newest version ({version}).")
        print("0 upgraded, 0 newly installed, 0 downgraded, 0 to remove and 0 not upgraded.")
        return 0
    for change in changes:
        verb = "Setting up"
        print(f"{verb} {change.package} ({change.new}) ...")
    downgraded = sum(1 for c in changes if c.old is not None and args.allow_downgrades)
    print(
        f"0 upgraded, {sum(1 for c in changes if c.old is None)} newly installed, "
        f"{downgraded} downgraded, 0 to remove and 0 not upgraded."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
