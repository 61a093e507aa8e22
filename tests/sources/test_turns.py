"""Turns on one endpoint, through the hub: concurrent probes run alone, single-session ones
together, in arrival order, with a gap between turns, and a hanging holder delays the others by
one timeout at most."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cockpit.hub import Hub
from cockpit.model import Category, Deploys, Reading
from cockpit.sources.probes.turns import EndpointTurns


@dataclass
class EndpointSource:
    name: str
    endpoint: str | None = "127.0.0.1:21"
    concurrency: int = 1
    delay: float = 0.02
    hang: bool = False
    interval: float = 0.01
    timeout: float = 1.0
    kind: str = "scripted"
    category: Category = Category.PROBE
    log: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.name

    async def poll(self) -> Reading:
        loop = asyncio.get_running_loop()
        self.log.append(("start", self.name, loop.time()))
        try:
            if self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(self.delay)
        finally:
            self.log.append(("end", self.name, loop.time()))
        return Deploys(self.name, ())

    async def aclose(self) -> None:
        pass


def overlaps(log: list[tuple[str, str, float]]) -> set[frozenset[str]]:
    running: set[str] = set()
    seen: set[frozenset[str]] = set()
    for what, name, _ in sorted(log, key=lambda e: e[2]):
        if what == "start":
            seen.update(frozenset((name, other)) for other in running)
            running.add(name)
        else:
            running.discard(name)
    return seen


async def test_a_concurrent_probe_runs_alone_and_single_ones_together() -> None:
    log: list[tuple[str, str, float]] = []
    single_a = EndpointSource("a", log=log)
    single_b = EndpointSource("b", log=log)
    many = EndpointSource("a-x4", concurrency=4, log=log)
    elsewhere = EndpointSource("other", endpoint="127.0.0.1:22", concurrency=4, log=log)
    hub = Hub([single_a, single_b, many, elsewhere])
    for _ in range(3):
        await asyncio.gather(*(hub.poll(s) for s in hub.sources))
    met = overlaps(log)
    assert frozenset(("a", "b")) in met  # single sessions share a turn
    assert not any("a-x4" in pair for pair in met if "other" not in pair)
    assert frozenset(("a", "other")) in met  # another endpoint's probe is not held up


async def test_turns_are_granted_in_arrival_order_with_a_gap() -> None:
    turns = EndpointTurns(gap=0.05)
    order: list[str] = []
    loop = asyncio.get_running_loop()

    async def take(name: str, exclusive: bool, hold: float) -> None:
        await turns.acquire(exclusive)
        order.append(f"{name}@{loop.time():.3f}")
        await asyncio.sleep(hold)
        turns.release(exclusive)

    first = asyncio.create_task(take("x4", True, 0.02))
    await asyncio.sleep(0)
    rest = [
        asyncio.create_task(take("single", False, 0.01)),
        asyncio.create_task(take("x8", True, 0.01)),
    ]
    began = loop.time()
    await asyncio.gather(first, *rest)
    names = [entry.split("@")[0] for entry in order]
    assert names == ["x4", "single", "x8"]
    starts = [float(entry.split("@")[1]) for entry in order]
    assert starts[1] - began >= 0.02 + 0.05 - 0.005  # the holder's round, then the gap
    assert starts[2] - starts[1] >= 0.01 + 0.05 - 0.005


async def test_a_hanging_twin_delays_the_other_by_one_timeout_at_most() -> None:
    log: list[tuple[str, str, float]] = []
    stuck = EndpointSource("a-x4", concurrency=4, hang=True, timeout=1.0, log=log)
    single = EndpointSource("a", timeout=0.2, log=log)
    hub = Hub([stuck, single])
    loop = asyncio.get_running_loop()
    began = loop.time()
    hanging = asyncio.create_task(hub.poll(stuck))
    await asyncio.sleep(0.01)
    assert await hub.poll(single)  # it waited 0.2 s for its turn, then went ahead
    assert 0.2 <= loop.time() - began < 0.9  # not the 1 s the stuck round is allowed
    assert not await hanging  # timed out by the hub, as before
    # The turn is free again once the hung round was cut off.
    assert await hub.poll(single)
    assert loop.time() - began < 2.0


async def test_a_cancelled_wait_gives_its_place_up() -> None:
    turns = EndpointTurns(gap=0.0)
    await turns.acquire(True)
    waiting = asyncio.create_task(turns.acquire(False))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    turns.release(True)
    await asyncio.wait_for(turns.acquire(True), 0.5)  # not blocked by the cancelled waiter
    turns.release(True)


async def test_a_wait_cancelled_as_the_turn_is_released_ends_cleanly() -> None:
    """The waiter is cancelled (its timeout) and, before it runs again, the holder releases:
    the release drops the cancelled waiter from the queue. The waiter must then end with its
    cancellation, not an error that would end the source's polling for good."""
    turns = EndpointTurns(gap=0.0)
    await turns.acquire(True)
    waiting = asyncio.create_task(turns.acquire(False))
    await asyncio.sleep(0)
    waiting.cancel()
    turns.release(True)  # same loop iteration: the waiter has not run its except yet
    results = await asyncio.gather(waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    await asyncio.wait_for(turns.acquire(True), 0.5)
    turns.release(True)
