"""`cockpit drill ...`: list scenarios, run one (TUI or headless), inject a fault into a world.

    cockpit drill list
    cockpit drill run NAME [--speed X] [--notifications mark|suppress]
    cockpit drill run NAME --headless --responder SCRIPT.toml [--speed X]
    cockpit drill faults
    cockpit drill inject FAULT --world DIR

Nothing heavy is imported until a command runs. A broken scenario or script is a config
error: "file:line: key: message", exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

from cockpit.config.base import ConfigError
from cockpit.config.sections import DRILL_NOTIFY_POLICIES
from cockpit.term.textsafe import Inert


def register(sub: Any) -> None:
    drill = sub.add_parser("drill", help="replay a real incident and score the response")
    commands = drill.add_subparsers(dest="drill_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="the scenarios, built in and your own")
    listing.set_defaults(func=cmd_list)

    run = commands.add_parser("run", help="run a drill; it ends with a drill report")
    run.add_argument("name", help="scenario name (see `cockpit drill list`)")
    run.add_argument("--speed", type=float, help="scenario seconds per real second")
    run.add_argument(
        "--notifications",
        choices=DRILL_NOTIFY_POLICIES,
        default="mark",
        help="send notifications marked as a drill, or not at all",
    )
    run.add_argument("--headless", action="store_true", help="no screen: a script responds")
    run.add_argument("--responder", metavar="SCRIPT", help="responder script (TOML) for --headless")
    run.add_argument("--ascii", action="store_true", default=argparse.SUPPRESS)
    run.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the drill's runs here (default: a drills data dir beside yours, never your own)",
    )
    run.add_argument("--config", default=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    faults = commands.add_parser("faults", help="the faults a drill world can be told to apply")
    faults.set_defaults(func=cmd_faults)

    inject = commands.add_parser("inject", help="apply a fault now to a running drill world")
    inject.add_argument("fault")
    inject.add_argument("--world", required=True, metavar="DIR", help="the drill world's dir")
    inject.set_defaults(func=cmd_inject)


def _fail(message: str, code: int) -> int:
    print(Inert(f"cockpit drill: {message}"), file=sys.stderr)
    return code


def cmd_list(args: argparse.Namespace) -> int:
    from cockpit.drill.scenario import is_builtin, load_scenario, scenario_files

    width = shutil.get_terminal_size().columns
    status = 0
    for name, path in scenario_files().items():
        try:
            scenario = load_scenario(path)
        except ConfigError as exc:
            print(Inert(f"{name:<26} (broken) {exc}"))
            status = 2
            continue
        where = "built in" if is_builtin(path) else str(path)
        # Titles wrapped under their own column: an 80-column session reads them whole,
        # instead of the terminal breaking them back to the left edge.
        title = textwrap.wrap(scenario.title, max(30, width - 27)) or [""]
        print(Inert(f"{name:<26} {title[0]}"))
        for line in title[1:]:
            print(Inert(f"{'':<26} {line}"))
        print(Inert(f"{'':<26} {scenario.speed:g}x, {where}"))
    return status


def cmd_faults(args: argparse.Namespace) -> int:
    from cockpit.drill.inject import available_faults

    for name, what in available_faults():
        print(Inert(f"{name:<16} {what}"))
    return 0


def cmd_inject(args: argparse.Namespace) -> int:
    from cockpit.drill.inject import InjectError, inject_fault

    try:
        record = inject_fault(Path(args.world).expanduser(), args.fault)
    except InjectError as exc:
        return _fail(str(exc), 1)
    print(Inert(f"applied {args.fault}" + (f": {record.detail}" if record.detail else "")))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from cockpit.config.paths import drill_data_dir
    from cockpit.drill.scenario import find_scenario
    from cockpit.host.datadir import DataDirError

    if args.speed is not None and args.speed <= 0:
        return _fail("--speed must be above 0", 2)
    try:
        scenario = find_scenario(args.name)
    except LookupError as exc:
        return _fail(str(exc.args[0]), 2)
    try:
        data_dir = drill_data_dir(asked=args.data_dir)
    except DataDirError as exc:
        return _fail(str(exc), 2)
    if args.headless:
        if not args.responder:
            return _fail(
                "--headless needs --responder SCRIPT.toml: the steps a person would take"
                " (the format, with an example: README.md, 'Responder scripts' under 'Drills')",
                2,
            )
        from cockpit.drill.report import cause_lines, milestone_rows
        from cockpit.drill.responder import load_script, run_headless

        script = load_script(Path(args.responder).expanduser())
        report = asyncio.run(
            run_headless(
                scenario,
                script,
                data_dir=data_dir,
                speed=args.speed,
                notifications=args.notifications,
            )
        )
        for label, drill, real, best, _ in milestone_rows(report):
            print(Inert(f"{label:<9} drill {drill:<22} real {real:<10} best {best}"))
        for line in cause_lines(report):
            print(Inert(f"cause     {line}"))
        for path in report.files:
            print(Inert(path))
        return 0
    # The screen belongs to the TUI layer above this one: `cockpit.cli` hands its opener in.
    return int(
        args.open_drill_tui(
            scenario,
            data_dir=data_dir,
            speed=args.speed,
            notifications=args.notifications,
            ascii_only=bool(getattr(args, "ascii", False)),
        )
    )
