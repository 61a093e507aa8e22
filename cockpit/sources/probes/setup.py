"""What probes build before their sessions (TLS contexts and trust stores, SSH keys and
known_hosts): built off the event loop, shared, and built again when a file it read changes.

Loading the system trust store costs about 70 ms of CPU. Done on the event loop, it lands inside
the timed rounds of every other probe running then: six TLS probes starting together made each
other's first round slower than a `[RESPONSE_TIME] < 100` condition allows. Done once per
process and on a thread of its own, it costs the others a few ms at most. And a file read once
per process goes stale: a CA or a key rotated on disk would keep a running cockpit red until
restarted, so every use compares the files' stamps (inode, size, mtime: one stat each) and
rebuilds when one changed.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

from cockpit.sources.probes.sessions import SessionFailed

T = TypeVar("T")
Stamp = tuple[int, int, int] | None

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    # One thread: set-up work is rare, and a single thread keeps it from competing with
    # itself (and the loop) for the CPU.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-setup")
        return _executor


async def run_setup(build: Callable[[], T]) -> T:
    """Run blocking set-up work on the set-up thread."""
    return await asyncio.wrap_future(_pool().submit(build))


def stamp(path: Path | None) -> Stamp:
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class FileBacked(Generic[T]):
    """A value built from files, rebuilt when one of them changes; the outcome (value or
    error) is kept per set of stamps, so a file that cannot be read is not retried until it
    changes. `build` raises SessionFailed for what a user must fix. Safe to share between
    probes and event loops."""

    def __init__(self, build: Callable[[], T], files: Callable[[], Sequence[Path | None]]):
        self._build = build
        self._files = files
        self._lock = threading.Lock()
        self._stamps: tuple[Stamp, ...] | None = None
        self._outcome: Future[T] | None = None

    async def get(self) -> T:
        stamps = tuple(stamp(p) for p in self._files())
        with self._lock:
            if self._outcome is None or stamps != self._stamps:
                self._stamps = stamps
                self._outcome = _pool().submit(self._build)
            outcome = self._outcome
        try:
            return await asyncio.wrap_future(outcome)
        except SessionFailed as exc:
            # A new exception each time: re-raising the kept one would grow its traceback
            # by a round's frames every round.
            raise SessionFailed(exc.reason) from None


_shared: dict[object, FileBacked[object]] = {}
_shared_lock = threading.Lock()


def shared(
    key: object, build: Callable[[], T], files: Callable[[], Sequence[Path | None]]
) -> FileBacked[T]:
    """The one FileBacked value for `key` in this process (e.g. a TLS context per trust
    settings), so probes that want the same thing build it once."""
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = FileBacked(build, files)
            _shared[key] = found
        return found  # type: ignore[return-value]
