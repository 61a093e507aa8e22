"""TCP probe: connect; optionally send a line and look for a banner substring, bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.config.conditions import BODY
from cockpit.config.probes import TcpProbeConfig
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe
from cockpit.term.textsafe import one_line

_READ_CHUNK = 65_536


@dataclass(slots=True)
class _TcpSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class TcpProbe(SessionProbe[_TcpSession]):
    """Open = TCP connect; check = send `send`, then read until `expect` (or the first read when
    a condition wants [BODY]); at most `max_bytes` are read, whatever the server sends."""

    kind = "tcp"

    def __init__(self, cfg: TcpProbeConfig):
        super().__init__(cfg, f"{cfg.host}:{cfg.port}")
        self.cfg: TcpProbeConfig = cfg
        self._needle = cfg.expect.encode() if cfg.expect else None
        self._wants_body = cfg.uses(BODY)

    async def open_session(self) -> _TcpSession:
        reader, writer = await asyncio.open_connection(
            self.cfg.host, self.cfg.port, limit=_READ_CHUNK
        )
        return _TcpSession(reader, writer)

    async def check_session(self, session: _TcpSession) -> Mapping[str, object]:
        cfg = self.cfg
        if cfg.send:
            session.writer.write(cfg.send.encode())
            await session.writer.drain()
        if self._needle is None and not self._wants_body:
            return {}
        data = bytearray()
        while len(data) < cfg.max_bytes:
            chunk = await session.reader.read(min(_READ_CHUNK, cfg.max_bytes - len(data)))
            data += chunk
            if not chunk or self._needle is None or self._needle in data:
                break
        text = data.decode("utf-8", "replace")
        if self._needle is not None and self._needle not in data:
            got = repr(one_line(text, 60)) if data else "nothing"
            ended = "" if len(data) < cfg.max_bytes else f" in {cfg.max_bytes} bytes"
            wanted = one_line(cfg.expect or "", 60)
            raise SessionFailed(f"banner lacks {wanted!r}{ended} (got {got})")
        return {BODY: text}

    async def close_session(self, session: _TcpSession) -> None:
        session.writer.close()
        with contextlib.suppress(OSError):
            await session.writer.wait_closed()

    def abort_session(self, session: _TcpSession) -> None:
        session.writer.transport.abort()
