"""FTP and explicit FTPS probes: stdlib ftplib, each blocking call on a thread of the probe's own.

Each probe has its own small pool (one thread per session), so a hanging FTP server ties up
that probe's threads only, never another probe's. A session that runs out of time is dropped by
shutting its sockets down, which also wakes the thread blocked on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cockpit.config.conditions import BODY, STATUS
from cockpit.config.probes import FtpProbeConfig, FtpsProbeConfig
from cockpit.sources.probes.sessions import SessionProbe, os_reason
from cockpit.sources.probes.tls import expiry_values, tls_context
from cockpit.term.textsafe import one_line

T = TypeVar("T")
_READ_CHUNK = 65_536
# Replies that follow a transfer the probe cut short on purpose (bounded read).
_ABORTED_TRANSFER = ("426", "450", "451")


class _FtpSession:
    """One control connection and, during a transfer, its data connection."""

    def __init__(self, ftp: ftplib.FTP):
        self.ftp = ftp
        self.data: socket.socket | None = None
        self.lock = threading.Lock()

    def abort(self) -> None:
        with self.lock:
            sockets = [s for s in (self.data, self.ftp.sock) if s is not None]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.ftp.close()


def _code(reply: str) -> int:
    head = reply[:3]
    return int(head) if head.isdigit() else 0


def ftp_reason(exc: BaseException) -> str:
    if isinstance(exc, ftplib.Error):
        # The server's own words ("530 Login incorrect."), made inert.
        return one_line(str(exc), 120) or type(exc).__name__
    if isinstance(exc, EOFError):
        return "connection closed by the server"
    return os_reason(exc)


class FtpProbe(SessionProbe[_FtpSession]):
    """Open = connect, welcome and login (and AUTH TLS / PROT P for ftps); check = the bounded
    listing and/or retrieval, else NOOP; close = QUIT."""

    kind = "ftp"

    def __init__(self, cfg: FtpProbeConfig):
        super().__init__(cfg, f"ftp://{cfg.user}@{cfg.host}:{cfg.port}")
        self.cfg: FtpProbeConfig = cfg
        self._pool = ThreadPoolExecutor(
            max_workers=cfg.concurrency, thread_name_prefix=f"probe-{cfg.name}"[:40]
        )
        self._wants_body = cfg.uses(BODY)

    def _client(self) -> ftplib.FTP:
        return ftplib.FTP(timeout=self.cfg.timeout)

    async def _blocking(self, session: _FtpSession, call: Callable[[], T]) -> T:
        """Run a blocking ftplib call on this probe's pool; drop the session if the wait ends
        early (deadline, cancelled poll), which unblocks the thread."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, call)
        except asyncio.CancelledError:
            session.abort()
            raise

    async def open_session(self) -> _FtpSession:
        session = _FtpSession(self._client())
        await self._blocking(session, lambda: self._login(session.ftp))
        return session

    def _login(self, ftp: ftplib.FTP) -> None:
        cfg = self.cfg
        ftp.connect(cfg.host, cfg.port)
        password = cfg.password.reveal() if cfg.password is not None else ""
        ftp.login(cfg.user, password)
        ftp.set_pasv(cfg.passive)

    async def check_session(self, session: _FtpSession) -> Mapping[str, object]:
        return await self._blocking(session, lambda: self._checked(session))

    def _checked(self, session: _FtpSession) -> dict[str, object]:
        cfg = self.cfg
        ftp = session.ftp
        body: bytes | None = None
        status = 0
        if cfg.list_path is not None:
            ftp.voidcmd("TYPE A")
            status, body = self._transfer(session, f"NLST {cfg.list_path}")
        if cfg.retrieve_path is not None:
            ftp.voidcmd("TYPE I")
            status, body = self._transfer(session, f"RETR {cfg.retrieve_path}")
        if not status:
            status = _code(ftp.voidcmd("NOOP"))
        values: dict[str, object] = {STATUS: status}
        if body is not None and self._wants_body:
            values[BODY] = body.decode("utf-8", "replace")
        return values | self._tls_values(ftp)

    def _transfer(self, session: _FtpSession, command: str) -> tuple[int, bytes]:
        """One data transfer, reading at most max_bytes; a longer one is cut short."""
        ftp = session.ftp
        conn = ftp.transfercmd(command)
        with session.lock:
            session.data = conn
        data = bytearray()
        try:
            while len(data) < self.cfg.max_bytes:
                chunk = conn.recv(min(_READ_CHUNK, self.cfg.max_bytes - len(data)))
                if not chunk:
                    break
                data += chunk
            complete = len(data) < self.cfg.max_bytes
            if complete and isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        finally:
            with session.lock:
                session.data = None
            conn.close()
        try:
            reply = ftp.voidresp()
        except ftplib.error_temp as exc:
            if complete or not str(exc).startswith(_ABORTED_TRANSFER):
                raise
            reply = str(exc)
        return _code(reply), bytes(data)

    def _tls_values(self, ftp: ftplib.FTP) -> dict[str, object]:
        return {}

    async def close_session(self, session: _FtpSession) -> None:
        await self._blocking(session, lambda: self._quit(session.ftp))

    @staticmethod
    def _quit(ftp: ftplib.FTP) -> None:
        """QUIT, then wait for the server to close its end: only then has the server let the
        session go (a per-IP limit counts it until then), so a twin's turn starts clean."""
        try:
            ftp.voidcmd("QUIT")
            sock = ftp.sock
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):
                    while sock.recv(4096):
                        pass
        except (ftplib.Error, OSError, EOFError):
            pass
        finally:
            ftp.close()

    def abort_session(self, session: _FtpSession) -> None:
        session.abort()

    def reason(self, exc: BaseException) -> str:
        return ftp_reason(exc)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _SessionReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session.

    vsftpd requires it by default (`require_ssl_reuse=YES`: "522 SSL connection failed:
    session reuse required"), as do other servers that tie data connections to the logged-in
    control connection; curl and FileZilla do it. ftplib does not."""

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if getattr(self, "_prot_p", False):
            control = self.sock
            session = control.session if isinstance(control, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class FtpsProbe(FtpProbe):
    """Explicit FTPS: AUTH TLS before login, PROT P so listings and files travel encrypted."""

    kind = "ftps"

    def __init__(self, cfg: FtpsProbeConfig):
        super().__init__(cfg)
        self.cfg: FtpsProbeConfig = cfg
        self._target = f"ftps://{cfg.user}@{cfg.host}:{cfg.port}"
        self._context: ssl.SSLContext | None = None

    async def prepare(self) -> None:
        self._context = await tls_context(self.cfg.verify_tls, self.cfg.ca_file)

    def _client(self) -> ftplib.FTP:
        return _SessionReusingFTP_TLS(context=self._context, timeout=self.cfg.timeout)

    def _login(self, ftp: ftplib.FTP) -> None:
        assert isinstance(ftp, ftplib.FTP_TLS)
        cfg = self.cfg
        ftp.connect(cfg.host, cfg.port)
        ftp.auth()
        password = cfg.password.reveal() if cfg.password is not None else ""
        ftp.login(cfg.user, password, secure=False)
        ftp.prot_p()
        ftp.set_pasv(cfg.passive)

    def _tls_values(self, ftp: ftplib.FTP) -> dict[str, object]:
        sock = ftp.sock
        return expiry_values(sock if isinstance(sock, ssl.SSLSocket) else None)
