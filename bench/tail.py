"""CPU of one core used while tailing an nginx access log that grows at 2,000 lines/s.

Budget (issue 5): under 5 % of one core at the default poll interval (2 s). A separate process
writes the log (its CPU is not counted), 40 lines every 20 ms, stamped with the current time;
this process polls the real access-log source like the hub does (poll, wait the interval, poll)
and reports its own CPU time over the wall time, and checks every line written was counted.

    python bench/tail.py [--seconds 20] [--rate 2000] [--interval 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.config.errors import AccessLogConfig
from cockpit.sources.logs.access_log import AccessLogTail

BUDGET_PERCENT = 5.0
WRITER = r"""
import sys, time
from datetime import UTC, datetime
from cockpit.world.accesslog import combined_line
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
batch = max(1, rate // 50)
written = 0
start = time.monotonic()
with open(path, "a", encoding="ascii") as log:
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = min(int(elapsed * rate) + batch, int(seconds * rate))
        now = datetime.now(UTC)
        lines = []
        for i in range(written, due):
            lines.append(combined_line(
                remote_addr="203.0.113.7", when=now,
                request_line=f"GET /files/{i}/report.pdf HTTP/1.1",
                status=503 if i % 20 == 0 else 200, body_bytes=612,
                referer="https://files.example.com/", user_agent="curl/8.5.0") + "\n")
        log.write("".join(lines))
        log.flush()
        written = due
        time.sleep(max(0.0, written / rate - (time.monotonic() - start)))
print(written)
"""


async def tail(path: Path, interval: float, writer: subprocess.Popen[str]) -> tuple[float, int]:
    cfg = AccessLogConfig(name="bench", path=path, interval=interval, window=600)
    source = AccessLogTail(cfg)
    requests = 0
    try:
        while writer.poll() is None:
            requests = (await source.poll()).requests
            await asyncio.sleep(interval)
        requests = (await source.poll()).requests
    finally:
        await source.aclose()
    return interval, requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        path.touch()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(args.rate), str(args.seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        cpu, wall = time.process_time(), time.perf_counter()
        _, requests = asyncio.run(tail(path, args.interval, writer))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        out, _ = writer.communicate()
        written = int(out)
    percent = 100 * cpu / wall
    print(
        f"tailing {args.rate:,} lines/s for {wall:.1f} s, poll every {args.interval:g} s: "
        f"{written:,} lines written, {requests:,} counted"
    )
    print(
        f"CPU {percent:.2f} % of one core (cpu {cpu:.3f} s)  budget {BUDGET_PERCENT:g} %  "
        f"{'OK' if percent < BUDGET_PERCENT else 'OVER'}"
    )
    if requests != written:
        print("MISMATCH: not every line written was counted")
        return 1
    return 0 if percent < BUDGET_PERCENT else 1


if __name__ == "__main__":
    sys.exit(main())
