"""Change logs read from files (with what logrotate left of them) or from a command.

    /var/log/dpkg.log          the current file
    /var/log/dpkg.log.1        rotated, not yet compressed (delaycompress)
    /var/log/dpkg.log.2.gz     older, compressed
    /var/log/dpkg.log-20240301(.gz)   the same with `dateext`
Each file is parsed once per version of it (device, inode, size, mtime): a poll of an unchanged
host re-reads nothing. A command (`ssh web2 cat /var/log/dpkg.log`) is run each poll and its
output parsed like the current file, for the logs of another host.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import re
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from cockpit.config.changes import (
    AptHistoryChangesConfig,
    DpkgChangesConfig,
    MaintenanceChangesConfig,
    UnattendedUpgradesChangesConfig,
)
from cockpit.model import Category, Change, Changes
from cockpit.sources.base import SourceError
from cockpit.sources.changes.packages import (
    LogContext,
    parse_apt_history,
    parse_dpkg_log,
    parse_unattended_upgrades,
)
from cockpit.sources.changes.records import parse_maintenance
from cockpit.sources.deploys.proc import run_bounded

LogConfig = (
    DpkgChangesConfig
    | AptHistoryChangesConfig
    | UnattendedUpgradesChangesConfig
    | MaintenanceChangesConfig
)
Parser = Callable[[str, LogContext], tuple[list[Change], int]]

PARSERS: dict[str, Parser] = {
    "dpkg": parse_dpkg_log,
    "apt-history": parse_apt_history,
    "unattended-upgrades": parse_unattended_upgrades,
    "maintenance": parse_maintenance,
}
MAX_ROTATED = 20  # files besides the current one: older ones hold nothing a responder needs
_NUMBERED = re.compile(r"^\.(\d+)(\.gz)?$")
_DATED = re.compile(r"^-(\d{8,10})(\.gz)?$")


def rotated_files(path: Path) -> list[Path]:
    """path's rotated siblings, newest first (.1 before .2.gz; a later date first)."""
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found: list[tuple[tuple[int, int], Path]] = []
    for name in names:
        if not name.startswith(path.name) or name == path.name:
            continue
        rest = name[len(path.name) :]
        numbered, dated = _NUMBERED.match(rest), _DATED.match(rest)
        if numbered:
            found.append(((0, int(numbered.group(1))), path.parent / name))
        elif dated:
            found.append(((0, -int(dated.group(1))), path.parent / name))
    found.sort(key=lambda item: item[0])
    return [p for _, p in found[:MAX_ROTATED]]


def read_text(path: Path, limit: int) -> str:
    """A log file's text, gunzipped when it ends in .gz; OSError when it cannot be read,
    SourceError when it is bigger than `limit` once unpacked or not gzip data."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if path.name.endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
                data = unpacked.read(limit + 1)
        except (OSError, EOFError, zlib.error):
            raise SourceError(f"{path} is not gzip data (or cut short)") from None
    if len(data) > limit:
        raise SourceError(f"{path} holds more than {limit} bytes")
    return data.decode("utf-8", "replace")


class LogChanges:
    """[[changes]] of kind dpkg, apt-history, unattended-upgrades or maintenance."""

    category = Category.DEPLOYS

    def __init__(self, cfg: LogConfig):
        self.cfg = cfg
        self.kind = cfg.kind
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.parse = PARSERS[cfg.kind]
        host = cfg.host if cfg.kind == "maintenance" else cfg.host_name
        self.ctx = LogContext(cfg.name, host, cfg.service, cfg.timezone, cfg.max_changes)
        self.bad = 0  # lines (or stanzas) of the last poll that could not be read
        self._parsed: dict[Path, tuple[tuple[int, int, int, int], list[Change], int]] = {}
        self._lock = threading.Lock()  # a poll cancelled by the hub leaves its thread running

    @property
    def target(self) -> str:
        path = self.cfg.log_path
        return str(path) if path is not None else self.cfg.command[0]

    async def aclose(self) -> None:
        pass

    async def poll(self) -> Changes:
        if self.cfg.command:
            return await self._poll_command()
        return await asyncio.to_thread(self._poll_files)

    async def _poll_command(self) -> Changes:
        cfg = self.cfg
        out = await run_bounded(cfg.command, timeout=cfg.timeout, max_bytes=cfg.max_output_bytes)
        if out.exit_code != 0:
            detail = out.error_line()
            said = f": {detail}" if detail else ""
            raise SourceError(f"{cfg.command[0]} failed (exit {out.exit_code}){said}")
        changes, bad = self.parse(out.stdout.decode("utf-8", "replace"), self.ctx)
        self.bad = bad
        return self._reading(changes)

    def _poll_files(self) -> Changes:
        path = self.cfg.log_path
        assert path is not None
        with self._lock:
            files = [path, *(rotated_files(path) if self.cfg.rotated else [])]
            changes: list[Change] = []
            bad = 0
            budget = self.cfg.max_output_bytes
            for number, file in enumerate(files):
                try:
                    info = file.stat()
                    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
                    cached = self._parsed.get(file)
                    if cached is None or cached[0] != key:
                        found, skipped = self.parse(read_text(file, budget), self.ctx)
                        cached = (key, found, skipped)
                        self._parsed[file] = cached
                except FileNotFoundError:
                    if number == 0:
                        raise SourceError(f"no such file: {file}") from None
                    continue  # rotated away while we looked
                except PermissionError:
                    raise SourceError(f"permission denied: {file}") from None
                except IsADirectoryError:
                    raise SourceError(f"is a directory: {file}") from None
                except OSError as exc:
                    raise SourceError(f"cannot read {file}: {exc.strerror or exc}") from None
                changes[:0] = cached[1]  # files newest first, each file oldest first
                bad += cached[2]
                if len(changes) >= self.cfg.max_changes:
                    break  # older files cannot hold any of the newest max_changes
            for gone in set(self._parsed) - set(files):
                del self._parsed[gone]
            self.bad = bad
        return self._reading(changes)

    def _reading(self, changes: list[Change]) -> Changes:
        if self.bad and not changes:
            # Pointed at the wrong file, or a format this kind does not read: never "fresh".
            raise SourceError(
                f"nothing in {self.target} reads as a {self.kind} log ({self.bad} unreadable lines)"
            )
        # `changes` is oldest first: among changes of one second, the one logged later first.
        order = sorted(enumerate(changes), key=lambda item: (item[1].at, item[0]), reverse=True)
        newest = tuple(c for _, c in order[: self.cfg.max_changes])
        return Changes(source=self.name, changes=newest)
