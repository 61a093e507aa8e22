"""HTTP probe that opens N sessions at the same moment, the way real clients do.

A probe that opens one connection at a time stays green while every second simultaneous
session fails (Files.com, 2024-08-02). So one round here holds `concurrency` requests in flight
together, each on its own fresh connection, and the round is only ok if all of them are.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from cockpit.config import HttpProbeConfig
from cockpit.model import Category, ProbeResult
from cockpit.textsafe import one_line, redact_url
from cockpit.timeutil import utcnow

# The hub cancels a poll after `timeout`; finishing the round a little earlier lets a hanging
# endpoint come back as a failed result ("no response within 5s") instead of a cancelled poll.
_ROUND_SHARE = 0.9
_READ_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class _Session:
    ok: bool
    latency_ms: float | None
    reason: str


class HttpProbe:
    kind = "http"
    category = Category.PROBE

    def __init__(self, cfg: HttpProbeConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.concurrency = cfg.concurrency
        self._url = redact_url(cfg.url)
        self._needle = cfg.body_contains.encode() if cfg.body_contains else None
        self._client: httpx.AsyncClient | None = None

    @property
    def target(self) -> str:
        return self._url

    def _http(self) -> httpx.AsyncClient:
        # One client per probe keeps the TLS context (costly to build) across rounds. No idle
        # connection is kept (max_keepalive_connections=0), so every session dials a new
        # connection as a new client would, and max_connections lets all N be open together.
        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=self.cfg.verify_tls,
                timeout=httpx.Timeout(self.cfg.timeout),
                limits=httpx.Limits(
                    max_connections=self.cfg.concurrency, max_keepalive_connections=0
                ),
                # identity: a compressed body could expand far past max_body_bytes in one chunk.
                headers={"User-Agent": "oncall-cockpit-probe", "Accept-Encoding": "identity"},
                follow_redirects=False,
            )
        return self._client

    async def poll(self) -> ProbeResult:
        client = self._http()
        budget = self.cfg.timeout * _ROUND_SHARE
        sessions = await asyncio.gather(
            *(self._session(client, budget) for _ in range(self.cfg.concurrency))
        )
        good = [s for s in sessions if s.ok]
        latencies = [s.latency_ms for s in good if s.latency_ms is not None]
        return ProbeResult(
            name=self.name,
            kind=self.kind,
            target=self._url,
            concurrency=self.cfg.concurrency,
            sessions_ok=len(good),
            ok=len(good) == len(sessions),
            latency_ms=max(latencies) if latencies else None,
            error=_summary(sessions),
            at=utcnow(),
        )

    async def _session(self, client: httpx.AsyncClient, budget: float) -> _Session:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                reason = await self._exchange(client)
        except TimeoutError:
            return _Session(False, None, f"no response within {_seconds(self.cfg.timeout)}")
        except httpx.HTTPError as exc:
            return _Session(False, None, _transport_reason(exc, self.cfg.timeout))
        except httpx.InvalidURL:
            return _Session(False, None, "invalid URL")
        except (OSError, ssl.SSLError) as exc:
            return _Session(False, None, _os_reason(exc))
        latency = (time.perf_counter() - started) * 1000.0
        return _Session(not reason, latency, reason)

    async def _exchange(self, client: httpx.AsyncClient) -> str:
        """One request on its own connection; "" when it passes, else why not."""
        cfg = self.cfg
        async with client.stream(cfg.method, cfg.url, headers=cfg.headers) as response:
            if response.status_code != cfg.expect_status:
                return f"HTTP {response.status_code}"
            # Read at most max_body_bytes, whether or not a needle is wanted: the latency then
            # covers the body a client would wait for, and a huge body costs a bounded read.
            found = self._needle is None
            seen = 0
            tail = b""
            async for chunk in response.aiter_bytes(_READ_CHUNK):
                chunk = chunk[: cfg.max_body_bytes - seen]
                seen += len(chunk)
                if not found and self._needle is not None:
                    window = tail + chunk
                    found = self._needle in window
                    tail = window[-(len(self._needle) - 1) :] if len(self._needle) > 1 else b""
                if seen >= cfg.max_body_bytes or (found and self._needle is not None):
                    break
            if not found:
                return f"body lacks {one_line(cfg.body_contains or '', 60)!r}"
        return ""

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _summary(sessions: list[_Session]) -> str:
    failed = [s.reason for s in sessions if not s.ok]
    if not failed:
        return ""
    reasons = ", ".join(reason for reason, _ in Counter(failed).most_common(2))
    if len(sessions) == 1:
        return reasons
    return f"{len(failed)}/{len(sessions)} sessions failed: {reasons}"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _os_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {one_line(cause.verify_message or '', 80)}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {one_line(cause.reason or str(cause), 80)}"
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
    return one_line(str(exc), 100) or type(exc).__name__


def _transport_reason(exc: httpx.HTTPError, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timeout after {_seconds(timeout)}"
    if isinstance(exc, httpx.TimeoutException):
        return f"no response within {_seconds(timeout)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "server closed the connection without a response"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL scheme"
    text = _os_reason(exc)
    lowered = text.lower()
    if "refused" in lowered or "all connection attempts failed" in lowered:
        return "connection refused"
    if "certificate" in lowered:
        return "TLS certificate rejected"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "DNS lookup failed"
    if isinstance(exc, httpx.ConnectError):
        return f"connect failed: {text}"
    return text
