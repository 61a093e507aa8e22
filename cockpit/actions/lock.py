"""An exclusive per-service lock shared by every cockpit process on the host.

It is an flock(2) on `<data_dir>/locks/<service>.lock`: the kernel drops it when the last
descriptor of it closes, including when the holder is killed, so a crashed process never
leaves a lock behind. The descriptor is close-on-exec; a revert's supervisor hands it to the
command on purpose, so the lock lives exactly as long as the revert runs, and unlocks it
explicitly when the revert is over. The file's content only says who holds it.

With a PostgreSQL store (`[cockpit] store`), the lock is taken in the database first
(`cockpit.incident.store.pg.lock`), so that cockpits on every host of the team exclude each other;
the flock still orders the cockpits of this host, and run status is read from it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote

from cockpit.host.datadir import make_dir, open_file
from cockpit.host.whoami import current_user, host_name
from cockpit.term.textsafe import one_line
from cockpit.timeutil import iso_utc, parse_iso, utc_stamp, utcnow

if TYPE_CHECKING:
    from cockpit.incident.store.pg.connect import PgTarget
    from cockpit.incident.store.pg.lock import Holder, TeamLock


@dataclass(frozen=True, slots=True)
class LockHolder:
    user: str
    pid: int | None
    host: str
    since: datetime | None
    what: str = ""  # what runs under the lock: "revert files-web 2026.1-2 -> 2026.1-1"
    run: str = ""  # the run's id (its folder under <data_dir>/runs)

    def gone(self) -> bool:
        """True when the recorded process no longer runs on this host."""
        if self.pid is None or (self.host and self.host != host_name()):
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # it runs, as another user
        return False

    def describe(self) -> str:
        where = f"pid {self.pid}" if self.pid else "unknown pid"
        if self.host:
            where += f" on {self.host}"
        since = f" since {utc_stamp(self.since)}" if self.since else ""
        what = f", running {self.what}" if self.what else ""
        return f"{self.user or 'someone'} ({where}){since}{what}"


class LockHeld(Exception):
    """Someone else holds the lock; says who, and since when."""

    def __init__(self, service: str, holder: LockHolder):
        self.service = service
        self.holder = holder
        super().__init__(f"{service} is locked by {holder.describe()}")

    @property
    def holder_user(self) -> str:
        return self.holder.user

    @property
    def pid(self) -> int | None:
        return self.holder.pid

    @property
    def since(self) -> datetime | None:
        return self.holder.since


def lock_path(data_dir: Path, service: str) -> Path:
    # Quoting keeps a name such as "../x" inside the locks folder and distinct from "_x".
    return data_dir / "locks" / f"{quote(service, safe='')}.lock"


class ServiceLock:
    """Non-blocking exclusive lock for acting on one service.

    Two objects are two independent claims, even within one process.
    """

    def __init__(
        self,
        data_dir: Path,
        service: str,
        *,
        user: str = "",
        what: str = "",
        run: str = "",
        shared: PgTarget | None = None,
    ):
        """`shared`: the team's PostgreSQL store, whose lock is taken first (StoreError when
        it cannot be reached: nobody acts without knowing the lock is free)."""
        self.service = service
        self.shared = shared
        self._team: TeamLock | None = None
        self.path = lock_path(data_dir, service)
        self.user = user
        self.what = what
        self.run = run
        self._fd: int | None = None
        self._writable = False
        # Set by acquire(): the record a holder left behind when it died without releasing.
        # The kernel already dropped its flock, so it only needs saying, not clearing by hand.
        self.stale: LockHolder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def filenos(self) -> tuple[int, ...]:
        """Every descriptor that keeps the lock (the flock, the team lock's connection)."""
        team = (self._team.fileno(),) if self._team is not None else ()
        return (self.fileno(), *team)

    def fileno(self) -> int:
        """The locked descriptor: a command that inherits it keeps the lock while it runs."""
        if self._fd is None:
            raise RuntimeError(f"lock for {self.service} is not held")
        return self._fd

    def acquire(self) -> None:
        """Take the lock or raise LockHeld at once; never waits for the holder."""
        if self._fd is not None:
            raise RuntimeError(f"lock for {self.service} is already held by this object")
        if self.shared is not None:
            self._acquire_team(self.shared)
        try:
            self._acquire_file()
        except BaseException:
            self._release_team()
            raise

    def _acquire_team(self, target: PgTarget) -> None:
        from cockpit.incident.store.pg.lock import TeamLock

        team = TeamLock(
            target, self.service, user=self.user or current_user(), what=self.what, run=self.run
        )
        holder = team.acquire()
        if holder is not None:
            raise LockHeld(self.service, _team_holder(holder))
        self._team = team

    def _release_team(self) -> None:
        team, self._team = self._team, None
        if team is not None:
            team.release()

    def _acquire_file(self) -> None:
        make_dir(self.path.parent)
        # O_NOFOLLOW: a planted symlink must not make us truncate some other file.
        flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = open_file(self.path, os.O_RDWR | flags, 0o664)
            writable = True
        except PermissionError:
            # Another user's lock file in a shared data dir: flock works on a read-only
            # descriptor, only the holder record cannot be written.
            fd = os.open(self.path, os.O_RDONLY | flags)
            writable = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(self.service, self._read_holder()) from None
            raise
        self._fd = fd
        self._writable = writable
        self.stale = _parse_holder(self.path)
        if not writable:
            return
        try:
            self._write_holder(fd)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        try:
            self._release_file()
        finally:
            self._release_team()

    def _release_file(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._writable:
                os.ftruncate(fd, 0)  # the next reader must not blame a past holder
        except OSError:
            pass
        finally:
            # Unlocking frees the lock for every process sharing this descriptor (a command's
            # leftover child may still hold a copy); closing alone would not.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def stale_message(self) -> str:
        """What to tell the person about a stale holder record, or "" when there was none."""
        team = self._team.stale if self._team is not None else None
        if team is not None:
            said = (
                f"lock of {team.user} released: their connection to the team store is gone; "
                f"it was {_team_holder(team).describe()}"
            )
            return said if self.stale is None else f"{said}; {self._file_stale()}"
        return self._file_stale()

    def _file_stale(self) -> str:
        stale = self.stale
        if stale is None:
            return ""
        if stale.gone():
            return f"stale lock from pid {stale.pid} (gone) cleared; it was {stale.describe()}"
        return f"stale lock record cleared; its holder no longer held it: {stale.describe()}"

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, or None if it is free (or held by this object)."""
        if self._fd is not None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            # A shared probe: it never writes, and it conflicts only with an exclusive holder.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return self._read_holder()
            raise
        finally:
            os.close(fd)
        return None

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _write_holder(self, fd: int) -> None:
        record = {
            "user": self.user or current_user(),
            "pid": os.getpid(),
            "host": host_name(),
            "since": iso_utc(utcnow()),
            "service": self.service,
            "what": self.what,
            "run": self.run,
        }
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def _read_holder(self) -> LockHolder:
        # The holder writes its record just after locking; give it a few moments to appear.
        for _ in range(10):
            holder = _parse_holder(self.path)
            if holder is not None:
                return holder
            time.sleep(0.01)
        return LockHolder(user="unknown", pid=None, host="", since=None)


def _team_holder(holder: Holder) -> LockHolder:
    return LockHolder(
        user=one_line(holder.user, limit=64),
        pid=holder.pid,
        host=one_line(holder.host, limit=255),
        since=holder.since,
        what=one_line(holder.what, limit=300),
        run=one_line(holder.run, limit=200),
    )


def _parse_holder(path: Path) -> LockHolder | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        record = json.loads(raw)
        pid = record.get("pid")
        since = record.get("since")
        return LockHolder(
            user=one_line(str(record.get("user", "")), limit=64),
            pid=pid if isinstance(pid, int) else None,
            host=one_line(str(record.get("host", "")), limit=255),
            since=parse_iso(since) if isinstance(since, str) else None,
            what=one_line(str(record.get("what") or ""), limit=300),
            run=one_line(str(record.get("run") or ""), limit=200),
        )
    except (ValueError, AttributeError):
        return None
