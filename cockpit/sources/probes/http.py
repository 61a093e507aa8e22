"""HTTP probe: N connections held open together, then one request on each.

Each session dials its own connection (TCP, and TLS for https) as a new client would; only when
all N are connected does any of them send its request (see cockpit.sources.probes.sessions).
That needs control over when a connection opens, which httpx's pool does not give. So a session
is an asyncio connection with h11 (the HTTP/1.1 parser under httpx) on top: it also costs about
a third less CPU than going through httpcore and anyio (bench/probes.py: 200 probes, 7.2 % of a
core before, 4.7 % after), which counts with hundreds of probes on a bastion. The WebDAV probe
reuses it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import h11

from cockpit.config.conditions import BODY, STATUS
from cockpit.config.probes import HttpProbeConfig
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe, os_reason
from cockpit.sources.probes.tls import expiry_values, tls_context
from cockpit.term.textsafe import one_line, redact_url, register_secret

_READ_CHUNK = 65_536
USER_AGENT = b"oncall-cockpit-probe"


@dataclass(slots=True)
class HttpSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection
    reusable: bool = True  # False once a reply was cut short: the connection is mid-message

    def ssl_object(self) -> ssl.SSLObject | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes  # at most the bounded amount that was read
    found: bool  # the needle, when one was asked for, was in the body


class HttpConnector:
    """Dials one connection per session to the origin of `url`, and runs requests on it."""

    def __init__(self, url: str, verify_tls: bool, ca_file: Path | None = None):
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.authorization: bytes | None = None
        self._context: ssl.SSLContext | None = None

    async def prepare(self) -> None:
        if self.tls:
            self._context = await tls_context(self.verify_tls, self.ca_file)

    async def open(self) -> HttpSession:
        if self.tls and self._context is None:
            await self.prepare()
        reader, writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self._context if self.tls else None,
            server_hostname=self.host if self.tls else None,
            limit=_READ_CHUNK,
        )
        return HttpSession(reader, writer, h11.Connection(our_role=h11.CLIENT))

    async def request(
        self,
        session: HttpSession,
        method: str,
        url: str,
        headers: Mapping[str, str],
        max_bytes: int,
        needle: bytes | None = None,
        content: bytes = b"",
        whole: bool = False,
    ) -> Reply:
        """Send one request; read at most `max_bytes` of the body, so a huge or endless body
        costs a bounded read. Stops once the needle is seen, unless the `whole` (bounded) body
        is wanted."""
        if not session.reusable:
            raise SessionFailed("connection unusable after a reply that was cut short")
        parts = urlsplit(redact_url(url))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = [
            (b"Host", parts.netloc.encode()),
            (b"User-Agent", USER_AGENT),
            # identity: a compressed body could expand far past max_bytes in one chunk.
            (b"Accept-Encoding", b"identity"),
        ]
        if content:
            sent.append((b"Content-Length", str(len(content)).encode()))
        if self.authorization is not None:
            sent.append((b"Authorization", self.authorization))
        given = {k.lower() for k in headers}
        sent = [(k, v) for k, v in sent if k.decode().lower() not in given]
        sent += [(k.encode(), v.encode()) for k, v in headers.items()]
        http = session.http
        out = http.send(h11.Request(method=method, target=target, headers=sent)) or b""
        if content:
            out += http.send(h11.Data(data=content)) or b""
        out += http.send(h11.EndOfMessage()) or b""
        session.writer.write(out)
        await session.writer.drain()
        return await self._reply(session, max_bytes, needle, whole)

    async def _reply(
        self, session: HttpSession, max_bytes: int, needle: bytes | None, whole: bool
    ) -> Reply:
        http = session.http
        status = 0
        body = bytearray()
        found = needle is None
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await session.reader.read(_READ_CHUNK))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data[: max_bytes - len(body)]
                if not found and needle is not None:
                    found = needle in body
                if len(body) >= max_bytes or (found and needle is not None and not whole):
                    session.reusable = False
                    break
            elif isinstance(event, h11.EndOfMessage):
                if http.our_state is h11.DONE and http.their_state is h11.DONE:
                    http.start_next_cycle()
                else:
                    session.reusable = False
                break
            elif isinstance(event, h11.ConnectionClosed):
                session.reusable = False
                if not status:
                    raise SessionFailed("server closed the connection without a response")
                break
        return Reply(status, bytes(body), found)

    async def close(self, session: HttpSession) -> None:
        session.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await session.writer.wait_closed()

    def abort(self, session: HttpSession) -> None:
        session.writer.transport.abort()


def basic_auth(user: str, password: str) -> bytes:
    credential = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    # A server echoing the header back must not show the password, even encoded.
    register_secret(password)
    register_secret(credential)
    return f"Basic {credential}".encode()


def http_reason(exc: BaseException) -> str:
    if isinstance(exc, h11.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text or "peer closed" in text.lower():
            return "server closed the connection without a complete response"
        return f"protocol error: {one_line(text, 80)}"
    return os_reason(exc)


class HttpProbe(SessionProbe[HttpSession]):
    """Open = TCP connect (+ TLS handshake); check = one request and a bounded body read."""

    kind = "http"

    def __init__(self, cfg: HttpProbeConfig):
        super().__init__(cfg, redact_url(cfg.url))
        self.cfg: HttpProbeConfig = cfg
        self._http = HttpConnector(cfg.url, cfg.verify_tls, cfg.ca_file)
        if cfg.user is not None:
            password = cfg.password.reveal() if cfg.password is not None else ""
            self._http.authorization = basic_auth(cfg.user, password)
        elif cfg.token is not None:
            self._http.authorization = b"Bearer " + cfg.token.reveal().encode()
        self._needle = cfg.body_contains.encode() if cfg.body_contains else None
        self._status_by_condition = cfg.uses(STATUS)
        self._wants_body = cfg.uses(BODY)

    def address(self) -> tuple[str, int]:
        return self._http.host, self._http.port

    async def prepare(self) -> None:
        await self._http.prepare()

    async def open_session(self) -> HttpSession:
        return await self._http.open()

    async def check_session(self, session: HttpSession) -> Mapping[str, object]:
        cfg = self.cfg
        reply = await self._http.request(
            session,
            cfg.method,
            cfg.url,
            cfg.headers,
            cfg.max_body_bytes,
            self._needle,
            whole=self._wants_body,
        )
        if not self._status_by_condition and reply.status != cfg.expect_status:
            raise SessionFailed(f"HTTP {reply.status}")
        if not reply.found:
            raise SessionFailed(f"body lacks {one_line(cfg.body_contains or '', 60)!r}")
        values: dict[str, object] = {STATUS: reply.status}
        if self._wants_body:
            values[BODY] = reply.body.decode("utf-8", "replace")
        values.update(expiry_values(session.ssl_object()))
        return values

    async def close_session(self, session: HttpSession) -> None:
        await self._http.close(session)

    def abort_session(self, session: HttpSession) -> None:
        self._http.abort(session)

    def reason(self, exc: BaseException) -> str:
        return http_reason(exc)
