"""Ten cockpits on one PostgreSQL store: how fast a change reaches all of them, and what an
idle cockpit costs the database.

1. Fan-out: another host writes a note `--notes` times; for each, the time until every one of
   the `--cockpits` cockpit runtimes (each its own data dir, store connection and listener,
   fed by its own views() loop as under the TUI) shows it in its timeline.
   Budget: p99 under 2 s.
2. Idle load: with nothing happening for `--idle` seconds, the statements the server runs
   (log_statement = all, counted from its log), per cockpit per second. Budget: under 1.

A real PostgreSQL 15 (Debian's), started here on a free port, torn down after.

    python bench/pg_fanout.py [--cockpits 10] [--notes 20] [--idle 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from pg_server import PASSWORD, PgServer  # noqa: E402
from revert_world import RevertWorld  # noqa: E402

from cockpit.config import load  # noqa: E402
from cockpit.incident.store.pg.connect import PgTarget  # noqa: E402
from cockpit.incident.store.pg.store import PgIncidentStore  # noqa: E402
from cockpit.model import TimelineEvent  # noqa: E402
from cockpit.runtime import Cockpit  # noqa: E402
from cockpit.timeutil import utcnow  # noqa: E402

FANOUT_P99_BUDGET_S = 2.0
IDLE_QPS_BUDGET = 1.0


def statements(server: PgServer) -> int:
    """Statements the server ran: simple ("statement:") and extended protocol ("execute")."""
    return sum(1 for line in server.log if "LOG:  statement:" in line or "LOG:  execute" in line)


async def bench(cockpits: int, notes: int, idle: float) -> int:
    server = PgServer(settings=("log_statement=all", "log_min_messages=warning"))
    root = Path(tempfile.mkdtemp(prefix="pg-fanout-"))
    try:
        database = server.new_database()
        lines = f'store = "{server.url(database)}"\nstore_password_env = "COCKPIT_PG_PASSWORD"'
        with RevertWorld(root / "world", cockpit_extra=lines) as world:
            config = load(world.config, env=server.env)
            runtimes = [
                Cockpit(config, root / f"data{i}", user=f"u{i}", spool_dir=root / f"state{i}")
                for i in range(cockpits)
            ]

            async def feed(cockpit: Cockpit) -> None:
                async for _ in cockpit.views():
                    pass

            tasks = [asyncio.create_task(feed(c)) for c in runtimes]
            try:
                return await _measure(server, database, runtimes, notes, idle)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for cockpit in runtimes:
                    await cockpit.aclose()
    finally:
        server.close()


async def _measure(
    server: PgServer, database: str, runtimes: list[Cockpit], notes: int, idle: float
) -> int:
    for _ in range(1200):  # up to a minute for all of them to open the store and poll once
        if all(c.view.store.writable and c.view.assessment.deploys for c in runtimes):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(3)  # the first reads and the deploys recorded: settled
    writer = PgIncidentStore(PgTarget(server.url(database), password=PASSWORD))
    during = statements(server)
    delays: list[float] = []
    worst: list[float] = []
    try:
        for n in range(notes):
            text = f"fan-out note {n}"
            began = time.monotonic()
            await asyncio.to_thread(
                writer.add_event, TimelineEvent(utcnow(), "note", text, "bench")
            )
            pending = set(range(len(runtimes)))
            async with asyncio.timeout(30):
                while pending:
                    for i in list(pending):
                        if any(e.text == text for e in runtimes[i].view.timeline):
                            delays.append(time.monotonic() - began)
                            pending.discard(i)
                    await asyncio.sleep(0.005)
            worst.append(max(delays[-len(runtimes) :]))
            await asyncio.sleep(0.5)
    finally:
        writer.close()

    during = statements(server) - during
    await asyncio.sleep(2)
    before = statements(server)
    await asyncio.sleep(idle)
    idle_statements = statements(server) - before
    qps = idle_statements / idle / len(runtimes)

    delays.sort()
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"{len(runtimes)} cockpits, {notes} notes written by another host")
    print(
        f"  a note on every cockpit: median {statistics.median(delays) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
        f"(last of all cockpits per note: median {statistics.median(worst) * 1000:.0f} ms)"
        f"   budget p99 {FANOUT_P99_BUDGET_S * 1000:.0f} ms"
    )
    print(f"  statements while the notes went out: {during} ({during / notes:.0f} per note)")
    print(
        f"  idle {idle:.0f} s: {idle_statements} statements, "
        f"{qps:.3f} per cockpit per second   budget {IDLE_QPS_BUDGET}"
    )
    ok = p99 < FANOUT_P99_BUDGET_S and qps < IDLE_QPS_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cockpits", type=int, default=10)
    parser.add_argument("--notes", type=int, default=20)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    return asyncio.run(bench(args.cockpits, args.notes, args.idle))


if __name__ == "__main__":
    sys.exit(main())
