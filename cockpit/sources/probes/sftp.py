"""SFTP probe (asyncssh): N SSH logins with an SFTP channel each, held open together, then
stat / list / a bounded read on each.

Host keys are checked against known_hosts unless the config opts out explicitly. The client
reads no ~/.ssh/config, asks no agent and tries no default keys: only what the probe names, so
a probe behaves the same from every bastion account.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from cockpit.config.conditions import BODY
from cockpit.config.probes import SftpProbeConfig
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe, os_reason
from cockpit.sources.probes.setup import FileBacked
from cockpit.term.textsafe import one_line

MAX_LISTED = 1000  # names read from a directory; a huge directory costs a bounded read
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
# AES-GCM first: the CPU has AES instructions and one cipher object serves every packet, where
# asyncssh's ChaCha20-Poly1305 (its default first choice) builds three per packet; an SSH
# round costs half the CPU (bench/rounds.py). Every other default stays offered after them.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _ciphers() -> list[str]:
    from asyncssh.encryption import get_default_encryption_algs

    rest = [alg.decode() for alg in get_default_encryption_algs()]
    return [*PREFERRED_CIPHERS, *(alg for alg in rest if alg not in PREFERRED_CIPHERS)]


@dataclass(slots=True)
class _SftpSession:
    conn: asyncssh.SSHClientConnection
    sftp: asyncssh.SFTPClient


class SftpProbe(SessionProbe[_SftpSession]):
    """Open = TCP connect, key exchange, host key check, login, SFTP channel; check = stat,
    list and/or read; close = channel and connection closed."""

    kind = "sftp"

    def __init__(self, cfg: SftpProbeConfig):
        super().__init__(cfg, f"sftp://{cfg.user}@{cfg.host}:{cfg.port}")
        self.cfg: SftpProbeConfig = cfg
        self._options: asyncssh.SSHClientConnectionOptions | None = None
        self._setup = FileBacked(self._connection_options, self._option_files)
        self._wants_body = cfg.uses(BODY)

    def _known_hosts_path(self) -> Path | None:
        if self.cfg.insecure_skip_host_key_check:
            return None
        return (self.cfg.known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()

    def _option_files(self) -> list[Path | None]:
        return [self._known_hosts_path(), self.cfg.key_file]

    def _connection_options(self) -> asyncssh.SSHClientConnectionOptions:
        cfg = self.cfg
        known_hosts: Any = None
        path = self._known_hosts_path()
        if path is not None:
            try:
                known_hosts = asyncssh.read_known_hosts(str(path))
            except OSError as exc:
                raise SessionFailed(f"cannot read known_hosts {path}: {exc.strerror}") from None
        client_keys: Any = None
        if cfg.key_file is not None:
            try:
                client_keys = [asyncssh.read_private_key(str(cfg.key_file))]
            except (OSError, asyncssh.KeyImportError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not a usable private key"
                raise SessionFailed(f"cannot read key_file {cfg.key_file}: {why}") from None
        return asyncssh.SSHClientConnectionOptions(
            username=cfg.user,
            password=cfg.password.reveal() if cfg.password is not None else None,
            client_keys=client_keys,
            known_hosts=known_hosts,
            agent_path=None,
            config=None,
            connect_timeout=cfg.timeout,
            login_timeout=cfg.timeout,
            encryption_algs=_ciphers(),
        )

    async def prepare(self) -> None:
        # Reading keys and known_hosts is blocking file and crypto work: off the loop, and
        # again whenever one of those files changed (a rotated key, a new host key).
        self._options = await self._setup.get()

    async def open_session(self) -> _SftpSession:
        conn = await asyncssh.connect(self.cfg.host, self.cfg.port, options=self._options)
        try:
            try:
                sftp = await conn.start_sftp_client()
            except asyncssh.SFTPError as exc:
                # The subsystem started but no SFTP came back: say what the server did.
                raise SessionFailed(await why_no_sftp(conn, exc)) from None
            except asyncssh.ChannelOpenError as exc:
                if exc.code != asyncssh.OPEN_REQUEST_SESSION_FAILED:
                    raise
                raise SessionFailed(
                    "the server refused to start the SFTP subsystem "
                    "(is `Subsystem sftp` set in its sshd_config?)"
                ) from None
        except BaseException:
            conn.abort()
            raise
        return _SftpSession(conn, sftp)

    async def check_session(self, session: _SftpSession) -> Mapping[str, object]:
        cfg = self.cfg
        sftp = session.sftp
        body: bytes | None = None
        path = ""
        try:
            if cfg.stat_path is not None:
                path = f"stat {cfg.stat_path}"
                await sftp.stat(cfg.stat_path)
            if cfg.list_path is not None:
                path = f"list {cfg.list_path}"
                names: list[str] = []
                async for entry in sftp.scandir(cfg.list_path):
                    if entry.filename not in (".", ".."):
                        names.append(str(entry.filename))
                    if len(names) >= MAX_LISTED:
                        break
                body = "\n".join(sorted(names)).encode()
            if cfg.read_path is not None:
                path = f"read {cfg.read_path}"
                async with sftp.open(cfg.read_path, "rb") as handle:
                    data = await handle.read(cfg.max_bytes)
                body = data if isinstance(data, bytes) else data.encode()
        except asyncssh.SFTPError as exc:
            raise SessionFailed(f"{one_line(path, 80)}: {one_line(exc.reason, 80)}") from None
        if body is None or not self._wants_body:
            return {}
        return {BODY: body.decode("utf-8", "replace")}

    async def close_session(self, session: _SftpSession) -> None:
        session.sftp.exit()
        session.conn.close()
        with contextlib.suppress(Exception):
            await session.conn.wait_closed()

    def abort_session(self, session: _SftpSession) -> None:
        session.conn.abort()

    def reason(self, exc: BaseException) -> str:
        return sftp_reason(exc, self.cfg)


SFTP_VERSION_REPLY = 2  # SSH_FXP_VERSION, the first packet an SFTP server sends
DIAGNOSIS_SECONDS = 1.0
# What a shell's exit status says when sshd runs the subsystem's program through one.
_SHELL_STATUSES = {126: ": its program cannot be run", 127: ": its program was not found"}
DIAGNOSIS_BYTES = 4096


async def why_no_sftp(conn: asyncssh.SSHClientConnection, exc: asyncssh.SFTPError) -> str:
    """What the server did instead of speaking SFTP, in words.

    asyncssh only says "0 bytes read on a total of 4 expected bytes". Asking for the subsystem
    once more on the same connection, and reading what comes back and how the channel ends,
    tells "closed before the handshake (exit status 1)" from a ForceCommand or login shell
    printing a message instead (a nologin shell, a banner script)."""
    fallback = f"SFTP handshake failed: {one_line(exc.reason, 100)}"
    try:
        async with asyncio.timeout(DIAGNOSIS_SECONDS):
            writer, reader, stderr = await conn.open_session(subsystem="sftp", encoding=None)
            writer.write_eof()
            out, err = await asyncio.gather(
                reader.read(DIAGNOSIS_BYTES), stderr.read(DIAGNOSIS_BYTES)
            )
            channel = writer.channel
            channel.close()
            await channel.wait_closed()
    except (asyncssh.Error, OSError, TimeoutError):
        return fallback
    if len(out) >= 5 and out[4] == SFTP_VERSION_REPLY:
        return fallback  # it speaks SFTP now: the first failure stands on its own
    ended = _how_it_ended(channel)
    said = _text(err)
    if out:
        shown = _text(out) or f"{len(out)} bytes"
        return f"the server answered the SFTP subsystem with text, not SFTP ({ended}): {shown!r}"
    text = "the server closed the SFTP subsystem before the SFTP handshake"
    return f"{text} ({ended}): {said}" if said else f"{text} ({ended})"


def _how_it_ended(channel: Any) -> str:
    signal = channel.get_exit_signal()
    if signal is not None:
        return f"killed by signal {one_line(signal[0], 20)}"
    status = channel.get_exit_status()
    if status is None:
        return "no exit status"
    return f"exit status {status}{_SHELL_STATUSES.get(status, '')}"


def _text(data: bytes) -> str:
    return one_line(data.decode("utf-8", "replace"), 120)


def sftp_reason(exc: BaseException, cfg: SftpProbeConfig) -> str:
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        where = "" if cfg.known_hosts is None else f" in {cfg.known_hosts}"
        return f"host key not trusted (unknown or changed{where}): {one_line(exc.reason, 80)}"
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"permission denied for user {one_line(cfg.user, 40)!r}"
    if isinstance(exc, asyncssh.SFTPError):
        return f"SFTP: {one_line(exc.reason, 100)}"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"disconnected by the server: {one_line(exc.reason, 100)}"
    if isinstance(exc, asyncssh.ChannelOpenError):
        return f"SFTP channel refused: {one_line(exc.reason, 100)}"
    if isinstance(exc, asyncssh.Error):
        return one_line(exc.reason, 100)
    return os_reason(exc)
