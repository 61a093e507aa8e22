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
import os
import threading
import time
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
from cockpit.sources.base import SourceError
from cockpit.sources.logs import formats as log_formats
from cockpit.sources.logs.files import Cursor, Identity, Span, last_line_end, rotated_siblings
from cockpit.sources.logs.formats import LogFormat, parse_time_local
from cockpit.sources.logs.health import SAMPLE_BYTES, LogHealth, why_unread
from cockpit.sources.logs.routes import RouteCounts
from cockpit.timeutil import from_epoch, utcnow

__all__ = ["AccessLogTail", "log_format_for", "parse_time_local"]

CHUNK = 8_388_608  # bytes read at a time
# A poll reads until it has caught up or this share of its timeout has passed; what is left
# (a read-back larger than that) follows on the next polls, and the series says so.
READ_SHARE = 0.7
_PROBE_BYTES = 65_536  # how far read_back's search looks for a line with a timestamp
FUTURE_SECONDS = 120  # lines this far ahead of our clock still count (clock skew)
_STAMP_CACHE_MAX = 8192
_ZONE_SKEW = 1800


def log_format_for(cfg: AccessLogBase) -> LogFormat:
    match cfg:
        case AccessLogConfig():
            return log_formats.nginx_combined(cfg.timezone)
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
        self._current: Cursor | None = None
        # Rotated files still read: drained until quiet while the new one fills (the writer
        # may append to the old file until it reopens the log).
        self._draining: list[Cursor] = []
        # Files seen beside the log at the last rotation: a file not among them that a new
        # rotation shows was written in between and is read too (several rotations per poll).
        self._known: set[Identity] = set()
        self._seen_ns = 0  # wall time of the last look at the log's identity
        self._backfill: list[Span] = []  # read_back still to read, newest first
        self._backfill_total = 0
        self._behind = ""
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
            for cursor in [self._current, *self._draining]:
                if cursor is not None:
                    cursor.close()
            for span in self._backfill:
                span.close()
            self._current, self._draining, self._backfill = None, [], []

    # -- reading ---------------------------------------------------------------------------

    def _poll(self) -> ErrorSeries:
        with self._lock:
            now = int(self._clock().timestamp())
            deadline = time.monotonic() + self.timeout * READ_SHARE
            try:
                self._follow(now, deadline)
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
                raise SourceError(misread)  # the path is the source's target, shown beside it
            return self._series(now)

    def _open(self, now: int) -> Cursor:
        first = not self._opened_once
        self._opened_once = True
        if not first:
            return Cursor(self.path, 0)  # appeared after we started: all of it is new
        cursor = Cursor(self.path)
        siblings = rotated_siblings(self.path)
        self._known = {s.identity for s in siblings} | {cursor.identity}
        if self.cfg.read_back <= 0:
            return cursor
        # The read-back window is read from its newest line down (see _read_back); the cursor
        # follows what is written from now on.
        since = now - self.cfg.read_back
        end = cursor.offset = last_line_end(cursor.fd, cursor.offset)
        cursor.remember()
        start = _first_line_since(cursor.fd, end, since, self._format)
        self._add_span(cursor.fd, start, end)
        if start == 0:
            # The window reaches back past this file's first line: into the rotated ones.
            for sibling in siblings:
                if sibling.mtime_ns < since * 1_000_000_000:
                    break  # last written before the window: nothing of it is read back
                try:
                    older = Cursor(sibling.path)
                except OSError:
                    continue
                if sibling is siblings[0]:
                    # The newest may still be written to, until the writer reopens the log.
                    older.offset = last_line_end(older.fd, older.offset)
                    older.remember()
                    self._draining.append(older)
                start = _first_line_since(older.fd, older.offset, since, self._format)
                self._add_span(older.fd, start, older.offset)
                if sibling is not siblings[0]:
                    older.close()
                if start > 0:
                    break
        return cursor

    def _add_span(self, fd: int, lo: int, hi: int) -> None:
        if lo < hi:
            self._backfill.append(Span(fd, lo, hi))
            self._backfill_total += hi - lo

    def _follow(self, now: int, deadline: float) -> None:
        behind = 0
        if self._current is None:
            self._current = self._open(now)
        current = self._current
        quiet = {}
        for cursor in self._draining:
            got, left = self._drain(cursor, now, deadline)
            quiet[cursor.identity] = not got
            behind += left

        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None  # renamed away, not yet recreated: keep reading what we have open
        looked = time.time_ns()
        held = len(self._draining)
        if info is not None and (info.st_dev, info.st_ino) != current.identity:
            _, left = self._drain(current, now, deadline)
            if not left:
                try:
                    replacement = Cursor(self.path, 0)
                except FileNotFoundError:
                    replacement = None
                if replacement is not None:
                    self._draining.append(current)
                    self._adopt_missed(current, replacement)
                    self._current = current = replacement
        elif current.rewritten():
            self._adopt_missed(current, current)
            current.restart()
        self._seen_ns = looked
        # Files a rotation left that we had not read: in this poll, not the next one
        # (`cockpit check` makes one).
        for cursor in self._draining[held:]:
            behind += self._drain(cursor, now, deadline)[1]

        _, left = self._drain(current, now, deadline)
        behind += left
        # Once an old file stays quiet while the new one fills, the writer has moved on.
        if current.offset > 0:
            for cursor in [c for c in self._draining if quiet.get(c.identity)]:
                cursor.close()
                self._draining.remove(cursor)
        behind += self._read_back(now, deadline)
        self._behind = self._describe_behind(behind)

    def _drain(self, cursor: Cursor, now: int, deadline: float) -> tuple[bool, int]:
        """Read a file to its end, or until the deadline: (read anything, bytes left)."""
        got = False
        while True:
            text, end, skipped, at_end = cursor.read(CHUNK)
            got = got or end > 1 or bool(skipped)
            self._ingest(text, end, skipped, now)
            if at_end:
                return got, 0
            if time.monotonic() >= deadline:
                return got, max(0, cursor.size() - cursor.offset)

    def _adopt_missed(self, old: Cursor, current: Cursor) -> None:
        """After a rotation: read the files written since our last look that we hold no cursor
        on. A copy of the file we were reading (copytruncate) is read from where we were in it;
        a file rotated away within the same poll interval, from its start."""
        siblings = rotated_siblings(self.path)
        held = {c.identity for c in self._draining} | {old.identity, current.identity}
        for sibling in siblings:
            if sibling.identity in held:
                continue
            if sibling.identity in self._known and sibling.mtime_ns <= self._seen_ns:
                continue  # an older rotation, read before (or before we started)
            try:
                cursor = Cursor(sibling.path, 0)
            except OSError:
                continue
            if old.continues_in(cursor.fd):
                cursor.offset = old.offset
                cursor.remember()
            self._draining.append(cursor)
            held.add(cursor.identity)
        self._known = {s.identity for s in siblings} | {current.identity}

    def _read_back(self, now: int, deadline: float) -> int:
        """Read-back spans, newest lines first, until the deadline: bytes left."""
        while self._backfill:  # a chunk at least, however late: each poll makes headway
            span = self._backfill[0]
            text, end, skipped = span.read_down(CHUNK)
            self._ingest(text, end, skipped, now)
            if not span.left:
                span.close()
                self._backfill.pop(0)
            if time.monotonic() >= deadline:
                break
        return sum(span.left for span in self._backfill)

    def _describe_behind(self, left: int) -> str:
        if not left:
            return ""
        seconds = self.timeout * READ_SHARE
        if self._backfill:
            done = self._backfill_total - sum(span.left for span in self._backfill)
            return (
                f"read back {_mib(done)} of {_mib(self._backfill_total)} (the last "
                f"{self.cfg.read_back} s) within {seconds:g} s; the rest follows"
            )
        return f"{_mib(left)} of new lines not read within {seconds:g} s; they follow"

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

    def _ingest(self, text: bytes, end: int, skipped: int, now: int) -> None:
        """Counts the lines of text[:end] (b"\\n" and whole lines; see Cursor.read)."""
        self.unparsed_lines += skipped
        self._health.read(skipped, skipped)
        if end <= 1:
            return
        found = self._format.scan(text, 0, end)
        lines = text.count(b"\n", 1, end)
        self.unparsed_lines += lines - len(found)
        self._health.read(lines, lines - len(found))
        if lines > len(found):
            self._health.sample(text[1 : min(end, 1 << 16)], lines - len(found))
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
                self._sample_line_of(text, end, stamp)
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
            self._count_routes(text, end, now, oldest, newest)

    def _count_routes(self, text: bytes, stop: int, now: int, oldest: int, newest: int) -> None:
        """Each 5xx line's route into its bucket. Only lines the format's fast search points at
        are read in full, so a chunk of 2xx costs one more C-level search, no Python per line."""
        five, route_of = self._format.five, self._format.route_of
        route_at = self._format.route_at
        assert five is not None and route_of is not None
        span, ring = self._span, len(self._ring_bucket)
        timed = self._format.timed
        last_start = -2
        find, rfind = text.find, text.rfind
        for hit in five.finditer(text, 0, stop):
            start = rfind(b"\n", 0, hit.start())
            if start == last_start:
                continue  # a second hit on a line already read
            last_start = start
            if route_at is not None:
                got = route_at(text, start, stop)
            else:
                got = route_of(text[start + 1 : find(b"\n", hit.end())])
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
            behind=self._behind,
            **self._unparsed_example(),
        )

    def _sample_line_of(self, text: bytes, end: int, stamp: bytes) -> None:
        """Keep the line of a stamp that does not read, as an example of what was not read."""
        at = text.find(stamp, 0, end)
        if at >= 0:
            stop = text.find(b"\n", at, end)
            line = text[text.rfind(b"\n", 0, at) + 1 : stop if stop >= 0 else end]
            self._health.samples.append(line[:SAMPLE_BYTES])

    def _unparsed_example(self) -> dict[str, str]:
        samples = self._health.samples
        if not self.unparsed_lines or not samples:
            return {}
        line = samples[-1]
        return {
            "unparsed_example": line[:200].decode("utf-8", "replace"),
            "unparsed_why": why_unread(self._format, line),
        }


def _mib(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB"
