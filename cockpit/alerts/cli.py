"""`cockpit alerts list|silence|expire`: the page for scripts, headless.

The same [[alerts]] sources, the same silence rules (required comment, bounded duration, the
engineer as createdBy, the reach over the current alerts said before anything is made) and the
same audit log and timeline as the TUI. Exit status: 0 done, 1 Alertmanager refused or could not
be reached, 2 a usage or config error (a silence that breaks a rule is a usage error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from cockpit.config import Config
    from cockpit.config.alerts import AlertmanagerConfig
    from cockpit.model import TimelineEvent


def _say(message: str) -> None:
    print(Inert(message), flush=True)


def _fail(message: str, code: int) -> int:
    print(Inert(f"cockpit: {message}"), file=sys.stderr, flush=True)
    return code


def _config(args: argparse.Namespace) -> Config:
    from cockpit.config.loader import load
    from cockpit.config.paths import config_path

    return load(config_path(getattr(args, "config", None)))


def _sources(config: Config, name: str | None) -> list[AlertmanagerConfig]:
    chosen = [c for c in config.alerts if name is None or c.name == name]
    if not chosen:
        raise LookupError(
            f"no [[alerts]] source named {name!r}" if name else "no [[alerts]] in the config"
        )
    return chosen


def _one_source(config: Config, name: str | None) -> AlertmanagerConfig:
    """The one source a silence or an expiry acts on (LookupError when there is not one)."""
    cfg, *more = _sources(config, name)
    if more:
        raise LookupError("several [[alerts]] sources: say which with --source")
    return cfg


async def _read(cfg: AlertmanagerConfig) -> Any:
    from cockpit.alerts.source import AlertmanagerSource

    source = AlertmanagerSource(cfg)
    try:
        return await source.poll()
    finally:
        await source.aclose()


def cmd_list(args: argparse.Namespace) -> int:
    from cockpit.alerts.view import alert_json, covering, silence_json
    from cockpit.config.base import not_configured
    from cockpit.sources.base import SourceError
    from cockpit.timeutil import iso_utc

    config = _config(args)
    try:
        sources = _sources(config, args.source)
    except LookupError as exc:
        return _fail(str(exc), 2)
    out: list[dict[str, Any]] = []
    failed = False
    for cfg in sources:
        missing = not_configured(cfg)
        if missing:
            out.append({"source": cfg.name, "ok": False, "error": missing})
            failed = True
            continue
        try:
            reading = asyncio.run(_read(cfg))
        except SourceError as exc:
            out.append({"source": cfg.name, "ok": False, "error": Inert(str(exc))})
            failed = True
            continue
        out.append(
            {
                "source": cfg.name,
                "ok": True,
                "error": "",
                "unreachable": list(reading.unreachable),
                "members": [{"member": m, "ok": True, "stale_since": None} for m in reading.members]
                + [
                    {"member": m, "ok": False, "stale_since": iso_utc(at)}
                    for m, at in reading.stale
                ],
                "alerts": [
                    alert_json(a) | {"silences": [s.id for s in covering(a, reading.silences)]}
                    for a in reading.alerts
                ],
                "silences": [silence_json(s) for s in reading.silences],
            }
        )
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=True))
    else:
        for entry in out:
            if not entry["ok"]:
                _say(f"{entry['source']}: {entry['error']}")
                continue
            for alert in entry["alerts"]:
                state = "silenced" if alert["state"] == "suppressed" else "firing"
                _say(
                    f"{entry['source']}: {state:<8} {alert['severity'] or '-':<8} "
                    f"{alert['alertname']} {alert['labels'].get('instance', '')} "
                    f"since {alert['starts_at']}"
                )
    return 1 if failed else 0


def _record(config: Config, args: argparse.Namespace, event: TimelineEvent) -> None:
    """The silence on the incident's timeline, as the TUI records it; a store that cannot take
    it is said, the silence stands."""
    from cockpit.config.paths import data_dir_for
    from cockpit.incident.store.backend import open_store
    from cockpit.incident.store.errors import StoreError

    try:
        with open_store(config, data_dir_for(getattr(args, "config", None), config)) as store:
            store.add_event(event)
    except (StoreError, OSError) as exc:
        _fail(f"not on the timeline: {exc}", 0)


def cmd_silence(args: argparse.Namespace) -> int:
    from cockpit.actions.silence import SilenceRefused, create_silence, plan_silence
    from cockpit.alerts.api import AlertmanagerClient
    from cockpit.alerts.matchers import MatcherError, covered, parse_matchers
    from cockpit.config.base import not_configured
    from cockpit.config.paths import data_dir_for
    from cockpit.host.whoami import current_user
    from cockpit.sources.base import SourceError

    config = _config(args)
    try:
        cfg = _one_source(config, args.source)
    except LookupError as exc:
        return _fail(str(exc), 2)
    missing = not_configured(cfg)
    if missing:
        return _fail(f"{cfg.name}: {missing}", 2)
    try:
        matchers = parse_matchers(", ".join(args.matcher))
    except MatcherError as exc:
        return _fail(f"--matcher: {exc}", 2)
    minutes = args.duration if args.duration is not None else cfg.silence_minutes
    data_dir = data_dir_for(getattr(args, "config", None), config)

    async def run() -> int:
        reading = await _read(cfg)
        chosen = covered(matchers, reading.alerts)  # headless, the matchers are the selection
        plan = plan_silence(cfg, chosen, reading.alerts, current_user(), matchers)
        if not plan.covers and not args.none_ok:
            return _fail(
                "the matchers cover none of the current alerts (--allow-none to silence "
                "ahead of time)",
                2,
            )
        _say(f"silence {plan.shown_matchers()} for {minutes:g} min: {plan.coverage()}")
        client = AlertmanagerClient(cfg)
        try:
            made = await create_silence(plan, args.comment, minutes, client, data_dir)
        finally:
            await client.aclose()
        _record(config, args, made.event)
        _say(f"silenced: {made.id} on {made.member} until {made.ends_at.isoformat()}")
        return 0

    try:
        return asyncio.run(run())
    except SilenceRefused as exc:
        return _fail(str(exc), 2)
    except SourceError as exc:
        return _fail(str(exc), 1)


def cmd_expire(args: argparse.Namespace) -> int:
    from cockpit.actions.silence import SilenceRefused, expire_silence
    from cockpit.alerts.api import AlertmanagerClient
    from cockpit.config.paths import data_dir_for
    from cockpit.host.whoami import current_user
    from cockpit.sources.base import SourceError

    config = _config(args)
    try:
        cfg = _one_source(config, args.source)
    except LookupError as exc:
        return _fail(str(exc), 2)
    data_dir = data_dir_for(getattr(args, "config", None), config)

    async def run() -> int:
        client = AlertmanagerClient(cfg)
        try:
            event = await expire_silence(args.id, cfg.name, current_user(), client, data_dir)
        finally:
            await client.aclose()
        _record(config, args, event)
        _say(f"expired: {args.id}")
        return 0

    try:
        return asyncio.run(run())
    except SilenceRefused as exc:
        return _fail(str(exc), 2)
    except SourceError as exc:
        return _fail(str(exc), 1)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("alerts", help="Alertmanager alerts and silences, headless")
    commands = group.add_subparsers(dest="alerts_command", metavar="COMMAND", required=True)

    def command(name: str, func: Any, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=text, description=text)
        parser.add_argument("--config", default=argparse.SUPPRESS)
        parser.add_argument("--source", help="the [[alerts]] source (default: the only one)")
        parser.set_defaults(func=func)
        return parser

    listing = command("list", cmd_list, "the alerts of the configured matchers, with silences")
    listing.add_argument("--json", action="store_true")
    silence = command("silence", cmd_silence, "silence alerts (audited, on the timeline)")
    silence.add_argument(
        "--matcher",
        action="append",
        required=True,
        help='name="value" (or !=, =~, !~); repeat for more',
    )
    silence.add_argument("--comment", required=True, help="why (required, shown to everyone)")
    silence.add_argument("--duration", type=float, metavar="MINUTES", help="default 60")
    silence.add_argument(
        "--allow-none",
        dest="none_ok",
        action="store_true",
        help="silence even when no current alert is covered",
    )
    expire = command("expire", cmd_expire, "expire a silence (audited, on the timeline)")
    expire.add_argument("id")
