"""The round every probe kind runs: N sessions held open at the same moment.

A monitor that opens one connection at a time stays green while every second simultaneous
session fails (Files.com, 2024-08-02). So a round here is:

1. open `concurrency` sessions at once (connect, handshake, log in);
2. wait until every open has finished: all sessions that opened are now held open together;
3. run the check on each of them at once;
4. close them all.

A kind subclasses `SessionProbe` and supplies `open_session`, `check_session` and
`close_session` (and `abort_session` when a close can hang). Everything else lives here: the
deadline, error reasons, conditions, the summary ("3/4 sessions failed: 530 Too many sessions").

Latency: a session's latency is its open plus its check, timed with perf_counter: what a client
waits for to connect and get its answer, without the wait at the barrier or the close. A round's
`latency_ms` is the maximum over the sessions that passed (the worst-served client), and
[RESPONSE_TIME] in conditions is the session's own latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from cockpit.config.conditions import (
    CERTIFICATE_EXPIRATION,
    CONNECTED,
    RESPONSE_TIME,
    Condition,
    evaluate_all,
    parse_condition,
)
from cockpit.config.probes import ProbeBase
from cockpit.model import Category, ProbeResult
from cockpit.term.textsafe import one_line
from cockpit.timeutil import utcnow

S = TypeVar("S")

# The hub cancels a poll after `timeout`. Opening and checking must end by this share of it so a
# hanging server comes back as a failed result ("no response within 5s"), not a cancelled poll;
# closing gets most of the rest.
ROUND_SHARE = 0.85
CLOSE_SHARE = 0.1
# Probes polled on one schedule start their rounds together (200 probes at 10 s intervals all
# dial at once every 10 s), and one loop iteration full of their connects stalls the screen.
# Round starts are spaced a little apart instead; a round never waits more than this share of
# its timeout for its turn. Only starts are paced: a hanging round holds nobody else up.
ROUND_SPACING = 0.004
PACE_SHARE = 0.2
REASON_CHARS = 160


class SessionFailed(Exception):
    """A session failed for a reason worth showing as-is ("530 Login incorrect.")."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class _Slot(Generic[S]):
    session: S | None = None
    opened: bool = False
    hung: bool = False  # ran out of time: dropped rather than closed politely
    ok: bool = False
    latency_ms: float = 0.0
    reason: str = ""
    cert_left_ms: float | None = None  # time until the peer's certificate expires


class SessionProbe(ABC, Generic[S]):
    """Base of every probe source: the Source protocol, with the round implemented once."""

    kind: str
    category = Category.PROBE

    def __init__(self, cfg: ProbeBase, target: str):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.concurrency = cfg.concurrency
        self._target = target
        self.conditions: tuple[Condition, ...] = tuple(parse_condition(c) for c in cfg.conditions)

    @property
    def target(self) -> str:
        return self._target

    @property
    def endpoint(self) -> str:
        """The server this probe's sessions reach, "host:port": probes of one endpoint take
        turns (see cockpit.hub), whatever their kind or user."""
        host, port = self.address()
        return f"{host.lower()}:{port}"

    def address(self) -> tuple[str, int]:
        """(host, port) the sessions connect to; kinds with a `host` and `port` need nothing."""
        return str(getattr(self.cfg, "host", "")), int(getattr(self.cfg, "port", 0))

    # -- what a kind supplies ------------------------------------------------------------------

    async def prepare(self) -> None:
        """Once before each round, untimed: build what sessions share (TLS context, SSH
        options) so a first round's latency is not that of loading a trust store."""

    @abstractmethod
    async def open_session(self) -> S:
        """Connect, handshake, log in. Cleans up after itself if it fails or is cancelled."""

    @abstractmethod
    async def check_session(self, session: S) -> Mapping[str, object]:
        """The check on an open session; returns the placeholder values it observed.

        Raises SessionFailed (or an OSError, TimeoutError, ...) when the check fails.
        """

    @abstractmethod
    async def close_session(self, session: S) -> None:
        """A polite close (QUIT, channel close)."""

    def abort_session(self, session: S) -> None:
        """Drop the session at once; used when it hung or a polite close took too long."""

    def reason(self, exc: BaseException) -> str:
        """Why a session failed, for the result's error; kinds add their own exceptions."""
        return os_reason(exc)

    async def aclose(self) -> None:
        """Release what the probe keeps between rounds (pools, contexts)."""

    # -- the round -----------------------------------------------------------------------------

    async def poll(self) -> ProbeResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout * ROUND_SHARE
        await _pace(loop, self.timeout * PACE_SHARE)
        slots: list[_Slot[S]] = [_Slot() for _ in range(self.concurrency)]
        try:
            async with asyncio.timeout_at(deadline):
                await self.prepare()
        except Exception as exc:
            reason = self._reason_of(exc)
            for slot in slots:
                slot.reason = reason
            return self._round_result(slots)
        try:
            await asyncio.gather(*(self._open_slot(slot, deadline) for slot in slots))
            # Every session that could open is open now, all at the same moment.
            await asyncio.gather(
                *(self._check_slot(slot, deadline) for slot in slots if slot.opened)
            )
        finally:
            await self._close_slots(slots, started + self.timeout * (ROUND_SHARE + CLOSE_SHARE))
        return self._round_result(slots)

    async def _open_slot(self, slot: _Slot[S], deadline: float) -> None:
        began = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                slot.session = await self.open_session()
        except Exception as exc:
            slot.reason = self._reason_of(exc)
            return
        slot.opened = True
        slot.latency_ms = (time.perf_counter() - began) * 1000.0

    async def _check_slot(self, slot: _Slot[S], deadline: float) -> None:
        assert slot.session is not None
        began = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                values = await self.check_session(slot.session)
        except Exception as exc:
            slot.hung = isinstance(exc, TimeoutError)
            slot.reason = self._reason_of(exc)
            return
        slot.latency_ms += (time.perf_counter() - began) * 1000.0
        observed = {CONNECTED: True, RESPONSE_TIME: slot.latency_ms, **values}
        left = values.get(CERTIFICATE_EXPIRATION)
        slot.cert_left_ms = float(left) if isinstance(left, int | float) else None
        slot.reason = one_line(evaluate_all(self.conditions, observed), REASON_CHARS)
        slot.ok = not slot.reason

    def _reason_of(self, exc: Exception) -> str:
        if isinstance(exc, SessionFailed):
            return one_line(exc.reason, REASON_CHARS) or "failed"
        if isinstance(exc, TimeoutError):
            return f"no response within {self.timeout:g}s"
        return one_line(self.reason(exc), REASON_CHARS) or type(exc).__name__

    async def _close_slots(self, slots: list[_Slot[S]], deadline: float) -> None:
        # A session that hung is dropped; a polite close of it would hang as well.
        for slot in slots:
            if slot.hung and slot.session is not None:
                self._drop(slot.session)
        polite = [s.session for s in slots if s.opened and not s.hung and s.session is not None]
        if not polite:
            return
        pending = [asyncio.ensure_future(self.close_session(session)) for session in polite]
        cancelled = False
        try:
            async with asyncio.timeout_at(max(deadline, asyncio.get_running_loop().time())):
                await asyncio.gather(*pending, return_exceptions=True)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            cancelled = True
        late = [(t, s) for t, s in zip(pending, polite, strict=True) if not t.done()]
        for task, session in late:
            task.cancel()
            self._drop(session)
        if late:
            # Let the cancelled closes unwind, so no task outlives the round.
            await asyncio.wait([t for t, _ in late], timeout=1.0)
        if cancelled:
            raise asyncio.CancelledError

    def _drop(self, session: S) -> None:
        with contextlib.suppress(Exception):
            self.abort_session(session)

    def _round_result(self, slots: list[_Slot[S]]) -> ProbeResult:
        good = [s for s in slots if s.ok]
        return ProbeResult(
            name=self.name,
            kind=self.kind,
            target=self._target,
            concurrency=len(slots),
            sessions_ok=len(good),
            ok=len(good) == len(slots),
            latency_ms=max((s.latency_ms for s in good), default=None),
            error=summary([s.reason for s in slots if not s.ok], len(slots)),
            at=utcnow(),
            detail=_certificate_detail([s.cert_left_ms for s in good]),
        )


def _certificate_detail(left_ms: list[float | None]) -> str:
    known = [ms for ms in left_ms if ms is not None]
    if not known:
        return ""
    days = min(known) / 86_400_000
    return (
        f"certificate valid {days:.0f} more days"
        if days >= 2
        else (f"certificate valid {min(known) / 3_600_000:.0f} more hours")
    )


_next_start: dict[asyncio.AbstractEventLoop, float] = {}


async def _pace(loop: asyncio.AbstractEventLoop, longest: float) -> None:
    """Wait for this round's turn: at most one round starts per ROUND_SPACING."""
    now = loop.time()
    turn = max(now, _next_start.get(loop, now))
    if len(_next_start) > 8:  # loops of finished asyncio.run() calls (tests, `cockpit check`)
        _next_start.clear()
    _next_start[loop] = turn + ROUND_SPACING
    wait = min(turn - now, longest)
    if wait > 0:
        await asyncio.sleep(wait)


def summary(failures: list[str], sessions: int) -> str:
    """ "3/4 sessions failed: 530 Too many sessions" (the two commonest reasons), or the one
    reason of a single-session probe; "" when nothing failed."""
    if not failures:
        return ""
    reasons = ", ".join(reason for reason, _ in Counter(failures).most_common(2))
    if sessions == 1:
        return reasons
    return f"{len(failures)}/{sessions} sessions failed: {reasons}"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def os_reason(exc: BaseException) -> str:
    """Network and TLS failures in words an on-call engineer reads at a glance."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "connection reset"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate rejected: {one_line(cause.verify_message or '', 80)}"
        if isinstance(cause, ssl.SSLEOFError):
            return "TLS handshake cut off by the server"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {one_line(cause.reason or str(cause), 80)}"
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, asyncio.IncompleteReadError | EOFError):
            return "connection closed by the server"
    return one_line(str(exc), 100) or type(exc).__name__
