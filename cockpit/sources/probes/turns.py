"""Turns on one endpoint: a probe that holds several sessions at once runs alone; probes of one
session each may run together.

A server's per-IP or per-user session limit (vsftpd `max_per_ip`, sshd `MaxStartups`, a proxy's
`limit_conn`) must only ever see one concurrent probe's sessions: a single-session probe opened
beside its four-session twin is refused because of the twin, and the cockpit would report a
failure it caused itself. So on one endpoint, a concurrent round is exclusive and single-session
rounds share. Turns are granted in arrival order (a concurrent probe is never starved by a
stream of single ones), and after a round ends the next turn waits a moment: servers let a
closed session go a little after the client has (vsftpd counts it until the session's process
is reaped).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

GAP = 0.03  # seconds between the end of one turn and the start of another kind of turn


@dataclass
class _Waiter:
    exclusive: bool
    granted: asyncio.Future[None]


@dataclass
class EndpointTurns:
    """A fair readers-writer turn with a gap between holders of different kinds."""

    gap: float = GAP
    _shared: int = 0
    _exclusive: bool = False
    _idle_since: float = float("-inf")
    _queue: deque[_Waiter] = field(default_factory=deque)
    _wake: asyncio.TimerHandle | None = None

    async def acquire(self, exclusive: bool) -> None:
        loop = asyncio.get_running_loop()
        if not self._queue and self._fits(exclusive) and self._settled(loop):
            self._grant(exclusive)
            return
        waiter = _Waiter(exclusive, loop.create_future())
        self._queue.append(waiter)
        self._schedule(loop)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.release(exclusive)  # granted just as the wait was given up
            else:
                # A release may have dropped the cancelled waiter already (_schedule does).
                if waiter in self._queue:
                    self._queue.remove(waiter)
                self._schedule(loop)
            raise

    def release(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = False
        else:
            self._shared -= 1
        loop = asyncio.get_running_loop()
        if self._idle():
            self._idle_since = loop.time()
        self._schedule(loop)

    # -- granting ------------------------------------------------------------------------------

    def _idle(self) -> bool:
        return not self._exclusive and self._shared == 0

    def _fits(self, exclusive: bool) -> bool:
        if self._exclusive:
            return False
        return self._shared == 0 if exclusive else True

    def _settled(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Joining a shared turn under way needs no gap; starting a new turn does."""
        return not self._idle() or loop.time() >= self._idle_since + self.gap

    def _grant(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = True
        else:
            self._shared += 1

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        while self._queue:
            head = self._queue[0]
            if head.granted.done():  # its waiter was cancelled
                self._queue.popleft()
                continue
            if not self._fits(head.exclusive):
                return  # a release will come back here
            if not self._settled(loop):
                self._wake = loop.call_at(self._idle_since + self.gap, self._schedule, loop)
                return
            self._queue.popleft()
            self._grant(head.exclusive)
            head.granted.set_result(None)
