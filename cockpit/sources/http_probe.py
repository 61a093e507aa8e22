"""HTTP probe: N connections held open together, then one request on each.

Each session dials its own connection (TCP, and TLS for https) as a new client would; only when
all N are connected does any of them send its request (see cockpit.sources.sessions). That needs
control over when a connection opens, which httpx's pool does not give, so this module speaks
through httpcore (httpx's transport layer) one connection at a time. The WebDAV probe reuses it.
"""

from __future__ import annotations

import base64
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpcore

from cockpit.conditions import BODY, STATUS
from cockpit.config.probes import HttpProbeConfig
from cockpit.sources.sessions import SessionFailed, SessionProbe, os_reason
from cockpit.sources.tls_probe import client_context, expiry_values, load_x509
from cockpit.textsafe import one_line, redact_url

_READ_CHUNK = 65_536
USER_AGENT = b"oncall-cockpit-probe"


@dataclass(slots=True)
class HttpSession:
    connection: httpcore.AsyncHTTP11Connection
    stream: httpcore.AsyncNetworkStream


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes  # at most the bounded amount that was read
    found: bool  # the needle, when one was asked for, was in the body


class HttpConnector:
    """Dials one connection per session to the origin of `url`, and runs requests on it."""

    def __init__(self, url: str, verify_tls: bool, ca_file: Path | None = None):
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.origin = httpcore.Origin(self.scheme.encode(), self.host.encode(), self.port)
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.authorization: bytes | None = None
        if parts.username is not None:
            self.authorization = basic_auth(unquote(parts.username), unquote(parts.password or ""))
        self._backend = httpcore.AnyIOBackend()
        self._context: ssl.SSLContext | None = None

    def url(self, url: str) -> str:
        """The URL as sent: without user:password, which travel in the Authorization header."""
        return redact_url(url)

    def prepare(self) -> None:
        if self.scheme == "https" and self._context is None:
            # Built once per probe: loading the trust store costs milliseconds.
            self._context = client_context(self.verify_tls, self.ca_file)
            load_x509()

    async def open(self, timeout: float) -> HttpSession:
        stream = await self._backend.connect_tcp(self.host, self.port, timeout=timeout)
        try:
            if self.scheme == "https":
                assert self._context is not None, "prepare() first"
                stream = await stream.start_tls(
                    self._context, server_hostname=self.host, timeout=timeout
                )
        except BaseException:
            await _quietly_close(stream)
            raise
        return HttpSession(httpcore.AsyncHTTP11Connection(self.origin, stream), stream)

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
        shown = self.url(url)
        sent = [
            (b"Host", urlsplit(shown).netloc.encode()),
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
        request = httpcore.Request(
            method.encode(), shown.encode(), headers=sent, content=content or None
        )
        response = await session.connection.handle_async_request(request)
        body = bytearray()
        found = needle is None
        try:
            async for chunk in response.aiter_stream():
                body += chunk[: max_bytes - len(body)]
                if not found and needle is not None:
                    found = needle in body
                if len(body) >= max_bytes or (found and needle is not None and not whole):
                    break
        finally:
            await response.aclose()
        return Reply(response.status, bytes(body), found)

    async def close(self, session: HttpSession) -> None:
        await session.connection.aclose()


async def _quietly_close(stream: httpcore.AsyncNetworkStream) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()


def basic_auth(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def http_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpcore.ConnectTimeout):
        return f"connect timeout after {timeout:g}s"
    if isinstance(exc, httpcore.TimeoutException):
        return f"no response within {timeout:g}s"
    if isinstance(exc, httpcore.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text or "disconnected" in text.lower():
            return "server closed the connection without a response"
        return f"protocol error: {one_line(text, 80)}"
    if isinstance(exc, httpcore.UnsupportedProtocol):
        return "unsupported URL scheme"
    text = os_reason(exc)
    lowered = text.lower()
    if "refused" in lowered or "all connection attempts failed" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "DNS lookup failed"
    if isinstance(exc, httpcore.ConnectError) and not text.startswith(("TLS", "connection")):
        return f"connect failed: {text}"
    return text


class HttpProbe(SessionProbe[HttpSession]):
    """Open = TCP connect (+ TLS handshake); check = one request and a bounded body read."""

    kind = "http"

    def __init__(self, cfg: HttpProbeConfig):
        super().__init__(cfg, redact_url(cfg.url))
        self.cfg: HttpProbeConfig = cfg
        self._http = HttpConnector(cfg.url, cfg.verify_tls, cfg.ca_file)
        self._needle = cfg.body_contains.encode() if cfg.body_contains else None
        self._status_by_condition = cfg.uses(STATUS)
        self._wants_body = cfg.uses(BODY)

    async def prepare(self) -> None:
        self._http.prepare()

    async def open_session(self) -> HttpSession:
        return await self._http.open(self.cfg.timeout)

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
        values.update(expiry_values(session.stream.get_extra_info("ssl_object")))
        return values

    async def close_session(self, session: HttpSession) -> None:
        await self._http.close(session)

    def reason(self, exc: BaseException) -> str:
        return http_reason(exc, self.cfg.timeout)
