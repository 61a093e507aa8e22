"""The shared session round, driven by a scripted kind: the barrier, the summary, conditions,
latency, and what happens to sessions when a round is cut short."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from cockpit.config.probes import ProbeBase
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe, summary


@dataclass
class Script:
    """What each session does; sessions are numbered in the order they open."""

    open_fails: dict[int, str] = field(default_factory=dict)
    check_fails: dict[int, str] = field(default_factory=dict)
    hang_check: set[int] = field(default_factory=set)
    values: dict[str, object] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    aborted: list[int] = field(default_factory=list)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)  # every hung check started


class Scripted(SessionProbe[int]):
    kind = "scripted"

    def __init__(self, cfg: ProbeBase, script: Script):
        super().__init__(cfg, "scripted://")
        self.script = script
        self.opened = 0

    async def open_session(self) -> int:
        number = self.opened
        self.opened += 1
        await asyncio.sleep(0)  # let the others start opening too
        if number in self.script.open_fails:
            self.script.events.append(f"open-failed {number}")
            raise SessionFailed(self.script.open_fails[number])
        self.script.events.append(f"open {number}")
        return number

    async def check_session(self, session: int) -> Mapping[str, object]:
        self.script.events.append(f"check {session}")
        if session in self.script.hang_check:
            if sum(e.startswith("check") for e in self.script.events) == len(
                self.script.hang_check
            ):
                self.script.hanging.set()
            await asyncio.Event().wait()
        if session in self.script.check_fails:
            raise SessionFailed(self.script.check_fails[session])
        return self.script.values

    async def close_session(self, session: int) -> None:
        self.script.events.append(f"close {session}")
        self.script.closed.append(session)

    def abort_session(self, session: int) -> None:
        self.script.aborted.append(session)


def probe(script: Script, **options: object) -> Scripted:
    return Scripted(ProbeBase(name="p", **options), script)  # type: ignore[arg-type]


async def test_every_session_opens_before_any_check_and_checks_before_any_close() -> None:
    script = Script()
    result = await probe(script, concurrency=4).poll()
    assert result.ok and (result.sessions_ok, result.concurrency) == (4, 4)
    kinds = [event.split()[0] for event in script.events]
    assert kinds == ["open"] * 4 + ["check"] * 4 + ["close"] * 4
    assert result.kind == "scripted" and result.target == "scripted://"


async def test_failures_are_counted_and_summarised() -> None:
    script = Script(
        open_fails={1: "421 Too many sessions", 2: "421 Too many sessions"},
        check_fails={3: "550 gone"},
    )
    result = await probe(script, concurrency=4).poll()
    assert (result.ok, result.sessions_ok) == (False, 1)
    assert result.error == "3/4 sessions failed: 421 Too many sessions, 550 gone"
    assert sorted(script.closed) == [0, 3]  # failed opens have nothing to close


async def test_reasons_are_made_inert() -> None:
    script = Script(open_fails={0: "530 \x1b[31mdenied\x1b[0m\r\nnext line"})
    result = await probe(script).poll()
    assert result.error == "530 \ufffddenied\ufffd next line"


async def test_latency_is_the_slowest_passing_session() -> None:
    result = await probe(Script(), concurrency=3).poll()
    assert result.latency_ms is not None and result.latency_ms >= 0
    failed = await probe(Script(check_fails={0: "x"})).poll()
    assert failed.latency_ms is None


async def test_conditions_see_the_kinds_values_and_response_time() -> None:
    script = Script(values={"BODY": '{"state": "degraded"}'})
    cfg = ProbeBase(
        name="p",
        concurrency=2,
        conditions=("[CONNECTED] == true", "[RESPONSE_TIME] < 10s", "[BODY].state == ok"),
    )
    result = await Scripted(cfg, script).poll()
    assert result.error == "2/2 sessions failed: [BODY].state == ok (got 'degraded')"


async def test_a_hung_check_ends_at_the_deadline_and_is_dropped_not_closed() -> None:
    script = Script(hang_check={1})
    result = await probe(script, concurrency=2, timeout=0.3).poll()
    assert (result.sessions_ok, result.error) == (1, "1/2 sessions failed: no response within 0.3s")
    assert script.closed == [0]
    assert script.aborted == [1]


async def test_a_cancelled_round_still_releases_its_sessions() -> None:
    script = Script(hang_check={0, 1})
    task = asyncio.create_task(probe(script, concurrency=2, timeout=30).poll())
    await script.hanging.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(script.closed + script.aborted) == [0, 1]


async def test_prepare_failure_fails_every_session() -> None:
    class Unprepared(Scripted):
        async def prepare(self) -> None:
            raise SessionFailed("cannot load ca_file /nope.pem")

    result = await Unprepared(ProbeBase(name="p", concurrency=3), Script()).poll()
    assert result.error == "3/3 sessions failed: cannot load ca_file /nope.pem"


def test_summary() -> None:
    assert summary([], 4) == ""
    assert summary(["HTTP 503"], 1) == "HTTP 503"
    assert summary(["a", "b", "b", "c"], 5) == "4/5 sessions failed: b, a"
