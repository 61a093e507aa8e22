"""A host's package changes, read from the logs Debian's tools write.

dpkg.log (dpkg(1), "--log"): one line per action, local time without a zone:
    2026-12-03 06:00:12 upgrade systemd:amd64 252.5-2 252.6-1
    2026-12-03 06:00:12 install cockpit-demo:all <none> 1.0-1
    2026-12-03 06:00:12 remove cockpit-demo:all 1.1-1 <none>
Only install, upgrade, remove and purge are changes; "status", "configure", "trigproc" and
"startup" lines are the steps of one.

apt's history.log: one stanza per apt run, blank lines between them:
    Start-Date: 2025-06-24  14:36:25
    Commandline: apt-get -qqy upgrade
    Requested-By: alice (1000)
    Upgrade: libsystemd0:amd64 (252.36-1~deb12u1, 252.38-1~deb12u1), ...
    Install: lsb-release:amd64 (12.0-1), netbase:amd64 (6.4, automatic)
    Remove: foo:amd64 (1.0)
    End-Date: 2025-06-24  14:36:25

unattended-upgrades.log (Python logging, '%(asctime)s %(levelname)s %(message)s'):
    2023-03-08 06:00:15,123 INFO Packages that will be upgraded: libsystemd0 systemd
    2023-03-08 06:01:02,456 INFO All upgrades installed
It names packages, not versions (those are in dpkg.log; the merge joins both reports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cockpit.model import MAX_IDENTITY, Change
from cockpit.term.textsafe import one_line

PACKAGE = "package"
UNATTENDED = "unattended-upgrades"


@dataclass(frozen=True, slots=True)
class LogContext:
    """What a log line does not say: whose host it is, and what its local times mean."""

    source: str
    host: str
    service: str = ""
    timezone: str = ""  # "" = this host's zone
    # The newest this many are enough (a source keeps no more): a log is read from its end
    # and the rest is not parsed. 0: all of it.
    limit: int = 0

    def full(self, found: list[Change]) -> bool:
        return 0 < self.limit <= len(found)

    def when(self, text: str, fmt: str) -> datetime | None:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            return None
        if self.timezone:
            return naive.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)
        return naive.astimezone().astimezone(UTC)  # a naive time is this host's local time


def _none(version: str) -> str:
    return "" if version in ("<none>", "") else version


def _name(package: str) -> tuple[str, str]:
    """ "systemd:amd64" -> ("systemd", "amd64")."""
    name, _, arch = package.partition(":")
    return name, arch


def package_what(name: str, old: str, new: str, action: str) -> str:
    if old and new:
        return one_line(f"{name} {old} -> {new} ({action})", 300)
    if new:
        return one_line(f"{name} {new} ({action})", 300)
    if old:
        return one_line(f"{name} {old} ({action})", 300)
    return one_line(f"{name} ({action})", 300)


def _package_change(
    ctx: LogContext,
    at: datetime,
    package: str,
    old: str,
    new: str,
    action: str,
    by: str = "",
    detail: str = "",
) -> Change | None:
    name, arch = _name(package)
    if not name or any(len(v) > MAX_IDENTITY for v in (name, old, new)):
        return None
    return Change(
        kind=PACKAGE,
        host=ctx.host,
        what=package_what(name, old, new, action),
        at=at,
        by=one_line(by, 100),
        source=ctx.source,
        service=ctx.service,
        subject=name,
        old=old,
        new=new,
        id=action,
        detail=one_line(" ".join(p for p in (f"arch {arch}" if arch else "", detail) if p), 300),
    )


_DPKG_ACTIONS = frozenset({"install", "upgrade", "remove", "purge"})


def parse_dpkg_log(text: str, ctx: LogContext) -> tuple[list[Change], int]:
    """dpkg.log -> (changes, oldest first; lines that are not dpkg log lines)."""
    out: list[Change] = []
    bad = 0
    for line in reversed(text.splitlines()):
        if ctx.full(out):
            break
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            bad += 1
            continue
        at = ctx.when(f"{parts[0]} {parts[1]}", "%Y-%m-%d %H:%M:%S")
        if at is None:
            bad += 1
            continue
        action = parts[2]
        if action not in _DPKG_ACTIONS:
            continue
        if len(parts) != 6:
            bad += 1
            continue
        old, new = _none(parts[4]), _none(parts[5])
        if action in ("remove", "purge"):
            new = ""
        change = _package_change(ctx, at, parts[3], old, new, action, detail="dpkg.log")
        if change is None:
            bad += 1
        else:
            out.append(change)
    out.reverse()
    return out, bad


# "name:arch (v1, v2), name2 (v, automatic)": versions hold no commas or parentheses.
_APT_ITEM = re.compile(r"([^\s,()]+) \(([^()]*)\)")
_APT_KEYS = {
    "Install": "install",
    "Reinstall": "reinstall",
    "Upgrade": "upgrade",
    "Downgrade": "downgrade",
    "Remove": "remove",
    "Purge": "purge",
}


def _apt_by(fields: dict[str, str]) -> str:
    requested = fields.get("Requested-By", "")
    command = fields.get("Commandline", "")
    if "unattended-upgrade" in command:
        return UNATTENDED
    if requested:
        return requested.split(" (")[0]  # "alice (1000)" -> "alice"
    return command.split()[0].rsplit("/", 1)[-1] if command.split() else ""


def parse_apt_history(text: str, ctx: LogContext) -> tuple[list[Change], int]:
    """history.log -> (changes, oldest first; stanzas that could not be read)."""
    out: list[Change] = []
    bad = 0
    for stanza in reversed(re.split(r"\n\s*\n", text)):
        if ctx.full(out):
            break
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                fields[key.strip()] = value.strip()
        if not fields:
            bad += bool(stanza.strip())
            continue
        # Two spaces between date and time, as apt writes it; one is accepted too.
        start = " ".join(fields.get("Start-Date", "").split())
        at = ctx.when(start, "%Y-%m-%d %H:%M:%S")
        if at is None:
            bad += 1
            continue
        by = _apt_by(fields)
        command = fields.get("Commandline", "")
        error = fields.get("Error", "")
        detail = command + (f" (error: {error})" if error else "")
        if "End-Date" not in fields:
            detail += " (no End-Date: interrupted or still running)"
        for key, action in reversed(_APT_KEYS.items()):
            for package, versions in reversed(_APT_ITEM.findall(fields.get(key, ""))):
                parts = [v.strip() for v in versions.split(",") if v.strip() != "automatic"]
                old = new = ""
                if action in ("upgrade", "downgrade") and len(parts) >= 2:
                    old, new = parts[0], parts[1]
                elif action in ("install", "reinstall") and parts:
                    new = parts[0]
                elif action in ("remove", "purge") and parts:
                    old = parts[0]
                change = _package_change(ctx, at, package, old, new, action, by, detail)
                if change is None:
                    bad += 1
                else:
                    out.append(change)
    out.reverse()  # read from the end: oldest first again
    return out, bad


_UU_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),\d+ ([A-Z]+) (.*)$")
_UU_UPGRADING = "Packages that will be upgraded: "
_UU_REMOVED = "Packages that were successfully auto-removed: "


def parse_unattended_upgrades(text: str, ctx: LogContext) -> tuple[list[Change], int]:
    """unattended-upgrades.log -> (changes, oldest first; unreadable lines, counted only when
    no line is a log line: others are continuations of a message). A run with --dry-run
    changed nothing."""
    out: list[Change] = []
    run: list[Change] = []
    dry = False
    outcome = ""
    known = other = 0

    def close() -> None:
        nonlocal run, dry, outcome
        if not dry:
            for change in run:
                detail = outcome or "no outcome logged: interrupted or still running"
                out.append(_with_detail(change, detail))
        run, dry, outcome = [], False, ""

    for line in text.splitlines():
        match = _UU_LINE.match(line)
        if match is None:
            other += bool(line.strip())
            continue  # a message's continuation line (tracebacks, lists)
        known += 1
        stamp, _level, message = match.groups()
        at = ctx.when(stamp, "%Y-%m-%d %H:%M:%S")
        if at is None:
            continue
        if message.startswith("Starting unattended upgrades script"):
            close()
        elif message.startswith("Option --dry-run given"):
            dry = True
        elif message.startswith(_UU_UPGRADING):
            for name in message[len(_UU_UPGRADING) :].split():
                change = _package_change(ctx, at, name, "", "", "upgrade", UNATTENDED)
                if change is not None:
                    run.append(change)
        elif message.startswith(_UU_REMOVED):
            for name in message[len(_UU_REMOVED) :].split():
                change = _package_change(ctx, at, name, "", "", "remove", UNATTENDED)
                if change is not None:
                    run.append(change)
        elif message.startswith("All upgrades installed"):
            outcome = "all upgrades installed"
        elif message.startswith("Installing the upgrades failed"):
            outcome = "installing the upgrades failed"
    close()
    return out, other if not known else 0


def _with_detail(change: Change, detail: str) -> Change:
    return replace(change, detail=one_line(detail, 300))
