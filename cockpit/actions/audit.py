"""The audit log: one JSON line per destructive action, appended and synced before we go on.

O_APPEND makes each single write land whole at the end even with several writers on the host;
the log is never rewritten or truncated by the cockpit. Values are kept exactly (a version is
the bytes that were deployed) but written as ASCII JSON, so a control or bidi character is an
escape (\u001b) that `cat` or `tail -f` cannot act on; configured secrets are redacted. In a
shared data dir it is made (and kept, by its owner) group-writable: every engineer who may
revert must be able to audit it.

Each attempt leaves a "started" entry, synced before anything runs, and a "finished" entry
with its result; a "started" with no "finished" is an attempt whose outcome is unknown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cockpit.host.datadir import fix_mode, make_dir, open_file
from cockpit.term.textsafe import redact

AUDIT_FILENAME = "audit.log"


def audit_path(data_dir: Path) -> Path:
    return data_dir / AUDIT_FILENAME


def append_audit(data_dir: Path, entry: Mapping[str, Any]) -> Path:
    """Append `entry` as one JSON line and fsync it; raises OSError if that is impossible."""
    path = audit_path(data_dir)
    make_dir(path.parent)
    line = (audit_text(entry) + "\n").encode()
    fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fix_mode(fd, path.parent)  # a log made before the dir was shared, if it is ours
        written = os.write(fd, line)
        while written < len(line):  # only on a nearly full disk or a signal
            written += os.write(fd, line[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def audit_text(entry: Mapping[str, Any]) -> str:
    """An entry as the log keeps it: one line of ASCII JSON, secrets redacted."""
    return json.dumps(_redacted(entry), ensure_ascii=True, default=str, sort_keys=True)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def attempts(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that say how an attempt ended (one per attempt)."""
    return [e for e in entries if e.get("event", "finished") == "finished"]


def read_audit(data_dir: Path) -> list[dict[str, Any]]:
    """Every entry, oldest first; a torn last line (crash mid-write) is skipped."""
    try:
        text = audit_path(data_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
