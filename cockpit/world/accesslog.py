"""An nginx `combined` access log, written the way nginx writes it.

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"

One line per request, appended and flushed at once, so a tailer sees each request as soon as the
client has its answer.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

# strftime's %b follows the locale; nginx always writes English month names.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def time_local(when: datetime) -> str:
    """`21/Nov/2026:08:15:02 +0000`: nginx's $time_local, kept in UTC."""
    when = when.astimezone(UTC)
    return f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000"


def escape(value: str) -> str:
    """nginx's default log escaping: `"`, `\\`, controls and non-ASCII bytes become \\xHH.

    http.server hands over request lines and headers decoded as latin-1, so encoding back to
    latin-1 recovers the bytes the client sent.
    """
    out = []
    for byte in value.encode("latin-1", errors="replace"):
        if byte in (0x22, 0x5C) or byte < 0x20 or byte >= 0x7F:
            out.append(f"\\x{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def combined_line(
    *,
    remote_addr: str,
    when: datetime,
    request_line: str,
    status: int,
    body_bytes: int,
    referer: str | None = None,
    user_agent: str | None = None,
    remote_user: str | None = None,
) -> str:
    def quoted(value: str | None) -> str:
        return escape(value) if value else "-"

    return (
        f"{remote_addr} - {quoted(remote_user)} [{time_local(when)}] "
        f'"{escape(request_line)}" {status} {body_bytes} '
        f'"{quoted(referer)}" "{quoted(user_agent)}"'
    )


class AccessLog:
    """Append-only, thread-safe writer of combined lines."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO | None = path.open("a", encoding="ascii", newline="\n")

    def write(self, line: str) -> None:
        with self._lock:
            if self._file is None:  # a straggler after close(): the world is going away
                return
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
