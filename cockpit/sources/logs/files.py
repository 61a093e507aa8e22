"""The files behind an access log: the one being written, and the ones logrotate left beside it.

A `Cursor` is an open log file and how far into it we have read. `rotated_siblings` lists the
files a rotation leaves (`access.log.1`, `access.log-20261203`; compressed ones cannot be read
back and are left out). A `Span` is a stretch of a file still to be read back, read from its
newest line down, so the newest minutes are on screen first however long the read-back.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

Identity = tuple[int, int]  # (st_dev, st_ino)

# Bytes remembered to notice a file rewritten in place (copytruncate, then written past our
# offset before we looked): the ones just before our offset, and the file's first ones. Lines
# often end alike (same agent, same upstream), but a rewritten file starts with newer lines.
_MARK = 64
_HEAD = 256
# What logrotate appends to a rotated file's name: .1, .2 ...; -20261203 (dateext); .2026-12-03
_ROTATED = re.compile(r"[.-]\d[\d.-]*")


class Cursor:
    """An open log file and how far into it we have read."""

    def __init__(self, path: Path, offset: int | None = None):
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        info = os.fstat(self.fd)
        if not stat.S_ISREG(info.st_mode):
            # A directory opens fine and fails only at the first read: kept as the cursor,
            # it would keep the source stale after the log is back.
            os.close(self.fd)
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        self.identity: Identity = (info.st_dev, info.st_ino)
        self.offset = info.st_size if offset is None else offset
        self.mark = b""
        self.head = b""
        self.remember()

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def remember(self) -> None:
        start = max(0, self.offset - _MARK)
        self.mark = os.pread(self.fd, self.offset - start, start) if self.offset else b""
        if len(self.head) < _HEAD:
            self.head = os.pread(self.fd, min(self.offset, _HEAD), 0) if self.offset else b""

    def rewritten(self) -> bool:
        """Truncated, or truncated and written past our offset again (copytruncate)."""
        if self.size() < self.offset:
            return True
        mark, head = self.mark, self.head
        if mark and os.pread(self.fd, len(mark), self.offset - len(mark)) != mark:
            return True
        return bool(head) and os.pread(self.fd, len(head), 0) != head

    def continues_in(self, fd: int) -> bool:
        """Whether the file open as `fd` starts with what we read of ours: a copy of it, made
        by copytruncate before it emptied ours, so its lines past our offset are still unread."""
        if not self.head:
            return False
        if os.pread(fd, len(self.head), 0) != self.head:
            return False
        mark = self.mark
        return not mark or os.pread(fd, len(mark), self.offset - len(mark)) == mark

    def restart(self) -> None:
        self.offset = 0
        self.mark = self.head = b""

    def read(self, budget: int) -> tuple[bytes, int, int, bool]:
        """(text, end, overlong lines skipped, reached end of file): text[:end] is b"\\n" and
        the whole lines read (end 0: none), past end a half-written line that stays for next
        time. The newline before our offset is read with the lines, so nothing is copied."""
        if budget <= 0:
            return b"", 0, 0, False
        offset = self.offset
        if offset:
            data = os.pread(self.fd, budget + 1, offset - 1)
            if data[:1] != b"\n":  # not at a line start (cannot happen, but never miscount)
                data = b"\n" + data[1:]
        else:
            data = b"\n" + os.pread(self.fd, budget, 0)
        at_end = len(data) <= budget
        end = data.rfind(b"\n") + 1
        skipped = 0
        if end <= 1:
            end = 0
            if not at_end:
                # A "line" longer than the whole budget: skip it rather than stall on it.
                self.offset += len(data) - 1
                self.remember()
                return b"", 0, 1, False
        self.offset += max(0, end - 1)
        self.remember()
        return data, end, skipped, at_end

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True, slots=True)
class Sibling:
    path: Path
    identity: Identity
    mtime_ns: int
    size: int


def rotated_siblings(path: Path) -> list[Sibling]:
    """The uncompressed files a rotation of `path` left in its directory, newest first."""
    found = []
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(path.name) or not _ROTATED.fullmatch(name[len(path.name) :]):
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    found.append(
                        Sibling(
                            Path(entry.path),
                            (info.st_dev, info.st_ino),
                            info.st_mtime_ns,
                            info.st_size,
                        )
                    )
    except OSError:
        return []
    found.sort(key=lambda s: s.mtime_ns, reverse=True)
    return found


def last_line_end(fd: int, size: int) -> int:
    """Offset just past the last newline before `size` (a half-written line is not ours yet)."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65_536)
        at = os.pread(fd, pos - start, start).rfind(b"\n")
        if at >= 0:
            return start + at + 1
        pos = start
    return 0


class Span:
    """[lo, hi) of a file still to be read back, read from hi down in whole lines."""

    def __init__(self, fd: int, lo: int, hi: int):
        self.fd = os.dup(fd)  # the file stays readable however its cursor moves on
        self.lo, self.hi = lo, hi

    @property
    def left(self) -> int:
        return self.hi - self.lo

    def read_down(self, budget: int) -> tuple[bytes, int, int]:
        """The newest whole lines not read yet, as Cursor.read gives them: (text, end, overlong
        lines skipped), text[:end] being b"\\n" and whole lines (end 0: none)."""
        lo = max(self.lo, self.hi - budget)
        # From the byte before lo: a newline when lo starts a line, so nothing is copied.
        start = lo - 1 if lo else 0
        data = os.pread(self.fd, self.hi - start, start)
        if len(data) < self.hi - start:  # the file shrank under us: nothing more to read here
            self.hi = self.lo
            return b"", 0, 0
        if lo == self.lo:
            self.hi = lo
            text = data if lo and data[:1] == b"\n" else b"\n" + data[1 if lo else 0 :]
            return text, len(text), 0
        first = data.find(b"\n", 1)
        if first < 0:  # one line longer than the budget
            self.hi = lo
            return b"", 0, 1
        self.hi = start + first + 1
        return data[first:], len(data) - first, 0

    def close(self) -> None:
        os.close(self.fd)
