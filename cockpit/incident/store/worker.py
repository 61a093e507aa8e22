"""The incident store as a live screen needs it: never in the way.

Every store call runs on one thread of its own, so a store held locked by another process, a
full disk or a hung file system delays only what the store shows, never the probes, the keys or
the screen. Writes the cockpit makes while it watches (observations, notes, its own records)
are queued: when the store refuses them they are kept in a spool file outside the data dir
(`<user state dir>/oncall-cockpit/unsaved/`), shown as "not saved: <reason>, retrying", and
retried until they land, also by the next cockpit started from this account. Each carries a
key, so a write retried after it had in fact landed is not recorded twice.

A store that cannot be opened read-write is opened read-only when possible (the incident and
its timeline still show); either way opening is retried, and the cockpit says why it cannot
write. `health` tells the screen all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from cockpit.incident.store.connection import store_path
from cockpit.incident.store.errors import StoreError, StoreUnavailable
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import TimelineEvent
from cockpit.timeutil import iso_utc, parse_iso, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

REOPEN_EVERY = 5.0  # seconds between attempts to open a store that could not be opened
MAX_PENDING = 5000  # observations kept unsaved at most; a person's notes are always kept
UNSAVED_GRACE = 3.0  # seconds a queued write waits before it is said to be not saved
SPOOL_DIR = "unsaved"

# Failures after which the connection is dropped and opened anew: the file may have been
# replaced (restored from a copy) or repaired under us.
_REOPEN_AFTER = (
    "damaged",
    "not an incident store",
    "disk I/O error",
    "cannot be opened",
    "read-only",
)


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What the screen says about the store."""

    opened: bool = False  # a connection exists (read-write or read-only)
    writable: bool = False
    ok: bool = True  # the last call succeeded
    reason: str = ""  # why the last call failed (or why the store cannot be opened)
    read_only_reason: str = ""  # why it is open read-only
    since: datetime | None = None  # when it stopped being ok
    pending: int = 0  # writes not saved yet
    unsaved_reason: str = ""  # why the last save of them failed: kept while reads succeed
    spooled: bool = True  # the unsaved writes are on disk (False: only in memory)
    spool_error: str = ""

    @property
    def problem(self) -> str:
        """One line when something is wrong, "" when all is well."""
        if self.ok and not self.pending and (self.writable or not self.opened):
            return ""  # well, or not tried yet (the first moments of every start)
        parts = []
        if not self.ok or not self.opened:
            parts.append(f"store: {self.reason or 'not open yet'}")
        elif not self.writable:
            parts.append(f"store read-only: {self.read_only_reason}")
        if self.pending:
            kept = "" if self.spooled else " (kept in memory only)"
            why = f": {self.unsaved_reason}" if self.unsaved_reason and self.ok else ""
            parts.append(f"{self.pending} not saved{kept}{why}, retrying")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A timeline event waiting to be saved."""

    event: TimelineEvent
    incident_id: int | None = None
    family: str = ""
    person: bool = False  # typed by someone (a note): never dropped
    spooled: bool = False  # read back from the spool (written by an earlier cockpit)
    queued: float = field(default_factory=time.monotonic, compare=False)

    def to_json(self) -> str:
        e = self.event
        return json.dumps(
            {
                "at": iso_utc(e.at),
                "kind": e.kind,
                "text": e.text,
                "source": e.source,
                "key": e.key,
                "incident_id": self.incident_id,
                "family": self.family,
                "person": self.person,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: str) -> PendingWrite | None:
        try:
            raw = json.loads(line)
            event = TimelineEvent(
                parse_iso(raw["at"]),
                str(raw["kind"]),
                str(raw["text"]),
                str(raw.get("source", "")),
                str(raw.get("key", "")),
            )
            incident = raw.get("incident_id")
            return cls(
                event,
                incident if isinstance(incident, int) else None,
                str(raw.get("family", "")),
                bool(raw.get("person")),
                spooled=True,
            )
        except (ValueError, KeyError, TypeError):
            return None


def default_spool_dir() -> Path:
    from platformdirs import user_state_path

    from cockpit.config.base import APP_NAME

    return user_state_path(APP_NAME) / SPOOL_DIR


def spool_file(spool_dir: Path, data_dir: Path) -> Path:
    """One spool per data dir (and per account: it lives in the account's state dir)."""
    try:
        where = str(data_dir.resolve())
    except OSError:
        where = str(data_dir)
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return spool_dir / f"{digest}.jsonl"


class _Thread:
    """Runs callables one after another on a daemon thread (a call stuck in a hung file
    system must not keep the process from exiting)."""

    def __init__(self, name: str):
        self.name = name
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._running = False

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def job() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to the waiting coroutine
                with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                    loop.call_soon_threadsafe(settle, None, exc)
            else:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle, result, None)

        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()
        self._jobs.put(job)
        return future

    @property
    def busy(self) -> bool:
        """A call is running on the thread right now (it may be waiting for a lock)."""
        return self._running

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._running = True
            try:
                job()
            finally:
                self._running = False

    def stop(self) -> None:
        self._jobs.put(None)


class StoreWorker:
    """The store of one data dir, off the event loop, with failed writes kept and retried."""

    def __init__(
        self,
        data_dir: Path | None,
        *,
        spool_dir: Path | None = None,
        unusable: str = "",
        opener: Callable[[Path, bool], IncidentStore] | None = None,
    ):
        """`data_dir` None (with `unusable` saying why) when there is no usable data dir."""
        self.data_dir = data_dir
        self._unusable = unusable
        self._opener = opener or (lambda path, ro: IncidentStore(path, read_only=ro))
        self._spool = spool_file(spool_dir or default_spool_dir(), data_dir) if data_dir else None
        self._thread = _Thread("incident-store")
        self._store: IncidentStore | None = None
        self._health = StoreHealth(reason=unusable, ok=not unusable)
        self._pending: list[PendingWrite] = []
        self._next_open = 0.0
        self._open_lock = asyncio.Lock()
        self._spool_loaded = False
        self._spool_lock = threading.Lock()
        self._was_writable = False
        self._opened_once = False
        self.changed = asyncio.Event()  # health or pending changed

    # -- state ----------------------------------------------------------------------------------

    @property
    def health(self) -> StoreHealth:
        return replace(self._health, pending=len(self.overdue()))

    def overdue(self) -> tuple[PendingWrite, ...]:
        """The pending writes worth a warning: all of them once a save failed or the store is
        not writable; else those from an earlier cockpit's spool and those waiting longer than
        UNSAVED_GRACE. A write merely queued (every start queues a few) is not "not saved"."""
        health = self._health
        if health.unsaved_reason or not health.ok or (health.opened and not health.writable):
            return tuple(self._pending)
        due = time.monotonic() - UNSAVED_GRACE
        return tuple(w for w in self._pending if w.spooled or w.queued <= due)

    @property
    def was_writable(self) -> bool:
        """The store has been open read-write in this process: a failure since is a fault to
        wait out (writes are kept), not a reason to stop taking them."""
        return self._was_writable

    @property
    def store(self) -> IncidentStore | None:
        """The open store, for code that runs it on its own thread (notifications)."""
        return self._store

    def pending(self) -> tuple[PendingWrite, ...]:
        return tuple(self._pending)

    def _set(self, **fields: object) -> None:
        new = replace(self._health, **fields)  # type: ignore[arg-type]
        if new != self._health:
            self._health = new
            self.changed.set()

    def _failed(self, exc: BaseException) -> None:
        reason = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
        since = self._health.since if not self._health.ok else utcnow()
        self._set(ok=False, reason=reason, since=since)
        if any(word in reason for word in _REOPEN_AFTER) and self._store is not None:
            store, self._store = self._store, None
            self._thread.submit(store.close)
            self._set(opened=False, writable=False)
            self._next_open = 0.0

    def _succeeded(self) -> None:
        if not self._health.ok:
            self._set(ok=True, since=None, reason="")

    # -- opening --------------------------------------------------------------------------------

    async def open(self) -> bool:
        """Open the store (read-write, else read-only); False when neither works yet. Cheap to
        call again: it retries at most every REOPEN_EVERY seconds."""
        if self.data_dir is None:
            self._set(opened=False, writable=False, ok=False, reason=self._unusable)
            return False
        async with self._open_lock:
            if self._store is not None and self._store.read_only is False:
                return True
            now = time.monotonic()
            if now < self._next_open:
                return self._store is not None
            self._next_open = now + REOPEN_EVERY
            if not self._spool_loaded:
                self._spool_loaded = True
                self._pending = await self._thread.submit(self._load_spool) + self._pending
            path = store_path(self.data_dir)
            try:
                store = await self._thread.submit(lambda: self._opener(path, False))
            except StoreError as exc:
                rw_reason = exc.reason
            else:
                old, self._store = self._store, store
                self._was_writable = self._opened_once = True
                if old is not None:
                    self._thread.submit(old.close)
                self._set(
                    opened=True, writable=True, ok=True, reason="", read_only_reason="", since=None
                )
                return True
            if self._store is not None:  # read-only already; stays so, with the reason
                self._set(read_only_reason=rw_reason)
                return True
            if rw_reason.startswith("offline"):
                # A database server not reachable yet (PostgreSQL): a fault to wait out, as
                # when it goes away later; what is written meanwhile waits in the spool.
                since = self._health.since or utcnow()
                self._set(opened=False, writable=False, ok=False, reason=rw_reason, since=since)
                return False
            try:
                store = await self._thread.submit(lambda: self._opener(path, True))
            except StoreError:
                since = self._health.since or utcnow()
                self._set(opened=False, writable=False, ok=False, reason=rw_reason, since=since)
                self._never_writable()
                return False
            self._never_writable()
            self._store = store
            self._set(
                opened=True,
                writable=False,
                ok=True,
                reason="",
                read_only_reason=rw_reason,
                since=None,
            )
            return True

    def _never_writable(self) -> None:
        """The store takes no writes and never did in this process: the cockpit is read-only,
        and the observations queued while it was opening are dropped (a cockpit that may
        write records them). What a person wrote is always kept."""
        self._opened_once = True
        if not self._was_writable:
            self._pending = [w for w in self._pending if w.person or w.spooled]

    @property
    def accepts_writes(self) -> bool:
        """Whether queued writes can be expected to land: the store takes writes, or did and
        is failing for now, or is still being opened for the first time."""
        if self.data_dir is None:
            return False
        if self._health.opened and not self._health.writable:
            return False
        return self._health.writable or self._was_writable or not self._opened_once

    # -- calls ----------------------------------------------------------------------------------

    async def call(self, fn: Callable[[IncidentStore], T]) -> T:
        """Run `fn(store)` on the store's thread. Raises StoreUnavailable when the store is
        not open, StoreError when the call fails (the health then says why)."""
        if self._store is None or self._store.read_only:
            await self.open()  # at most every REOPEN_EVERY seconds
        store = self._store
        if store is None:
            raise StoreUnavailable(
                f"incident store not available: {self._health.reason}", self._health.reason
            )
        try:
            result = await self._thread.submit(lambda: fn(store))
        except StoreError as exc:
            self._failed(exc)
            raise
        self._succeeded()
        return result

    # -- queued writes --------------------------------------------------------------------------

    def queue(
        self,
        event: TimelineEvent,
        incident_id: int | None = None,
        *,
        family: str = "",
        person: bool = False,
    ) -> PendingWrite:
        """Queue an event for saving (no I/O here); `flush` saves it. An event without a key
        gets one, so that retrying it can never record it twice."""
        if not event.key:
            event = replace(event, key=f"once:{uuid.uuid4().hex}")
        write = PendingWrite(event, incident_id, family, person)
        self._pending.append(write)
        if len(self._pending) > MAX_PENDING:
            drop = next((i for i, w in enumerate(self._pending) if not w.person), None)
            if drop is not None:
                del self._pending[drop]
        self.changed.set()
        return write

    async def flush(self) -> bool:
        """Save what is queued, oldest first; True when nothing is left. What the store
        refuses stays queued (and spooled to disk) for the next flush."""
        if not self._pending:
            return True
        batch = list(self._pending)
        # In WAL mode a store another process holds locked still answers reads, and each
        # answered read clears the health's reason: the reason the writes wait is kept apart.
        try:
            saved = await self.call(lambda store: _save(store, batch))
        except StoreError as exc:
            self._set(unsaved_reason=getattr(exc, "reason", "") or str(exc))
            saved = 0
        except Exception as exc:  # a bug must not lose the writes
            log.exception("saving queued events failed")
            self._failed(exc)
            self._set(unsaved_reason=self._health.reason)
            saved = 0
        done = {id(w) for w in batch[:saved]}
        self._pending = [w for w in self._pending if id(w) not in done]
        left = list(self._pending)
        if not left:
            self._set(unsaved_reason="")
        await self._thread.submit(lambda: self._write_spool(left))
        self.changed.set()
        return not self._pending

    def _load_spool(self) -> list[PendingWrite]:
        if self._spool is None:
            return []
        try:
            text = self._spool.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("cannot read the unsaved writes in %s: %s", self._spool, exc)
            return []
        return [w for line in text.splitlines() if (w := PendingWrite.from_json(line))]

    def _write_spool(self, pending: list[PendingWrite]) -> None:
        """Keep the unsaved writes on disk (or remove the spool when none are left)."""
        spool = self._spool
        if spool is None:
            return
        with self._spool_lock:
            self._write_spool_locked(spool, pending)

    def _write_spool_locked(self, spool: Path, pending: list[PendingWrite]) -> None:
        try:
            if not pending:
                with contextlib.suppress(FileNotFoundError):
                    spool.unlink()
            else:
                spool.parent.mkdir(parents=True, exist_ok=True)
                temporary = spool.with_name(f".{spool.name}.{os.getpid()}")
                data = "".join(w.to_json() + "\n" for w in pending).encode()
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temporary, spool)
        except OSError as exc:
            self._set(spooled=False, spool_error=exc.strerror or str(exc))
            return
        self._set(spooled=True, spool_error="")

    async def aclose(self, flush_for: float = 2.0) -> None:
        """Save what can be saved within `flush_for` seconds, keep the rest spooled, close."""
        if self._pending:
            with contextlib.suppress(TimeoutError, StoreError):
                async with asyncio.timeout(flush_for):
                    await self.flush()
        if self._pending:
            # The flush may still be stuck on the thread; the spool is written from here.
            self._write_spool(list(self._pending))
        store, self._store = self._store, None
        if store is not None:
            # Closed cleanly (the last connection removes the -wal and -shm files), unless the
            # file system hangs: then the process goes on without waiting for it.
            with contextlib.suppress(TimeoutError, StoreError):
                async with asyncio.timeout(flush_for):
                    await self._thread.submit(store.close)
        self._thread.stop()


def _save(store: IncidentStore, batch: list[PendingWrite]) -> int:
    """Save in order; stops at the first failure. Returns how many were saved."""
    saved = 0
    for write in batch:
        try:
            store.add_event(write.event, write.incident_id, family=write.family)
        except StoreError:
            if saved:
                return saved
            raise
        except LookupError:
            # The incident it was meant for is gone (a store restored from an older copy):
            # it still belongs on the timeline.
            store.add_event(write.event, None, family=write.family)
        saved += 1
    return saved
