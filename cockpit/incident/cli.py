"""`cockpit incident ...`: the incident lifecycle for scripts and second terminals.

Same data dir and store as the TUI (which re-reads it every few seconds), same notification
channels from the config when one exists. Exit status: 0 done, 1 the incident state does not
allow it (none open, one already open, unknown id), 2 a usage or config error.
Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from cockpit.config import Config
    from cockpit.incident.lifecycle import Lifecycle
    from cockpit.incident.store.sqlite import IncidentStore
    from cockpit.model import Incident
    from cockpit.notify.notifier import Delivery, Notifier

STATUSES = ("investigating", "identified", "mitigated", "resolved")
FIELDS = ("impact-start", "detected", "declared", "identified", "mitigated", "resolved")
WHEN_HELP = "ISO-8601 with Z or an offset (2024-08-02T13:50:00Z), or a local time (06:50)"


class _Refused(Exception):
    """The request cannot be done as asked; `code` is the exit status."""

    def __init__(self, message: str, code: int):
        self.code = code
        super().__init__(message)


def _say(message: str) -> None:
    print(Inert(message), flush=True)  # it quotes titles, notes and servers' answers


def _warn(message: str) -> None:
    print(Inert(f"cockpit: {message}"), file=sys.stderr, flush=True)


def _config(args: argparse.Namespace) -> Config | None:
    from cockpit.config.loader import load
    from cockpit.config.paths import config_path

    path = config_path(getattr(args, "config", None))
    return load(path) if path.exists() else None


def _when(text: str | None) -> Any:
    from cockpit.incident.declare import parse_when

    if text is None:
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        raise _Refused(str(exc), 2) from None


def _incident_line(incident: Incident) -> str:
    from cockpit.term.textsafe import one_line
    from cockpit.timeutil import utc_stamp

    state = "resolved" if incident.resolved_at else "OPEN"
    drill = " drill" if incident.drill else ""
    return (
        f"#{incident.id} {state:<8} {incident.severity} {incident.status.value:<13} "
        f"{utc_stamp(incident.declared_at)} {one_line(incident.commander, 40)}{drill}: "
        f"{one_line(incident.title, 200)}"
    )


def _report(deliveries: list[Delivery]) -> None:
    for d in deliveries:
        if d.status == "failed":
            _warn(
                f"notifying {d.channel} of {d.event} failed: {d.error}; "
                "`cockpit incident retry` sends it again"
            )
        else:
            _say(f"{d.channel}: {d.event} {d.status}")


# -- the commands, each given a lifecycle inside a running loop -------------------------------


Action = Callable[["Lifecycle", argparse.Namespace], None]


def _declare(lifecycle: Lifecycle, args: argparse.Namespace) -> None:
    from cockpit.host.whoami import current_user
    from cockpit.incident.declare import DeclareError, DeclareRequest

    request = DeclareRequest(
        title=args.title,
        severity=args.severity,
        commander=args.commander or current_user(),
        summary=args.summary or "",
        impact_started_at=_when(args.impact_start),
    )
    try:
        incident = lifecycle.declare(request)
    except DeclareError as exc:
        raise _Refused(str(exc), 2) from None
    _say(f"declared {_incident_line(incident)}")


def _note(lifecycle: Lifecycle, args: argparse.Namespace) -> None:
    try:
        event = lifecycle.note(" ".join(args.text), incident_id=args.incident)
    except ValueError as exc:
        raise _Refused(str(exc), 2) from None
    _say(f"noted: {event.text}")


def _status(lifecycle: Lifecycle, args: argparse.Namespace) -> None:
    incident = lifecycle.set_status(args.status, incident_id=args.incident, at=_when(args.at))
    _say(f"status {incident.status.value}: {_incident_line(incident)}")


def _resolve(lifecycle: Lifecycle, args: argparse.Namespace) -> None:
    incident = lifecycle.resolve(incident_id=args.incident, at=_when(args.at))
    _say(f"resolved {_incident_line(incident)}")


def _correct(lifecycle: Lifecycle, args: argparse.Namespace) -> None:
    when = _when(args.when)
    try:
        event = lifecycle.correct(args.field, when, incident_id=args.incident)
    except ValueError as exc:
        raise _Refused(str(exc), 2) from None
    _say(event.text)


def _run(args: argparse.Namespace, action: Action) -> int:
    from cockpit.config.paths import data_dir_for
    from cockpit.host.whoami import current_user
    from cockpit.incident.lifecycle import Lifecycle
    from cockpit.incident.store.backend import open_store
    from cockpit.incident.store.errors import StoreError

    config = _config(args)
    with open_store(config, data_dir_for(getattr(args, "config", None))) as store:
        notifier = _notifier(store, config)
        lifecycle = Lifecycle(
            store,
            user=current_user(),
            drill=bool(config and config.cockpit.drill),
            notifier=notifier,
        )

        async def act() -> list[Delivery]:
            action(lifecycle, args)
            return await notifier.drain() if notifier else []

        try:
            _report(asyncio.run(act()))
        except _Refused as exc:
            _warn(str(exc))
            return exc.code
        except StoreError as exc:
            _warn(str(exc))
            return 1
    return 0


def _notifier(store: IncidentStore, config: Config | None) -> Notifier | None:
    if config is None or not config.notify:
        return None
    from cockpit.notify.notifier import Notifier

    return Notifier.from_config(store, config)


def cmd_declare(args: argparse.Namespace) -> int:
    return _run(args, _declare)


def cmd_note(args: argparse.Namespace) -> int:
    return _run(args, _note)


def cmd_status(args: argparse.Namespace) -> int:
    return _run(args, _status)


def cmd_resolve(args: argparse.Namespace) -> int:
    return _run(args, _resolve)


def cmd_correct(args: argparse.Namespace) -> int:
    return _run(args, _correct)


def cmd_retry(args: argparse.Namespace) -> int:
    from cockpit.config.paths import data_dir_for
    from cockpit.incident.store.backend import open_store

    config = _config(args)
    with open_store(config, data_dir_for(getattr(args, "config", None))) as store:
        notifier = _notifier(store, config)
        if notifier is None:
            _warn("no [[notify]] channels configured; nothing to retry")
            return 1
        deliveries = asyncio.run(notifier.retry_failed(args.incident))
    if not deliveries:
        _say("no failed notifications")
    _report(deliveries)
    return 1 if any(d.status == "failed" for d in deliveries) else 0


def cmd_list(args: argparse.Namespace) -> int:
    from cockpit.config.paths import data_dir_for
    from cockpit.incident.store.backend import for_reading

    with for_reading(_config(args), data_dir_for(getattr(args, "config", None))) as store:
        incidents = store.list()
        if args.json:
            for incident in incidents:
                print(json.dumps(_incident_json(store, incident)))
            return 0
        if not incidents:
            _say("no incidents recorded")
        for incident in incidents:
            _say(_incident_line(incident))
    return 0


def _incident_json(store: IncidentStore, incident: Incident) -> dict[str, object]:
    from cockpit.term.textsafe import strip_controls
    from cockpit.timeutil import iso_utc

    times = store.times(incident.id)
    return {
        "id": incident.id,
        "title": strip_controls(incident.title),
        "severity": incident.severity,
        "commander": strip_controls(incident.commander),
        "status": incident.status.value,
        "open": incident.resolved_at is None,
        "drill": incident.drill,
        "summary": strip_controls(incident.summary),
        "times": {
            name: iso_utc(value) if value else None
            for name, value in (
                ("declared", times.declared),
                ("impact_started", times.impact_started),
                ("detected", times.detected),
                ("identified", times.identified),
                ("mitigated", times.mitigated),
                ("resolved", times.resolved),
            )
        },
        "notifications": [
            {"channel": n.channel, "event": n.event, "status": n.status, "attempts": n.attempts}
            for n in store.notifications(incident.id)
        ],
    }


# -- parser ---------------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("incident", help="declare, note, change and list incidents")
    commands = group.add_subparsers(dest="incident_command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], text: str) -> Any:
        parser = commands.add_parser(name, help=text, description=text)
        parser.add_argument("--config", default=argparse.SUPPRESS)
        parser.set_defaults(func=func)
        return parser

    declare = command("declare", cmd_declare, "declare an incident and notify the channels")
    declare.add_argument("--title", required=True)
    declare.add_argument("--severity", default="SEV2", help="SEV1 (worst) to SEV4")
    declare.add_argument("--commander", help="who leads the response (default: you)")
    declare.add_argument("--impact-start", metavar="WHEN", help=WHEN_HELP)
    declare.add_argument("--summary")

    def target(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--incident", type=int, metavar="ID", help="default: the open one")

    note = command("note", cmd_note, "add a note to the incident's timeline")
    note.add_argument("text", nargs="+")
    target(note)

    status = command("status", cmd_status, "move the incident to a status")
    status.add_argument("status", choices=STATUSES)
    status.add_argument("--at", metavar="WHEN", help=f"when it happened (default now); {WHEN_HELP}")
    target(status)

    resolve = command("resolve", cmd_resolve, "resolve the incident (PagerDuty alert too)")
    resolve.add_argument("--at", metavar="WHEN", help=f"default now; {WHEN_HELP}")
    target(resolve)

    correct = command("correct", cmd_correct, "correct a recorded time afterwards")
    correct.add_argument("field", choices=FIELDS)
    correct.add_argument("when", metavar="WHEN", help=WHEN_HELP)
    target(correct)

    retry = command("retry", cmd_retry, "send the notifications that failed again")
    target(retry)

    listing = command("list", cmd_list, "every incident, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
