"""Hub scheduling: one task per source, no overlap, timeouts, backoff, freshness, coalescing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cockpit.hub import Hub, failure_reason, next_delay
from cockpit.model import Category, Deploys, Freshness, Reading
from cockpit.sources.base import SourceError


@dataclass
class ScriptedSource:
    """A source whose polls do what the test says: succeed, fail, or hang."""

    name: str
    interval: float = 0.01
    timeout: float = 1.0
    kind: str = "scripted"
    category: Category = Category.DEPLOYS
    mode: str = "ok"
    delay: float = 0.0
    polls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    closed: bool = False
    polled: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    swallowed: bool = False

    @property
    def target(self) -> str:
        return f"scripted:{self.name}"

    async def poll(self) -> Reading:
        self.polls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.mode == "hang":
                await asyncio.Event().wait()
            if self.mode == "deaf" and not self.swallowed:
                # Swallows one cancellation, as wait_for on Python 3.11 can when the cancel
                # lands just as what it waits for completes.
                self.waiting.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.swallowed = True
                    return Deploys(self.name, ())
            if self.mode == "deaf":
                await asyncio.Event().wait()
            await asyncio.sleep(self.delay)
            if self.mode == "fail":
                raise SourceError("connection refused")
            return Deploys(self.name, ())
        finally:
            self.in_flight -= 1
            self.polled.set()

    async def aclose(self) -> None:
        self.closed = True


async def wait_for_polls(source: ScriptedSource, count: int) -> None:
    while source.polls < count:
        source.polled.clear()
        await asyncio.wait_for(source.polled.wait(), 5)


async def test_polls_of_one_source_never_overlap() -> None:
    slow = ScriptedSource("slow", interval=0.001, delay=0.02)
    hub = Hub([slow])
    hub.start()
    await wait_for_polls(slow, 5)
    await hub.aclose()
    assert slow.max_in_flight == 1
    assert slow.closed


async def test_hanging_source_goes_stale_and_others_stay_fresh() -> None:
    hanging = ScriptedSource("hanging", mode="hang", timeout=0.05)
    healthy = ScriptedSource("healthy")
    hub = Hub([hanging, healthy])
    hub.start()
    try:
        while hub.snapshot().statuses["hanging"].freshness is not Freshness.STALE:
            await hub.wait_changed(timeout=5)
        await wait_for_polls(healthy, 5)
        snap = hub.snapshot()
        stale = snap.statuses["hanging"]
        assert stale.reason == "timed out after 0.05s"
        assert stale.stale_since is not None
        assert snap.statuses["healthy"].freshness is Freshness.FRESH
        assert "healthy" in snap.readings and "hanging" not in snap.readings
    finally:
        await hub.aclose()


async def test_failure_keeps_last_good_reading_and_stale_since_the_first_failure() -> None:
    flaky = ScriptedSource("flaky", interval=0.001)
    hub = Hub([flaky])
    assert await hub.poll(flaky)
    flaky.mode = "fail"
    assert not await hub.poll(flaky)
    first = hub.snapshot().statuses["flaky"]
    assert not await hub.poll(flaky)
    second = hub.snapshot()
    assert second.statuses["flaky"].stale_since == first.stale_since
    assert second.statuses["flaky"].failures == 2
    assert second.statuses["flaky"].reason == "connection refused"
    assert isinstance(second.readings["flaky"], Deploys)
    flaky.mode = "ok"
    assert await hub.poll(flaky)
    back = hub.snapshot().statuses["flaky"]
    assert back.freshness is Freshness.FRESH and back.failures == 0 and back.stale_since is None


def test_backoff_doubles_and_is_capped() -> None:
    source = ScriptedSource("s", interval=5)
    assert [next_delay(source, n) for n in range(6)] == [5, 5, 10, 20, 40, 60]
    assert next_delay(source, 30) == 60
    slow = ScriptedSource("slow", interval=300)
    assert next_delay(slow, 3) == 300


def test_failure_reason_is_inert_and_short() -> None:
    assert failure_reason(TimeoutError(), 2.5) == "timed out after 2.5s"
    assert (
        failure_reason(SourceError("bad \x1b[31mred\x1b[0m\nline"), 1) == "bad \ufffdred\ufffd line"
    )
    assert failure_reason(ValueError(), 1) == "ValueError"


async def test_a_burst_of_updates_wakes_a_consumer_once() -> None:
    sources = [ScriptedSource(f"s{i}") for i in range(20)]
    hub = Hub(sources)
    await hub.poll_all_once()
    assert await hub.wait_changed(timeout=1)  # one wake for twenty updates
    assert not await hub.wait_changed(timeout=0.01)
    assert hub.snapshot().version == 20


async def test_unexpected_errors_are_reported_but_contained() -> None:
    seen: list[str] = []

    @dataclass
    class Broken(ScriptedSource):
        async def poll(self) -> Reading:
            raise KeyError("boom")

    broken = Broken("broken")
    hub = Hub([broken], on_error=lambda source, exc: seen.append(source.name))
    assert not await hub.poll(broken)
    assert seen == ["broken"]
    assert hub.snapshot().statuses["broken"].reason == "'boom'"


async def test_close_ends_a_source_that_swallowed_the_cancellation() -> None:
    deaf, fine = ScriptedSource("deaf", mode="deaf"), ScriptedSource("fine")
    hub = Hub([deaf, fine])
    hub.start()
    await wait_for_polls(fine, 1)
    await asyncio.wait_for(deaf.waiting.wait(), 5)
    closing = asyncio.create_task(hub.aclose())
    done, _ = await asyncio.wait({closing}, timeout=10)
    assert closing in done, "aclose waits forever for a source that swallowed its cancel"
    assert deaf.swallowed and deaf.closed and fine.closed
    polls = deaf.polls
    await asyncio.sleep(0.05)
    assert deaf.polls == polls  # and it polls no more
