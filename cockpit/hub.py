"""Runs sources: one task each, polls never overlap, per-source timeout, backoff, freshness.

Probes of one endpoint take turns (see cockpit.sources.probes.turns): a probe that holds several
sessions at once runs alone, so the single probe never trips over its own twin. A turn is waited
for at most the waiting source's timeout (every holder is bounded by its own); then the poll
goes ahead anyway, so a hanging endpoint delays its probes by a round, never stalls them.

A source's failure is that source's problem: its status turns stale with the reason while its
last good reading is kept, and every other source goes on. Consumers never see one update per
datum: they wait on `wait_changed()` and read the newest snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from cockpit.model import Category, Freshness, Reading, SourceStatus
from cockpit.sources.base import Source
from cockpit.sources.probes.turns import EndpointTurns
from cockpit.term.textsafe import one_line
from cockpit.timeutil import utcnow

MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the hub knows at one moment. Sources keep their config order."""

    at: datetime
    version: int
    statuses: Mapping[str, SourceStatus]
    readings: Mapping[str, Reading]

    def of(self, category: Category) -> list[tuple[SourceStatus, Reading | None]]:
        return [
            (status, self.readings.get(name))
            for name, status in self.statuses.items()
            if status.category is category
        ]


def failure_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    text = one_line(str(exc), 160)
    return text or type(exc).__name__


def not_configured(source: Source) -> str:
    """Why a source cannot run here ("not configured: SENTRY_TOKEN is not set"), or ""."""
    reason = getattr(source, "not_configured", "")
    return reason if isinstance(reason, str) else ""


def _first_status(source: Source) -> SourceStatus:
    reason = not_configured(source)
    if reason:
        return SourceStatus(
            source.name, source.kind, source.category, Freshness.UNCONFIGURED, reason=reason
        )
    return SourceStatus(source.name, source.kind, source.category, Freshness.LOADING)


def endpoint_of(source: Source) -> str | None:
    """Where a source's sessions go ("127.0.0.1:21"), for sources that hold sessions open."""
    endpoint = getattr(source, "endpoint", None)
    if not_configured(source) or not isinstance(endpoint, str):
        return None
    return endpoint or None


def _holds_many(source: Source) -> bool:
    concurrency = getattr(source, "concurrency", 1)
    return isinstance(concurrency, int) and concurrency > 1


def _turns(sources: Sequence[Source]) -> dict[str, EndpointTurns]:
    """Turns by source name, for endpoints that a concurrent probe shares with another."""
    by_endpoint: dict[str, list[Source]] = {}
    for source in sources:
        endpoint = endpoint_of(source)
        if endpoint is not None:
            by_endpoint.setdefault(endpoint, []).append(source)
    turns: dict[str, EndpointTurns] = {}
    for group in by_endpoint.values():
        if len(group) > 1 and any(_holds_many(s) for s in group):
            shared = EndpointTurns()
            turns.update((s.name, shared) for s in group)
    return turns


def next_delay(source: Source, failures: int) -> float:
    """Seconds to wait after a poll: the interval, doubled per consecutive failure, capped."""
    if failures == 0:
        return source.interval
    return min(source.interval * 2.0 ** (failures - 1), max(MAX_BACKOFF, source.interval))


class Hub:
    def __init__(
        self,
        sources: Sequence[Source],
        *,
        clock: Callable[[], datetime] = utcnow,
        on_error: Callable[[Source, BaseException], None] | None = None,
        timeout_cap: float | None = None,
    ):
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        self.sources = tuple(sources)
        self._clock = clock
        self._on_error = on_error
        self._timeout_cap = timeout_cap  # `cockpit doctor --timeout`: no poll takes longer
        self._statuses: dict[str, SourceStatus] = {s.name: _first_status(s) for s in sources}
        self._readings: dict[str, Reading] = {}
        self._version = 0
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._turns = _turns(self.sources)

    # -- state ---------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self._clock(), self._version, dict(self._statuses), dict(self._readings))

    def _publish(self) -> None:
        self._version += 1
        self._changed.set()

    def _record_success(self, source: Source, reading: Reading) -> None:
        self._readings[source.name] = reading
        self._statuses[source.name] = SourceStatus(
            source.name, source.kind, source.category, Freshness.FRESH, updated_at=self._clock()
        )
        self._publish()

    def timeout_of(self, source: Source) -> float:
        cap = self._timeout_cap
        return source.timeout if cap is None else min(cap, source.timeout)

    def _record_failure(self, source: Source, exc: BaseException) -> int:
        if self._on_error is not None and not isinstance(exc, TimeoutError | OSError):
            self._on_error(source, exc)
        old = self._statuses[source.name]
        now = self._clock()
        self._statuses[source.name] = replace(
            old,
            freshness=Freshness.STALE,
            stale_since=old.stale_since if old.freshness is Freshness.STALE else now,
            reason=failure_reason(exc, self.timeout_of(source)),
            failures=old.failures + 1,
        )
        self._publish()
        return old.failures + 1

    # -- polling -------------------------------------------------------------------------------

    async def poll(self, source: Source) -> bool:
        """One bounded poll of one source; records the outcome. True when it succeeded."""
        if not_configured(source):
            return False  # nothing to poll: its status says what is missing
        turn = self._turns.get(source.name)
        if turn is None:
            return await self._poll(source)
        exclusive = _holds_many(source)
        got = False
        try:
            async with asyncio.timeout(self.timeout_of(source)):
                await turn.acquire(exclusive)
                got = True
        except TimeoutError:
            pass  # the holder overran its round: go ahead without the turn
        except Exception as exc:  # a bug in turn-taking must never stop a source's polls
            if self._on_error is not None:
                self._on_error(source, exc)
        try:
            return await self._poll(source)
        finally:
            if got:
                turn.release(exclusive)

    async def _poll(self, source: Source) -> bool:
        try:
            # Not wait_for: on Python 3.11 it drops a cancellation that arrives as the poll
            # completes, and the source would go on polling after aclose().
            async with asyncio.timeout(self.timeout_of(source)):
                reading = await source.poll()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._record_failure(source, exc)
            return False
        self._record_success(source, reading)
        return True

    async def _run_source(self, source: Source) -> None:
        if not_configured(source):
            return
        # The next poll is scheduled only after this one finished, so polls never overlap.
        while True:
            await self.poll(source)
            await asyncio.sleep(next_delay(source, self._statuses[source.name].failures))

    async def poll_all_once(self) -> Snapshot:
        """Every source once, concurrently: what `cockpit check` runs."""
        await asyncio.gather(*(self.poll(s) for s in self.sources))
        return self.snapshot()

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._run_source(s), name=f"source:{s.name}") for s in self.sources
        ]

    def poke(self) -> None:
        """Something besides the sources changed (the incident store answered): wake whoever
        waits in `wait_changed`, so the screen shows it now rather than at the next poll."""
        self._changed.set()

    async def wait_changed(self, timeout: float | None = None) -> bool:
        """Wait until something changed since the last call; False on timeout.

        Consumers render the newest snapshot after this returns, so a burst of source updates
        becomes one repaint.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    async def aclose(self) -> None:
        # A source's own code may swallow a cancellation (wait_for on Python 3.11 does, if the
        # cancel lands as its awaitable completes): cancel again until every task has ended.
        while pending := [task for task in self._tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.2)  # paces the cancels; nothing else
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._tasks = []
        for source in self.sources:
            with contextlib.suppress(Exception):
                await source.aclose()
