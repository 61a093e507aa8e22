"""The service's FTP front end: pyftpdlib on 127.0.0.1, a thread per connection.

A session opens when a user logs in and ends when the connection does. While the bad release
runs, a login of a user who already holds a session is refused with `421 Session limit
reached.`; when the database is down, with `421 Metadata database unavailable.` Read-only.

pyftpdlib is used with care, since the world may share its process with other code: its own
IOLoop (not the process-wide one), its own stop event (ThreadedFTPServer keeps one per class),
and a filesystem that never changes the process's working directory.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any, ClassVar

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import ThreadedFTPServer

from cockpit.world.accounts import Accounts
from cockpit.world.backend import FilesBackend, Refused
from cockpit.world.database import DESKTOP
from cockpit.world.sessions import Lease

log = logging.getLogger("cockpit.world")

_JOIN_TIMEOUT = 5.0


def _quiet_pyftpdlib() -> None:
    # Without a handler of its own, pyftpdlib installs one that prints every login to stderr,
    # which may be the terminal the cockpit draws on.
    logger = logging.getLogger("pyftpdlib")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.WARNING)


class _Authorizer(DummyAuthorizer):
    def __init__(self, accounts: Accounts, home: Path):
        super().__init__()
        self._accounts = accounts
        for user in sorted(accounts.users):
            self.add_user(user, "", str(home), perm="elr")  # the password lives in Accounts

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        if not self._accounts.check(username, password):
            raise AuthenticationFailed("Authentication failed.")


class _StayingFS(AbstractedFS):
    """CWD without os.chdir(): the process's working directory belongs to its owner."""

    def chdir(self, path: str) -> None:
        if not os.path.isdir(path):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        if not os.access(path, os.X_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        self.cwd = self.fs2ftp(path)


class _Handler(FTPHandler):
    frontend: ClassVar[FtpFrontend]
    abstracted_fs = _StayingFS
    banner = "files-web FTP ready."
    auth_failed_timeout = 0.5
    timeout = 120
    _lease: Lease | None = None

    def ftp_PASS(self, line: str) -> None:
        if self.authenticated or not self.username:
            super().ftp_PASS(line)
            return
        if not self.frontend.accounts.check(self.username, line):
            super().ftp_PASS(line)  # the usual delayed 530
            return
        try:
            lease = self.frontend.backend.open_session(
                self.username, client=DESKTOP, transaction="ftp login"
            )
        except Refused as refused:
            self.respond(f"421 {refused.reason.capitalize()}.")
            self.close_when_done()
            return
        self._lease = lease
        super().ftp_PASS(line)

    def close(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.close()
        super().close()


class _Server(ThreadedFTPServer):
    # Connection threads check for stop this often (they poll: pyftpdlib offers no wake-up).
    poll_timeout = 0.2

    def __init__(self, listener: socket.socket, handler: type[FTPHandler], ioloop: IOLoop):
        # Per instance, not per class: two worlds in one process must not stop each other.
        self._lock = threading.Lock()
        self._exit = threading.Event()
        super().__init__(listener, handler, ioloop=ioloop)


class FtpFrontend:
    def __init__(
        self, *, backend: FilesBackend, accounts: Accounts, root: Path, listener: socket.socket
    ):
        _quiet_pyftpdlib()
        self.backend = backend
        self.accounts = accounts
        self.root = root
        handler = type(
            "FilesFtpHandler",
            (_Handler,),
            {"frontend": self, "authorizer": _Authorizer(accounts, root)},
        )
        self._stopping = threading.Event()
        self._server = _Server(listener, handler, IOLoop())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.address[1])

    @property
    def url(self) -> str:
        return f"ftp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="world-ftp", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        ioloop = self._server.ioloop
        timeout: float | None = None
        try:
            while not self._stopping.is_set():
                # One poll at a time (sleeping in the kernel until a connection or the next
                # scheduled task), so a stop request is seen after the wake-up call.
                timeout = ioloop.loop(timeout, blocking=False)
        except Exception:
            log.exception("the FTP server stopped on an error")
        finally:
            self._server.close_all()

    def stop(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            with contextlib.suppress(OSError):
                self._server.close_all()
            return
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 2):
            pass  # the wake-up call
        thread.join(_JOIN_TIMEOUT)
        if thread.is_alive():
            log.warning("the FTP server did not stop within %ss", _JOIN_TIMEOUT)
