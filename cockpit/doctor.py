"""`cockpit doctor`: can the cockpit work here? The terminal, the config, every source (one poll
each, through the same source classes the cockpit uses), the data dir, and the clipboard path.

Each finding is ok, warn or fail. Exit status: 0 nothing failed (warnings allowed), 1 something
failed, 2 the config is invalid or missing (as every other command).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cockpit.config.base import ConfigError
from cockpit.config.paths import data_dir, default_path
from cockpit.term.caps import TermCaps, detect
from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from cockpit.config.loader import Config

Status = Literal["ok", "warn", "fail"]
DEFAULT_TIMEOUT = 5.0
MIN_COLS, MIN_ROWS = 80, 24  # the smallest screen every panel is laid out for


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    what: str
    detail: str

    def __post_init__(self) -> None:
        # Findings quote configured strings and servers' answers: inert, secrets redacted.
        object.__setattr__(self, "what", Inert(self.what))
        object.__setattr__(self, "detail", Inert(self.detail))

    def line(self) -> str:
        return f"{self.status:<4} {self.what:<22} {self.detail}"


# -- terminal -------------------------------------------------------------------------------------


def check_terminal(caps: TermCaps) -> list[Finding]:
    found = []
    if not caps.tty:
        found.append(Finding("warn", "terminal", "output is not a terminal; " + caps.summary()))
    elif caps.size and (caps.size[0] < MIN_COLS or caps.size[1] < MIN_ROWS):
        cols, rows = caps.size
        found.append(
            Finding("warn", "terminal", f"{cols}x{rows} is below {MIN_COLS}x{MIN_ROWS}; panels cut")
        )
    else:
        found.append(Finding("ok", "terminal", caps.summary()))
    if not caps.unicode:
        found.append(
            Finding(
                "warn",
                "characters",
                f"ASCII only (locale {caps.locale or 'unset'}, "
                f"TERM={caps.term or 'unset'}); set a UTF-8 locale for box drawing",
            )
        )
    if caps.no_color:
        found.append(Finding("ok", "colours", "NO_COLOR is set: no colour, bold and reverse only"))
    elif caps.colors in ("none", "16"):
        found.append(
            Finding(
                "warn",
                "colours",
                f"{caps.colors} colours (TERM={caps.term or 'unset'}); "
                "states are also written as words, so it stays readable",
            )
        )
    return found


# -- clipboard ------------------------------------------------------------------------------------

_CLIPBOARD_TOOLS = ("wl-copy", "xclip", "xsel", "pbcopy")


def _tmux_option(name: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["tmux", "show-options", "-gv", name], capture_output=True, text=True, timeout=2
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def check_clipboard(caps: TermCaps, env: Mapping[str, str]) -> Finding:
    """Copying (a link, an export path) goes through OSC 52, which reaches the user's own
    clipboard across SSH when the terminal allows it; a local clipboard tool only helps on a
    desktop."""
    local = [tool for tool in _CLIPBOARD_TOOLS if shutil.which(tool)]
    display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    tools = f"; local tool: {local[0]}" if local and display else ""
    if not caps.tty:
        return Finding("warn", "clipboard", "not a terminal: OSC 52 cannot reach a clipboard")
    if caps.multiplexer == "tmux":
        setting = _tmux_option("set-clipboard")
        if setting == "off":
            return Finding(
                "warn",
                "clipboard",
                "tmux set-clipboard is off: OSC 52 copies stop at tmux "
                "(tmux set -g set-clipboard on)" + tools,
            )
        return Finding("ok", "clipboard", f"OSC 52 through tmux (set-clipboard {setting})" + tools)
    if caps.multiplexer == "screen":
        return Finding(
            "warn",
            "clipboard",
            "GNU screen does not pass OSC 52 on; copy from the screen instead" + tools,
        )
    return Finding(
        "ok", "clipboard", "OSC 52 (works when the terminal allows clipboard writes)" + tools
    )


# -- data dir -------------------------------------------------------------------------------------


def check_data_dir(configured: str | None, env: Mapping[str, str]) -> Finding:
    from cockpit.host.datadir import DataDirError

    try:
        directory = data_dir(dict(env), configured)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except DataDirError as exc:
        return Finding("fail", "data dir", str(exc))
    except OSError as exc:
        where = exc.filename or configured or "the data dir"
        return Finding("fail", "data dir", f"{where}: not writable ({exc.strerror or exc})")
    return Finding("ok", "data dir", f"{directory} is writable")


# -- incident store -------------------------------------------------------------------------------


def check_store(config: Config, env: Mapping[str, str]) -> Finding:
    """The incident store opens (SQLite in the data dir, or the team's PostgreSQL database),
    with its schema, and what it holds."""
    from cockpit.host.datadir import DataDirError
    from cockpit.incident.store.backend import describe, for_reading
    from cockpit.incident.store.connection import store_path
    from cockpit.incident.store.errors import StoreError

    try:
        directory = data_dir(dict(env), config.cockpit.data_dir)
    except DataDirError as exc:
        return Finding("fail", "incident store", str(exc))
    where = describe(config, directory)
    if not config.cockpit.store and not store_path(directory).exists():
        return Finding("ok", "incident store", f"{where}: not created yet (the first use does)")
    try:
        with for_reading(config, directory) as store:
            incidents = store.list()
            open_one = store.open_incident()
            writable = not store.read_only
    except StoreError as exc:
        return Finding("fail", "incident store", f"{where}: {exc.reason}")
    state = f"#{open_one.id} open" if open_one else "none open"
    mode = "" if writable else ", read-only for this account"
    return Finding("ok", "incident store", f"{where}: {len(incidents)} incidents, {state}{mode}")


# -- sources --------------------------------------------------------------------------------------


def describe(reading: object) -> str:
    """A good reading in a few words."""
    from cockpit.model import (
        Changes,
        Deploys,
        ErrorSeries,
        ProbeResult,
        ProbeResults,
        SentryIssues,
    )

    if isinstance(reading, ProbeResult):
        latency = f", {reading.latency_ms:.0f} ms" if reading.latency_ms is not None else ""
        return f"{reading.sessions_ok}/{reading.concurrency} sessions{latency}"
    if isinstance(reading, ProbeResults):
        bad = [r for r in reading.results if not r.ok]
        return f"{len(reading.results)} probes, {len(bad)} failing"
    if isinstance(reading, Deploys):
        latest = reading.deploys[0] if reading.deploys else None
        return (
            f"{len(reading.deploys)} deploys, latest {latest.version}" if latest else "no deploys"
        )
    if isinstance(reading, Changes):
        newest = reading.changes[0] if reading.changes else None
        return f"{len(reading.changes)} changes, latest {newest.what}" if newest else "no changes"
    if isinstance(reading, ErrorSeries):
        requests = sum(b.requests for b in reading.buckets)
        unparsed = f", {reading.unparsed_lines} lines unparsed" if reading.unparsed_lines else ""
        return f"{requests} requests in the window{unparsed}"
    if isinstance(reading, SentryIssues):
        return f"{len(reading.issues)} unresolved issues"
    return type(reading).__name__


async def check_sources(config: Config, timeout: float) -> list[Finding]:
    """One round of every source, the very round `cockpit check` runs: a source fails here
    exactly when it fails there (a probe that answered but failed too; a source whose secret
    is not set in this environment too)."""
    from cockpit.check import check_round
    from cockpit.term.textsafe import one_line

    if not config.sources():
        return [Finding("warn", "sources", "none configured")]
    done = await check_round(config, timeout_cap=timeout)
    found = []
    for report in done.reports:
        name = str(report.get("name") or report.get("source"))
        what = f"{report['kind']} {name}"
        target = str(report.get("target") or "")
        if report["ok"]:
            reading = done.snapshot.readings.get(name)
            found.append(Finding("ok", what, f"{target}: {describe(reading)}"))
        elif not report.get("configured", True):
            found.append(Finding("fail", what, str(report["error"])))
        else:
            error = one_line(str(report.get("error") or "failed"), 160)
            found.append(Finding("fail", what, f"{target}: {error}"))
    return found


def check_secrets(config: Config) -> list[Finding]:
    """What the config names and this environment lacks: warnings, each naming where."""
    return [Finding("warn", "secret", str(warning)) for warning in config.warnings]


# -- the command ----------------------------------------------------------------------------------


def run(
    config_path: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    stdout: object = None,
) -> tuple[list[Finding], int]:
    """Every finding, and the exit status."""
    from cockpit.config.loader import load

    env = os.environ if env is None else env
    caps = detect(env, stdout or sys.stdout)  # type: ignore[arg-type]
    findings = check_terminal(caps)
    findings.append(check_clipboard(caps, env))
    try:
        config: Config = load(config_path, dict(env))
    except ConfigError as exc:
        findings.append(Finding("fail", "config", str(exc)))
        findings.append(check_data_dir(None, env))
        return findings, 2
    findings.append(
        Finding(
            "ok",
            "config",
            f"{config.path}: {len(config.sources())} sources, {len(config.services)} services",
        )
    )
    findings.extend(check_secrets(config))
    findings.append(check_data_dir(config.cockpit.data_dir, env))
    findings.append(check_store(config, env))
    import asyncio  # here, not at the top: `cockpit --version` imports this module

    findings.extend(asyncio.run(check_sources(config, timeout)))
    return findings, 1 if any(f.status == "fail" for f in findings) else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    path = Path(args.config).expanduser() if args.config else default_path()
    findings, status = run(path, timeout=args.timeout)
    for finding in findings:
        print(json.dumps(asdict(finding)) if args.json else finding.line())
    if not args.json:
        counts = {s: sum(1 for f in findings if f.status == s) for s in ("ok", "warn", "fail")}
        print(f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed")
    return status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor", help="check terminal, config, sources, data dir and clipboard"
    )
    doctor.add_argument("--config", default=argparse.SUPPRESS)
    doctor.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per source (default {DEFAULT_TIMEOUT:g}, or the source's own if shorter)",
    )
    doctor.add_argument("--json", action="store_true", help="one JSON object per finding")
    doctor.set_defaults(func=cmd_doctor)
