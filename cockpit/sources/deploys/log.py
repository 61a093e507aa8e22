"""Deploys from a JSON-lines log, read incrementally.

One deploy per line, appended by the deploy tooling:
    {"service": "files-web", "version": "2026.11.21-1", "who": "alice",
     "at": "2026-11-21T08:15:02Z", "summary": "...", "reverts": null}
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.config import JsonlDeployLogConfig
from cockpit.model import MAX_IDENTITY, Category, Deploy, Deploys
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line
from cockpit.timeutil import parse_iso

# Deploys are kept newest first and only max_deploys of them, so a long history needs only its
# end: at start (or after the file was replaced) reading the last TAIL_BYTES is enough.
TAIL_BYTES = 1_048_576
MAX_READ = 4_194_304  # per poll; the rest comes next poll
_MARK = 64  # bytes before the offset remembered, to notice a file rewritten in place


def parse_deploy(raw: bytes | str, source: str = "") -> Deploy | None:
    """One log line -> Deploy, or None when it is not a valid deploy record."""
    try:
        return deploy_from_record(json.loads(raw), source)
    except (ValueError, RecursionError):
        return None


def deploy_from_record(record: object, source: str = "", default_service: str = "") -> Deploy:
    """A decoded JSON object -> Deploy; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    service = record.get("service", default_service) or default_service
    version, at = record.get("version"), record.get("at")
    if not (isinstance(service, str) and service):
        raise ValueError('no "service" string')
    if not (isinstance(version, str) and version):
        raise ValueError('no "version" string')
    if not isinstance(at, str):
        raise ValueError('no "at" timestamp string')
    try:
        when = parse_iso(at).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f'"at" is not an ISO-8601 time: {one_line(at, 40)!r}') from None
    reverts = record.get("reverts")
    if reverts is not None and not isinstance(reverts, str):
        raise ValueError('"reverts" is not a string')
    for name, value in (("service", service), ("version", version), ("reverts", reverts)):
        if value is not None and len(value) > MAX_IDENTITY:
            raise ValueError(f'"{name}" is longer than {MAX_IDENTITY} characters')
    # Service, version and reverts are kept exactly as logged: a revert passes them on as they
    # are, or refuses them; they are never cut or joined (the screen shows them Inert).
    return Deploy(
        service=service,
        version=version,
        who=_text(record, "who", 100),
        at=when,
        summary=_text(record, "summary", 500),
        source=source,
        reverts=reverts or None,
    )


def _text(record: dict[str, Any], key: str, limit: int) -> str:
    value = record.get(key)
    return one_line(value, limit) if isinstance(value, str) else ""


class JsonlDeployLog:
    kind = "jsonl"
    category = Category.DEPLOYS

    def __init__(self, cfg: JsonlDeployLogConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.path = Path(cfg.path)
        self.bad_lines = 0  # lines skipped in the current file because they were not deploys
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._mark = b""
        self._seq = 0
        self._kept: list[tuple[datetime, int, Deploy]] = []
        # A poll cancelled by the hub leaves its thread running; the next one waits for it.
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return str(self.path)

    async def poll(self) -> Deploys:
        return await asyncio.to_thread(self._poll)

    async def aclose(self) -> None:
        pass

    def _poll(self) -> Deploys:
        with self._lock:
            try:
                with self.path.open("rb") as log:
                    self._read(log.fileno())
            except FileNotFoundError:
                raise SourceError(f"no such file: {self.path}") from None
            except PermissionError:
                raise SourceError(f"permission denied: {self.path}") from None
            except IsADirectoryError:
                raise SourceError(f"is a directory: {self.path}") from None
            except OSError as exc:
                raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
            deploys = tuple(deploy for _, _, deploy in self._kept)
        return Deploys(source=self.name, deploys=deploys)

    def _read(self, fd: int) -> None:
        info = os.fstat(fd)
        identity = (info.st_dev, info.st_ino)
        if identity != self._identity or info.st_size < self._offset or not self._same_past(fd):
            self._restart(fd, identity, info.st_size)
        data = os.pread(fd, MAX_READ, self._offset)
        end = data.rfind(b"\n") + 1
        lines = data[:end].split(b"\n")
        rest = data[end:]
        # A last line without its newline counts once it is a whole record: a JSON object
        # cannot be complete before its closing brace, so a half-written line never parses.
        if rest.strip() and len(data) < MAX_READ and parse_deploy(rest, self.name) is not None:
            lines.append(rest)
            end = len(data)
        self._take(lines)
        self._advance(fd, self._offset + end)

    def _same_past(self, fd: int) -> bool:
        """False when the bytes just before the offset changed: the file was rewritten."""
        if not self._mark:
            return True
        return os.pread(fd, len(self._mark), self._offset - len(self._mark)) == self._mark

    def _restart(self, fd: int, identity: tuple[int, int], size: int) -> None:
        self._identity = identity
        self._kept.clear()
        self.bad_lines = 0
        self._mark = b""
        self._offset = 0
        if size > TAIL_BYTES:
            # Start on a line boundary inside the tail; the cut line before it is not "bad".
            head = os.pread(fd, TAIL_BYTES, size - TAIL_BYTES)
            self._offset = size - TAIL_BYTES + head.find(b"\n") + 1

    def _advance(self, fd: int, offset: int) -> None:
        self._offset = offset
        start = max(0, offset - _MARK)
        self._mark = os.pread(fd, offset - start, start) if offset else b""

    def _take(self, lines: list[bytes]) -> None:
        added = False
        for line in lines:
            if not line.strip():
                continue
            deploy = parse_deploy(line, self.name)
            if deploy is None:
                self.bad_lines += 1
                continue
            self._seq += 1
            self._kept.append((deploy.at, self._seq, deploy))
            added = True
        if added:
            # Newest first; among equal times the one written later first.
            self._kept.sort(key=lambda item: (item[0], item[1]), reverse=True)
            del self._kept[self.cfg.max_deploys :]
