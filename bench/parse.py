"""nginx `combined` lines per second through the real access-log source, on one core, beside
`mawk '$9 ~ /^5/'` on the same file.

Budget: at least 1,200,000 lines per CPU second, with the 5xx broken down by route (as the
blind spot by route needs). The source reads the file from its start (read_back) and polls
until every line is counted; the figure is lines / CPU seconds of this process (one thread
works at a time), best of the runs. Every 5xx must be found under its route.

    python bench/parse.py [--lines 2000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.config.errors import AccessLogConfig
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.world.accesslog import combined_line, time_local

BUDGET_LINES_S = 1_200_000
END = datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
    "Transmit/5.10 (SFTP; WebDAV)",
)
STATUSES = (200,) * 40 + (204, 206, 301, 304, 404, 500, 502, 503)


def write_log(path: Path, lines: int, seconds: int) -> int:
    """A realistic log of `lines` lines spread over `seconds`; returns how many are 5xx."""
    rng = random.Random(42)
    # A pool of real combined lines, cut around the time so each line gets its own second.
    pool = []
    for _ in range(4096):
        status = rng.choice(STATUSES)
        line = combined_line(
            remote_addr=f"203.0.113.{rng.randrange(1, 255)}",
            when=END,
            request_line=f"GET /files/{rng.randrange(100000)}/report.pdf HTTP/1.1",
            status=status,
            body_bytes=rng.randrange(100, 90000),
            referer="https://files.example.com/browse",
            user_agent=rng.choice(AGENTS),
        )
        before, _, rest = line.partition("[")
        pool.append((before + "[", rest[rest.index("]") :] + "\n", status >= 500))
    errors = 0
    start = END - timedelta(seconds=seconds)
    per_second = max(1, lines // seconds)
    with path.open("w", encoding="ascii") as out:
        for first in range(0, lines, per_second):
            stamp = time_local(start + timedelta(seconds=first * seconds // lines))
            batch = []
            for _ in range(min(per_second, lines - first)):
                before, after, is_error = pool[rng.randrange(len(pool))]
                errors += is_error
                batch.append(before + stamp + after)
            out.write("".join(batch))
    return errors


async def read_all(path: Path, seconds: int, lines: int) -> tuple[float, float, int, int]:
    cfg = AccessLogConfig(
        name="bench", path=path, bucket_seconds=10, window=seconds + 60, read_back=seconds + 60
    )
    source = AccessLogTail(cfg, clock=lambda: END)
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        series = await source.poll()
        while series.requests + series.unparsed_lines < lines:
            series = await source.poll()
    finally:
        await source.aclose()
    by_route = sum(r.count for b in series.buckets for r in b.routes_5xx)
    assert series.routes_known and by_route == series.errors_5xx, (by_route, series.errors_5xx)
    return (
        time.process_time() - cpu,
        time.perf_counter() - wall,
        series.requests,
        series.errors_5xx,
    )


def mawk_seconds(path: Path) -> tuple[float, float] | None:
    """(cpu, wall) seconds of `mawk '$9 ~ /^5/' file`, its output thrown away."""
    mawk = shutil.which("mawk")
    if mawk is None:
        return None
    before, wall = os.times(), time.perf_counter()
    subprocess.run([mawk, "$9 ~ /^5/", str(path)], stdout=subprocess.DEVNULL, check=True)
    after = os.times()
    cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    return cpu, time.perf_counter() - wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds = 3600
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        errors = write_log(path, args.lines, seconds)
        size_mb = path.stat().st_size / 1e6
        ours = []
        for _ in range(args.runs):
            cpu, wall, requests, counted_errors = asyncio.run(read_all(path, seconds, args.lines))
            assert (requests, counted_errors) == (args.lines, errors), (requests, counted_errors)
            ours.append((cpu, wall))
        mawk = [m for m in (mawk_seconds(path) for _ in range(args.runs)) if m is not None]
    cpu, wall = min(ours)
    rate = args.lines / cpu
    print(f"file: {args.lines:,} nginx combined lines, {size_mb:.0f} MB, {errors:,} 5xx")
    print(
        f"access-log source : {rate:>12,.0f} lines/s (cpu {cpu:.2f} s, wall {wall:.2f} s)  "
        f"budget {BUDGET_LINES_S:,}  {'OK' if rate >= BUDGET_LINES_S else 'UNDER'}"
    )
    if mawk:
        mawk_cpu, mawk_wall = min(mawk)
        mawk_rate = args.lines / mawk_cpu
        print(
            f"mawk '$9 ~ /^5/'  : {mawk_rate:>12,.0f} lines/s "
            f"(cpu {mawk_cpu:.2f} s, wall {mawk_wall:.2f} s)"
        )
        print(f"ratio source/mawk : {rate / mawk_rate:.2f} (lines per cpu second)")
    else:
        print("mawk: not installed (apt-get install mawk)")
    return 0 if rate >= BUDGET_LINES_S else 1


if __name__ == "__main__":
    sys.exit(main())
