"""The service's SFTP front end: an asyncssh server on 127.0.0.1, on its own event loop thread.

Password authentication only; SFTP is the only thing a session may do (no shell, no
forwarding), chrooted to the files tree. A session opens when authentication succeeds and ends
with the connection. While the bad release runs, a user who already holds a session fails
authentication, with an auth banner saying "session limit reached"; a database failure fails it
the same way with its own banner.

It serves on a socket the world bound already, with the host key the world made (see
hostkey.py), so the config and `known_hosts` can be written before this module is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
from concurrent.futures import Future
from pathlib import Path

import asyncssh

from cockpit.world.accounts import Accounts
from cockpit.world.backend import FilesBackend, Refused
from cockpit.world.database import DESKTOP
from cockpit.world.servers.hostkey import HostKey
from cockpit.world.sessions import Lease

log = logging.getLogger("cockpit.world")

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class _SshServer(asyncssh.SSHServer):
    def __init__(self, frontend: SftpFrontend):
        self._frontend = frontend
        self._conn: asyncssh.SSHServerConnection | None = None
        self._lease: Lease | None = None
        self._lost = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._frontend._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._conn is not None:
            self._frontend._connections.discard(self._conn)
        self._release()

    def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.close()

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        frontend = self._frontend
        if not frontend.accounts.check(username, password):
            return False
        if self._lease is not None:
            return True  # already holds its session
        opener = functools.partial(
            frontend.backend.open_session, username, client=DESKTOP, transaction="sftp session"
        )
        try:
            # The backend may wait on a slow database: not on the event loop.
            lease = await asyncio.get_running_loop().run_in_executor(None, opener)
        except Refused as refused:
            if self._conn is not None:
                with contextlib.suppress(OSError, asyncssh.Error):
                    self._conn.send_auth_banner(f"{refused.reason}\r\n")
            return False
        self._lease = lease
        if self._lost:
            self._release()
            return False
        return True


class SftpFrontend:
    def __init__(
        self,
        *,
        backend: FilesBackend,
        accounts: Accounts,
        root: Path,
        listener: socket.socket,
        host_key: HostKey,
    ):
        self.backend = backend
        self.accounts = accounts
        self.root = root
        self._listener = listener
        self._host_key = host_key
        self.port = int(listener.getsockname()[1])
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"sftp://127.0.0.1:{self.port}"

    def start(self) -> None:
        key = asyncssh.import_private_key(self._host_key.private_openssh)
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(key, ready), name="world-sftp", daemon=True
        )
        self._thread.start()
        ready.result(_START_TIMEOUT)

    def _run(self, key: asyncssh.SSHKey, ready: Future[None]) -> None:
        try:
            asyncio.run(self._main(key, ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("the SFTP server stopped on an error")

    async def _main(self, key: asyncssh.SSHKey, ready: Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        root = os.fsencode(self.root)
        server = await asyncssh.listen(
            sock=self._listener,
            server_host_keys=[key],
            server_factory=functools.partial(_SshServer, self),
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=30,
        )
        try:
            ready.set_result(None)
            await self._stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            for conn in list(self._connections):
                conn.close()
            for conn in list(self._connections):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.wait_closed(), _STOP_TIMEOUT)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            self._listener.close()
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(_STOP_TIMEOUT * 2)
        if thread.is_alive():
            log.warning("the SFTP server did not stop in time")
