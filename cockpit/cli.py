"""The `cockpit` command. Heavy imports (textual, httpx, sentry-sdk) happen inside the commands
that need them, so `cockpit --version` or a config error answers at once."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cockpit import __version__
from cockpit.config.base import ConfigError
from cockpit.config.paths import config_path, data_dir_for
from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from cockpit.config.loader import Config

EXAMPLE_CONFIG = Path(__file__).with_name("example_config.toml")


def _load(arg: str | None) -> Config:
    from cockpit.config.loader import load

    return load(config_path(arg))


def _say(text: object, *, file: TextIO | None = None) -> None:
    """Every line the command line writes: Inert, whatever it quotes."""
    print(Inert(text), file=file or sys.stdout)


def _fail(message: str, code: int) -> int:
    _say(f"cockpit: {message}", file=sys.stderr)
    return code


# -- commands -------------------------------------------------------------------------------------


def _nothing_to_watch(config: Config) -> str | None:
    if config.sources():
        return None
    return (
        f"{config.path}: no sources configured ([[probes]], [[deploys]], [[changes]], "
        "[[errors]] or [[sentry]]): nothing to watch; `cockpit init` writes a commented example"
    )


def cmd_tui(args: argparse.Namespace) -> int:
    config = _load(args.config)
    empty = _nothing_to_watch(config)
    if empty:
        return _fail(empty, 2)
    from cockpit.app import run_tui

    directory, problem = _usable_data_dir(lambda: data_dir_for(args.config, config))
    return run_tui(
        config=config,
        data_dir=directory,
        data_dir_problem=problem,
        read_only=args.read_only,
        ascii=args.ascii,
    )


def _usable_data_dir(find: Callable[[], Path]) -> tuple[Path | None, str]:
    """The data dir, or None and why not: the screen then runs read-only and says so (live
    signals matter more than the store)."""
    from cockpit.host.datadir import DataDirError

    try:
        return find(), ""
    except DataDirError as exc:
        return None, str(exc)


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.app import run_tui
    from cockpit.config.paths import drill_data_dir

    def demo_dir() -> Path:
        if args.data_dir:
            return drill_data_dir(asked=args.data_dir)
        # A fresh store per run: yesterday's demo incident is not today's demo's.
        from cockpit.host.datadir import ensure_data_dir
        from cockpit.timeutil import utcnow

        return ensure_data_dir(drill_data_dir() / "demo" / utcnow().strftime("%Y%m%dT%H%M%SZ"))

    directory, problem = _usable_data_dir(demo_dir)
    return run_tui(
        config=None,
        data_dir=directory,
        data_dir_problem=problem,
        read_only=args.read_only,
        ascii=args.ascii,
        bad_deploy_after=args.bad_deploy_after,
    )


def _open_drill_tui(scenario: Any, **options: Any) -> int:
    from cockpit.app import run_drill_tui

    return run_drill_tui(scenario, **options)


def cmd_world(args: argparse.Namespace) -> int:
    from cockpit.world.runner import run_world

    return run_world(
        directory=Path(args.dir) if args.dir else None,
        write_config=Path(args.write_config) if args.write_config else None,
        bad_deploy_after=args.bad_deploy_after,
        scenario=args.scenario,
        stop_on_stdin_eof=args.stop_on_stdin_eof,
        alertmanager=args.alertmanager,
    )


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    empty = _nothing_to_watch(config)
    if empty:
        return _fail(empty, 2)
    import asyncio

    from cockpit.check import check_round

    done = asyncio.run(check_round(config))
    for report in done.reports:
        if args.json:
            print(json.dumps(report, sort_keys=False))  # ASCII JSON: escapes, never controls
        else:
            _say(check_line(report))
    return 0 if done.ok else 1


def check_line(report: dict[str, object]) -> str:
    """One source's line of `cockpit check`: ok, FAIL, or OFF (not configured here)."""
    name = report.get("name") or report.get("source")
    state = "ok  " if report["ok"] else ("FAIL" if report.get("configured", True) else "OFF ")
    detail = str(report.get("error") or "")
    if "sessions_ok" in report and report["ok"]:
        detail = f"{report['sessions_ok']}/{report['concurrency']} sessions, "
        detail += f"{report['latency_ms']} ms"
    elif report["ok"]:
        detail = _figures(report)
    return f"{state} {report['kind']!s:<15} {name}: {detail}"


def _figures(report: dict[str, object]) -> str:
    """What a source that answered read, from its stable JSON keys: an ok line with nothing
    after it would not say whether the source saw anything at all."""

    def many(key: str, noun: str) -> str:
        n = report[key]
        return f"{n} {noun}{'' if n == 1 else 's'}"

    latest = report.get("latest_change")
    what = f", latest {latest['what']}" if isinstance(latest, dict) and latest.get("what") else ""
    if "deploys" in report:
        return many("deploys", "deploy") + what
    if "changes" in report:
        return many("changes", "change") + what
    if "requests" in report:
        ratio = report.get("ratio")
        share = f" ({ratio:.1%})" if isinstance(ratio, float) else ""
        return f"{many('requests', 'request')}, {report['errors_5xx']} 5xx{share}"
    if "firing" in report:
        return f"{report['firing']} firing, {many('silences', 'silence')}"
    if "issues" in report:
        return many("issues", "issue")
    return ""


def cmd_config_check(args: argparse.Namespace) -> int:
    """Structure errors exit 2 (the first one, with file, line and key); what this environment
    lacks (a secret not set) is a warning each, exit 0, unless --strict."""
    config = _load(args.config)
    for warning in config.warnings:
        _say(f"cockpit: warning: {warning}", file=sys.stderr)
    summary = (
        f"{len(config.probes)} probes, {len(config.deploys)} deploy sources, "
        f"{len(config.changes)} change sources, "
        f"{len(config.errors)} 5xx sources, {len(config.sentry)} Sentry sources, "
        f"{len(config.services)} services, {len(config.notify)} notification channels"
    )
    if config.warnings:
        count = len(config.warnings)
        summary += f"; {count} warning{'s' if count > 1 else ''}"
        if args.strict:
            return _fail(f"{config.path}: {summary} (--strict: warnings fail)", 2)
    _say(f"{config.path}: ok: {summary}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from cockpit.host.files import WriteError, reason, write_file

    path = config_path(args.config)
    if path.exists() and not path.is_dir() and not args.force:
        return _fail(f"{path} exists; use --force to overwrite it", 1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create the directory {path.parent}: {reason(exc)}", 2)
    try:
        write_file(path, EXAMPLE_CONFIG.read_text(encoding="utf-8"), mode=0o600)
    except WriteError as exc:
        return _fail(str(exc), 2)
    _say(f"wrote {path}; edit it, then run `cockpit config check`")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from cockpit.config.loader import load
    from cockpit.config.paths import config_path
    from cockpit.host.files import WriteError, reason, unwritable, write_file
    from cockpit.incident.export import export_incident, render_incident
    from cockpit.incident.store.backend import for_reading
    from cockpit.timeutil import utcnow

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    unknown = [f for f in formats if f not in ("md", "json")]
    if unknown or not formats:
        return _fail(f"--format: unknown format {','.join(unknown) or '(none)'}; use md,json", 2)
    output = Path(args.output).expanduser() if args.output else None
    into_folder = output is not None and output.is_dir()
    if output is not None and not into_folder:
        targets = [output if len(formats) == 1 else output.with_suffix(f".{f}") for f in formats]
        # Said before anything is read or written: nothing is left half done.
        bad = [(t, p) for t in targets if (p := unwritable(t))]
        if bad:
            names = ", ".join(str(t) for t, _ in bad)
            return _fail(f"cannot write {names}: {'; '.join(dict.fromkeys(p for _, p in bad))}", 2)
    directory = data_dir_for(args.config)
    now = utcnow()
    path = config_path(args.config)
    with for_reading(load(path) if path.exists() else None, directory) as store:
        incident = store.get(args.incident) if args.incident else None
        if args.incident and incident is None:
            return _fail(f"no incident #{args.incident}", 1)
        incident = incident or store.open_incident() or next(iter(store.list()), None)
        if incident is None:
            return _fail("no incident recorded yet", 1)
        if output is None:
            try:
                written = export_incident(store, directory, incident, formats, generated_at=now)
            except OSError as exc:
                return _fail(f"cannot write the export under {directory}: {reason(exc)}", 2)
            for path in written:
                _say(path)
            return 0
        texts = [render_incident(store, incident, fmt, generated_at=now) for fmt in formats]
    if into_folder:
        assert output is not None
        stem = f"incident-{incident.id}-{now.strftime('%Y%m%dT%H%M%SZ')}"
        targets = [output / f"{stem}.{fmt}" for fmt in formats]
    for target, text in zip(targets, texts, strict=True):
        try:
            write_file(target, text)
        except WriteError as exc:
            return _fail(str(exc), 2)
        _say(target)
    return 0


# -- parser ---------------------------------------------------------------------------------------

# Command groups that live beside what they drive. Each module has
# `register(sub: argparse._SubParsersAction[ArgumentParser]) -> None`, which adds its parser(s) with
# `set_defaults(func=...)`; a func receives the parsed args and returns the exit status, and may
# call `cockpit.config.paths.data_dir_for(args.config)` for the data dir. These modules must
# import nothing heavy at top, and nothing of the TUI (the layer contracts in pyproject.toml).
COMMAND_MODULES: tuple[str, ...] = (
    "cockpit.drill.cli",
    "cockpit.incident.cli",
    "cockpit.incident.store.cli",
    "cockpit.doctor",
    "cockpit.alerts.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cockpit",
        description="A terminal cockpit for people on call.",
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    parser.add_argument("--config", help="config file (default: $COCKPIT_CONFIG, then user dir)")
    parser.add_argument("--read-only", action="store_true", help="disable declare and revert")
    parser.add_argument("--ascii", action="store_true", help="ASCII-only rendering")
    parser.set_defaults(func=cmd_tui, open_drill_tui=_open_drill_tui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="start the drill world and the cockpit on it")
    demo.add_argument("--bad-deploy-after", type=float, default=20.0, metavar="SECONDS")
    demo.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS)
    demo.add_argument("--ascii", action="store_true", default=argparse.SUPPRESS)
    demo.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the demo's incidents, lock and exports here (default: a drills data dir "
        "beside yours, never your own)",
    )
    demo.set_defaults(func=cmd_demo)

    world = sub.add_parser("world", help="run only the drill world's servers, headless")
    world.add_argument("--scenario", default="files-com")
    world.add_argument("--write-config", metavar="PATH")
    world.add_argument("--dir", metavar="DIR", help="world directory (default: a temp dir)")
    world.add_argument("--bad-deploy-after", type=float, default=20.0, metavar="SECONDS")
    world.add_argument("--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    world.add_argument(
        "--alertmanager",
        action="store_true",
        help="also run a real Alertmanager, paged by the world's 5xx rule",
    )
    world.set_defaults(func=cmd_world)

    check = sub.add_parser("check", help="one round of every source; exit 1 if any fails")
    check.add_argument("--config", default=argparse.SUPPRESS)
    check.add_argument("--json", action="store_true", help="one JSON object per line")
    check.set_defaults(func=cmd_check)

    config = sub.add_parser("config", help="config commands")
    config_sub = config.add_subparsers(dest="config_command", metavar="check", required=True)
    config_check = config_sub.add_parser("check", help="validate the config")
    config_check.add_argument("--config", default=argparse.SUPPRESS)
    config_check.add_argument(
        "--strict", action="store_true", help="fail (exit 2) on warnings too, e.g. a secret not set"
    )
    config_check.set_defaults(func=cmd_config_check)

    init = sub.add_parser("init", help="write a commented example config")
    init.add_argument("--config", default=argparse.SUPPRESS)
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=cmd_init)

    export = sub.add_parser("export", help="write an incident's timeline draft")
    export.add_argument("--incident", type=int, metavar="ID")
    export.add_argument("--format", default="md", help="md, json or md,json")
    export.add_argument("--output", metavar="PATH")
    export.add_argument("--config", default=argparse.SUPPRESS)
    export.set_defaults(func=cmd_export)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _ascii_terminal() -> None:
    """On a terminal that shows ASCII only (LANG=C), what the commands print is folded to
    ASCII like the screen is (an em dash as "-", not three junk characters). Pipes and files
    keep UTF-8; the TUI draws through its own stream."""
    from cockpit.term.ascii import fold_stream
    from cockpit.term.caps import detect

    caps = detect()
    if caps.tty and not caps.unicode:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                if stream.isatty():
                    fold_stream(stream)


def main(argv: list[str] | None = None) -> int:
    from cockpit.host.datadir import DataDirError
    from cockpit.incident.store.errors import StoreError
    from cockpit.term.textsafe import inert_log_records

    inert_log_records()
    _ascii_terminal()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, DataDirError) as exc:
        return _fail(str(exc), 2)
    except StoreError as exc:
        # Locked, full, read-only, damaged: said in one line, never a traceback.
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `cockpit check --json | head` closing early is not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
