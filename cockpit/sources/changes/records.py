"""Changes written as JSON records: a maintenance script's run log and a command's output.

A maintenance run (one JSON object per line, appended by the script):
    {"at": "2014-01-10T17:40:00Z", "script": "os-upgrade", "hosts": ["db1", "db2"],
     "what": "reinstall OS on idle machines", "by": "cron", "dry_run": false, "id": "run-42"}
is one change per host it ran on; a run with "dry_run": true changed nothing and is not one.

A command's record (a JSON array of objects, or one object per line):
    {"kind": "flag", "at": "...", "what": "...", "host": "...", "service": "...", "by": "...",
     "subject": "bot-features-file", "old": "v41", "new": "v42", "id": "...",
     "paths": ["features/bot.json"], "detail": "..."}
"at" and one of "what"/"subject" are required; "kind" defaults to "command".
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from cockpit.model import MAX_IDENTITY, Change
from cockpit.sources.changes.packages import LogContext
from cockpit.term.textsafe import one_line
from cockpit.timeutil import parse_iso

MAINTENANCE = "maintenance"
MAX_PATHS = 50


def _str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f'"{key}" is not a string')
    return value


def _exact(record: dict[str, Any], key: str) -> str:
    value = _str(record, key)
    if len(value) > MAX_IDENTITY:
        raise ValueError(f'"{key}" is longer than {MAX_IDENTITY} characters')
    return value


def _at(record: dict[str, Any]) -> Any:
    at = record.get("at")
    if not isinstance(at, str):
        raise ValueError('no "at" timestamp string')
    try:
        return parse_iso(at).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f'"at" is not an ISO-8601 time: {one_line(at, 40)!r}') from None


def _paths(record: dict[str, Any]) -> tuple[str, ...]:
    paths = record.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError('"paths" is not a list of strings')
    return tuple(paths[:MAX_PATHS])


def maintenance_changes(record: object, ctx: LogContext) -> list[Change]:
    """One run -> one change per host; [] for a dry run. ValueError says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    dry = record.get("dry_run", False)
    if not isinstance(dry, bool):
        raise ValueError('"dry_run" is not true or false')
    at = _at(record)
    script, what = _exact(record, "script"), _str(record, "what")
    if not script and not what:
        raise ValueError('no "script" or "what"')
    hosts = record.get("hosts")
    if hosts is None:
        hosts = [record["host"]] if isinstance(record.get("host"), str) else None
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise ValueError('no "hosts" list of host names (or "host")')
    if dry:
        return []
    shown = " ".join(p for p in (script, f"({what})" if script and what else what) if p)
    total = len(hosts)
    return [
        Change(
            kind=MAINTENANCE,
            host=host,
            what=one_line(shown, 300),
            at=at,
            by=one_line(_str(record, "by"), 100),
            source=ctx.source,
            service=_exact(record, "service") or ctx.service,
            subject=script,
            id=_exact(record, "id"),
            detail=one_line(f"ran on {total} host{'s' if total != 1 else ''}", 300),
        )
        for host in dict.fromkeys(hosts)
        if len(host) <= MAX_IDENTITY
    ]


def parse_maintenance(text: str, ctx: LogContext) -> tuple[list[Change], int]:
    out: list[Change] = []
    bad = 0
    for line in reversed(text.splitlines()):
        if ctx.full(out):
            break
        if not line.strip():
            continue
        try:
            out.extend(reversed(maintenance_changes(json.loads(line), ctx)))
        except (ValueError, RecursionError):
            bad += 1
    out.reverse()
    return out, bad


def change_from_record(record: object, ctx: LogContext) -> Change:
    """A command's JSON record -> Change; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    at = _at(record)
    what, subject = _str(record, "what"), _exact(record, "subject")
    if not what and not subject:
        raise ValueError('no "what" or "subject"')
    old, new = _exact(record, "old"), _exact(record, "new")
    if not what:
        what = f"{subject} {old} -> {new}" if old or new else subject
    return Change(
        kind=one_line(_str(record, "kind") or "command", 40),
        host=_exact(record, "host") or ctx.host,
        what=one_line(what, 300),
        at=at,
        by=one_line(_str(record, "by"), 100),
        source=ctx.source,
        service=_exact(record, "service") or ctx.service,
        subject=subject,
        old=old,
        new=new,
        id=_exact(record, "id"),
        paths=_paths(record),
        detail=one_line(_str(record, "detail"), 500),
    )
