"""TLS probe: handshake, then how long the server's certificate stays valid.

Also home of the TLS pieces the other kinds share (client context, certificate expiry), so
https, ftps and webdav read a certificate the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.config.conditions import CERTIFICATE_EXPIRATION
from cockpit.config.probes import TlsProbeConfig
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe
from cockpit.sources.probes.setup import shared
from cockpit.timeutil import iso_utc, utcnow

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


def client_context(verify: bool, ca_file: Path | None = None) -> ssl.SSLContext:
    """A client context: system trust (plus `ca_file`) when verifying; with verify off the
    handshake still happens and the certificate can still be read, just not trusted."""
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SessionFailed(f"cannot load ca_file {ca_file}: {exc}") from None
    return context


def _system_trust() -> Path | None:
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile) if cafile else None


async def tls_context(verify: bool, ca_file: Path | None = None) -> ssl.SSLContext:
    """The client context for these trust settings: built once per process off the event
    loop (see cockpit.sources.probes.setup), rebuilt when `ca_file` or the system trust store
    changes on disk, and shared by every probe that trusts the same."""

    def build() -> ssl.SSLContext:
        load_x509()  # the certificate dates need it; imported here, off the loop
        return client_context(verify, ca_file)

    def files() -> list[Path | None]:
        return [ca_file, _system_trust()] if verify else []

    return await shared(("tls", verify, ca_file), build, files).get()


def not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> datetime | None:
    """The peer certificate's notAfter, read from its DER form (present even when unverified)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return load_x509()(der).not_valid_after_utc


def load_x509() -> Callable[[bytes], Certificate]:
    """cryptography's DER certificate reader, imported on first use: only probes that speak
    TLS pay for it, and before their first round rather than inside its timing."""
    from cryptography import x509

    return x509.load_der_x509_certificate


def remaining_ms(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> float | None:
    expires = not_after(ssl_object)
    return None if expires is None else (expires - utcnow()).total_seconds() * 1000.0


def expiry_values(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, object]:
    """[CERTIFICATE_EXPIRATION] for a TLS session, or nothing for a plain one."""
    left = remaining_ms(ssl_object)
    return {} if left is None else {CERTIFICATE_EXPIRATION: left}


def days_text(ms: float) -> str:
    days = abs(ms) / 86_400_000
    return f"{days:.0f}d" if days >= 2 else f"{abs(ms) / 3_600_000:.0f}h"


@dataclass(slots=True)
class _TlsSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class TlsProbe(SessionProbe[_TlsSession]):
    """Open = TCP connect + TLS handshake; check = the certificate has not expired."""

    kind = "tls"

    def __init__(self, cfg: TlsProbeConfig):
        super().__init__(cfg, f"{cfg.host}:{cfg.port}")
        self.cfg: TlsProbeConfig = cfg
        self._context: ssl.SSLContext | None = None

    async def prepare(self) -> None:
        self._context = await tls_context(self.cfg.verify_tls, self.cfg.ca_file)

    async def open_session(self) -> _TlsSession:
        cfg = self.cfg
        reader, writer = await asyncio.open_connection(
            cfg.host,
            cfg.port,
            ssl=self._context,
            server_hostname=cfg.server_name or cfg.host,
            ssl_handshake_timeout=cfg.timeout,
        )
        return _TlsSession(reader, writer)

    async def check_session(self, session: _TlsSession) -> Mapping[str, object]:
        ssl_object = session.writer.get_extra_info("ssl_object")
        expires = not_after(ssl_object)
        if expires is None:
            raise SessionFailed("server sent no certificate")
        left = (expires - utcnow()).total_seconds() * 1000.0
        if left <= 0:
            raise SessionFailed(f"certificate expired {days_text(left)} ago ({iso_utc(expires)})")
        return {CERTIFICATE_EXPIRATION: left}

    async def close_session(self, session: _TlsSession) -> None:
        session.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await session.writer.wait_closed()

    def abort_session(self, session: _TlsSession) -> None:
        session.writer.transport.abort()
