"""Requests and 5xx per time bucket, from a proxy's access log followed like `tail -F`.

The format (nginx combined or JSON, HAProxy, Caddy, Envoy, a custom regex) only decides how a
line gives its time and status; see `log_formats`. Everything else is shared: rotation by rename
or copytruncate, start at the end or `read_back` seconds, unparseable lines counted.

Memory stays bounded however long it runs: counts live in a fixed ring of buckets, never a list
of lines. Parsing is one C-level regex pass per chunk plus a Counter of (time, status class)
pairs, so Python code runs once per distinct second, not once per line.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from math import ceil
from pathlib import Path

from cockpit.config.errors import (
    AccessLogBase,
    AccessLogConfig,
    CaddyLogConfig,
    EnvoyLogConfig,
    HaproxyLogConfig,
    NginxJsonLogConfig,
    RegexLogConfig,
)
from cockpit.model import Category, ErrorBucket, ErrorSeries, RouteErrors
from cockpit.sources import log_formats
from cockpit.sources.base import SourceError
from cockpit.sources.log_formats import LogFormat, parse_time_local
from cockpit.sources.log_health import LogHealth
from cockpit.sources.routes import RouteCounts
from cockpit.timeutil import from_epoch, utcnow

__all__ = ["AccessLogTail", "log_format_for", "parse_time_local"]

MAX_READ = 8_388_608  # bytes per poll; a backlog is worked off over the next polls
_PROBE_BYTES = 65_536  # how far read_back's search looks for a line with a timestamp
# Bytes remembered to notice a file rewritten in place (copytruncate, then written past our
# offset before we looked): the ones just before our offset, and the file's first ones. Lines
# often end alike (same agent, same upstream), but a rewritten file starts with newer lines.
_MARK = 64
_HEAD = 256
FUTURE_SECONDS = 120  # lines this far ahead of our clock still count (clock skew)
_STAMP_CACHE_MAX = 8192
_ZONE_SKEW = 1800


def log_format_for(cfg: AccessLogBase) -> LogFormat:
    match cfg:
        case AccessLogConfig():
            return log_formats.nginx_combined()
        case NginxJsonLogConfig():
            return log_formats.nginx_json(cfg.time_key, cfg.status_key)
        case HaproxyLogConfig():
            return log_formats.haproxy(cfg.timezone)
        case CaddyLogConfig():
            return log_formats.caddy()
        case EnvoyLogConfig():
            return log_formats.envoy()
        case RegexLogConfig():
            return log_formats.custom(cfg.pattern, cfg.time_format, cfg.timezone)
    raise TypeError(f"no log format for {type(cfg).__name__}")


class _Cursor:
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
        self.identity = (info.st_dev, info.st_ino)
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

    def restart(self) -> None:
        self.offset = 0
        self.mark = self.head = b""

    def read(self, budget: int) -> tuple[bytes, int, bool]:
        """(whole lines, overlong lines skipped, reached end of file). A half-written last
        line stays for next time."""
        if budget <= 0:
            return b"", 0, False
        data = os.pread(self.fd, budget, self.offset)
        at_end = len(data) < budget
        end = data.rfind(b"\n") + 1
        skipped = 0
        if end == 0 and not at_end:
            # A "line" longer than the whole budget: skip it rather than stall on it.
            end, skipped, data = len(data), 1, b""
        self.offset += end
        self.remember()
        return data[:end], skipped, at_end

    def close(self) -> None:
        os.close(self.fd)


def _first_line_since(fd: int, size: int, since: int, fmt: LogFormat) -> int:
    """Offset of the first line stamped at or after `since`, by binary search over the file
    (lines are written in time order). Costs O(log size) small reads, not a scan."""

    def first_stamp_from(pos: int) -> tuple[int, float]:
        """(offset, time) of the first whole stamped line starting at or after pos."""
        # Lines start after a newline; the file's first line gets a virtual one.
        if pos == 0:
            origin, chunk = -1, b"\n" + os.pread(fd, _PROBE_BYTES, 0)
        else:
            origin, chunk = pos - 1, os.pread(fd, _PROBE_BYTES, pos - 1)
        start = chunk.find(b"\n")
        while start >= 0:
            end = chunk.find(b"\n", start + 1)
            if end < 0:
                break  # the probe ends inside this line
            for stamp, _ in fmt.scan(chunk[start : end + 1]):
                epoch = fmt.epoch(stamp) if fmt.timed else None
                if epoch is not None:
                    return origin + start + 1, epoch
            start = end
        return size, float("inf")

    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if first_stamp_from(mid)[1] >= since:
            hi = mid
        else:
            lo = mid + 1
    found = first_stamp_from(lo)[0] if lo < size else size
    return _back_over_unstamped(fd, found, fmt)


def _back_over_unstamped(fd: int, offset: int, fmt: LogFormat) -> int:
    """Where the lines just before `offset` that have no readable time begin: they may be
    within the read-back window, so they are read (and counted unparsed), never skipped.
    Looks back at most _PROBE_BYTES: a log of nothing but unreadable lines is then read from
    there, enough for the source to say what it reads."""
    if offset == 0:
        return 0
    start = max(0, offset - _PROBE_BYTES)
    chunk = os.pread(fd, offset - start, start)
    lines = chunk.split(b"\n")
    # chunk ends at a line start: the last item is empty; the first may be a partial line.
    pos = offset
    for line in reversed(lines[1:-1] if start else lines[:-1]):
        if any(
            not fmt.timed or fmt.epoch(stamp) is not None
            for stamp, _ in fmt.scan(b"\n" + line + b"\n")
        ):
            return pos
        pos -= len(line) + 1
    return pos


class AccessLogTail:
    category = Category.ERRORS

    def __init__(self, cfg: AccessLogBase, clock: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self.name = cfg.name
        self.kind = cfg.kind
        self._format = log_format_for(cfg)
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.path = Path(cfg.path)
        self._clock = clock
        self._span = cfg.bucket_seconds
        self._shown = max(1, ceil(cfg.window / cfg.bucket_seconds))
        self._ahead = ceil(FUTURE_SECONDS / cfg.bucket_seconds)
        ring = self._shown + self._ahead
        # slot -> absolute bucket number (epoch // bucket_seconds) it currently counts
        self._ring_bucket = [-1] * ring
        self._ring_requests = [0] * ring
        self._ring_errors = [0] * ring
        self._ring_routes: list[RouteCounts | None] = [None] * ring
        self._stamps: dict[bytes, int | None] = {}
        self._health = LogHealth(self._format)
        self.unparsed_lines = 0
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._current: _Cursor | None = None
        self._previous: _Cursor | None = None  # the rotated file, drained until the writer moves
        self._opened_once = False
        # A poll cancelled by the hub leaves its thread running; the next one waits for it.
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return str(self.path)

    @property
    def ring_size(self) -> int:
        return len(self._ring_bucket)

    async def poll(self) -> ErrorSeries:
        return await asyncio.to_thread(self._poll)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            for cursor in (self._current, self._previous):
                if cursor is not None:
                    cursor.close()
            self._current = self._previous = None

    # -- reading ---------------------------------------------------------------------------

    def _poll(self) -> ErrorSeries:
        with self._lock:
            now = int(self._clock().timestamp())
            try:
                self._follow(now)
            except PermissionError:
                raise SourceError(f"permission denied: {self.path}") from None
            except IsADirectoryError:
                raise SourceError(f"is a directory: {self.path}") from None
            except FileNotFoundError:
                raise SourceError(f"no such file: {self.path}") from None
            except OSError as exc:
                raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
            # Counted so far, but a log read as the wrong format is not a healthy source.
            misread = self._health.judge(now)
            if misread:
                raise SourceError(f"{self.path}: {misread}")
            return self._series(now)

    def _open(self, now: int) -> _Cursor:
        first = not self._opened_once
        self._opened_once = True
        if not first:
            return _Cursor(self.path, 0)  # appeared after we started: all of it is new
        cursor = _Cursor(self.path)
        if self.cfg.read_back > 0:
            cursor.offset = _first_line_since(
                cursor.fd, cursor.offset, now - self.cfg.read_back, self._format
            )
            cursor.remember()
        return cursor

    def _follow(self, now: int) -> None:
        budget = MAX_READ
        if self._current is None:
            self._current = self._open(now)
        current = self._current

        previous_quiet = True
        if self._previous is not None:
            data, skipped, _ = self._previous.read(budget)
            budget -= len(data)
            previous_quiet = not data
            self._ingest(data, skipped, now)

        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None  # renamed away, not yet recreated: keep reading what we have open
        if info is not None and (info.st_dev, info.st_ino) != current.identity:
            data, skipped, at_end = current.read(budget)
            budget -= len(data)
            self._ingest(data, skipped, now)
            if at_end:
                try:
                    replacement = _Cursor(self.path, 0)
                except FileNotFoundError:
                    replacement = None
                if replacement is not None:
                    if self._previous is not None:
                        self._previous.close()
                    # The writer may still append to the old file until it reopens the log.
                    self._previous, self._current = current, replacement
                    current, previous_quiet = replacement, False
        elif current.rewritten():
            current.restart()

        data, skipped, _ = current.read(budget)
        self._ingest(data, skipped, now)
        # Once the old file stays quiet while the new one fills, the writer has moved on.
        if self._previous is not None and previous_quiet and current.offset > 0:
            self._previous.close()
            self._previous = None

    # -- counting --------------------------------------------------------------------------

    def _epoch(self, stamp: bytes) -> int | None:
        try:
            return self._stamps[stamp]
        except KeyError:
            pass
        if len(self._stamps) >= _STAMP_CACHE_MAX:
            self._stamps.clear()
        epoch = self._stamps[stamp] = self._format.epoch(stamp)
        return epoch

    def _ingest(self, data: bytes, skipped: int, now: int) -> None:
        self.unparsed_lines += skipped
        self._health.read(skipped, skipped)
        if not data:
            return
        text = b"\n" + data
        found = self._format.scan(text)
        lines = data.count(b"\n")
        self.unparsed_lines += lines - len(found)
        self._health.read(lines, lines - len(found))
        self._health.sample(data, lines - len(found))
        span = self._span
        ring = len(self._ring_bucket)
        now_bucket = now // span
        oldest, newest = now_bucket - self._shown + 1, now_bucket + self._ahead
        # Older than anything asked for by more than a zone offset: read in the wrong zone.
        too_old = now - max(self.cfg.window, self.cfg.read_back) - _ZONE_SKEW
        timed = self._format.timed
        fives = False
        for (stamp, status_class), count in Counter(found).items():
            epoch = self._epoch(stamp) if timed else now
            if epoch is None:
                self.unparsed_lines += count
                self._health.read(0, count)
                continue
            if epoch > now + FUTURE_SECONDS or epoch < too_old:
                self._health.skewed(count, epoch - now)
            if self._first_ts is None or epoch < self._first_ts:
                self._first_ts = epoch
            if self._last_ts is None or epoch > self._last_ts:
                self._last_ts = epoch
            bucket = epoch // span
            if not oldest <= bucket <= newest:
                continue  # outside the window: seen, not counted
            slot = bucket % ring
            held = self._ring_bucket[slot]
            if held != bucket:
                if held > bucket:
                    continue  # the slot already moved on to a newer bucket (clock went back)
                self._ring_bucket[slot] = bucket
                self._ring_requests[slot] = 0
                self._ring_errors[slot] = 0
                self._ring_routes[slot] = None
            self._ring_requests[slot] += count
            if status_class == b"5":
                self._ring_errors[slot] += count
                fives = True
        if fives and self._format.route_of is not None:
            self._count_routes(text, now, oldest, newest)

    def _count_routes(self, text: bytes, now: int, oldest: int, newest: int) -> None:
        """Each 5xx line's route into its bucket. Only lines the format's fast search points at
        are read in full, so a chunk of 2xx costs one more C-level search, no Python per line."""
        five, route_of = self._format.five, self._format.route_of
        assert five is not None and route_of is not None
        span, ring = self._span, len(self._ring_bucket)
        timed = self._format.timed
        last_start = -2
        find, rfind = text.find, text.rfind
        for hit in five.finditer(text):
            start = rfind(b"\n", 0, hit.start())
            if start == last_start:
                continue  # a second hit on a line already read
            last_start = start
            end = find(b"\n", hit.end())
            got = route_of(text[start + 1 : end])
            if got is None:
                continue
            stamp, status, where = got
            epoch = self._epoch(stamp) if timed else now
            if epoch is None:
                continue
            bucket = epoch // span
            if not oldest <= bucket <= newest:
                continue
            slot = bucket % ring
            if self._ring_bucket[slot] != bucket:
                continue
            counts = self._ring_routes[slot]
            if counts is None:
                counts = self._ring_routes[slot] = RouteCounts()
            counts.add(where, status)

    def _series(self, now: int) -> ErrorSeries:
        span = self._span
        ring = len(self._ring_bucket)
        now_bucket = now // span
        buckets = []
        for bucket in range(now_bucket - self._shown + 1, now_bucket + 1):
            slot = bucket % ring
            where: tuple[RouteErrors, ...] = ()
            if self._ring_bucket[slot] == bucket:
                requests, errors = self._ring_requests[slot], self._ring_errors[slot]
                counts = self._ring_routes[slot]
                where = counts.most() if counts is not None else ()
            else:
                requests = errors = 0
            buckets.append(ErrorBucket(from_epoch(bucket * span), requests, errors, where))
        return ErrorSeries(
            source=self.name,
            bucket_seconds=span,
            buckets=tuple(buckets),
            unparsed_lines=self.unparsed_lines,
            first_ts=from_epoch(self._first_ts) if self._first_ts is not None else None,
            last_ts=from_epoch(self._last_ts) if self._last_ts is not None else None,
            routes_known=self._format.route_of is not None,
        )
