"""Probe speed: does the probe's latency tell the truth, and what do many probes cost?

1. Latency agreement. The http probe's latency against independent timings of the same local
   endpoint (curl's time_total when curl is installed, and a bare-socket HTTP exchange),
   alternating, while a Textual app repaints on a timer in the same process.
   Budget: medians within 10 ms or 10 %.
2. Many probes. `--probes` http probes (interval 10 s, concurrency 2) run through
   cockpit.hub.Hub against a local server for `--duration` seconds. Budgets: event-loop lag p99
   under 50 ms, CPU under 15 % of one core (this process only; the server runs in another).

    python bench/probes.py [--pairs 30] [--probes 200] [--duration 40]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.config.probes import HttpProbeConfig
from cockpit.hub import Hub
from cockpit.sources.probes.http import HttpProbe

LATENCY_MS_BUDGET = 10.0
LATENCY_SHARE_BUDGET = 0.10
LAG_P99_BUDGET_MS = 50.0
CPU_BUDGET = 0.15
LAG_PERIOD = 0.02

# The endpoint: a threaded HTTP server in a process of its own, so its CPU is not counted.
SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


@contextmanager
def endpoint() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/health"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def verdict(ok: bool) -> str:
    return "ok" if ok else "over"


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- 1. latency agreement ------------------------------------------------------------------------


async def curl_ms(url: str) -> float | None:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return float(out) * 1000.0 if proc.returncode == 0 else None


def socket_ms(url: str) -> float:
    """A bare HTTP/1.1 exchange on a new connection: connect, request, read to the end."""
    port = int(url.split(":")[2].split("/")[0])
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        while sock.recv(65536):
            pass
    return (time.perf_counter() - started) * 1000.0


async def latency_agreement(url: str, pairs: int) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Ticking(App[None]):
        """Repaints 30 times a second: the cockpit's event loop is never idle either."""

        ticks = 0
        label = Static("0")

        def compose(self) -> ComposeResult:
            yield self.label

        def on_mount(self) -> None:
            self.set_interval(1 / 30, self.tick)

        def tick(self) -> None:
            self.ticks += 1
            if self.label.is_mounted:  # a last tick may come while the app shuts down
                self.label.update(f"tick {self.ticks}")

    probe = HttpProbe(HttpProbeConfig(name="bench", url=url, timeout=5.0))
    use_curl = shutil.which("curl") is not None
    probe_ms: list[float] = []
    curl: list[float] = []
    bare: list[float] = []
    app = Ticking()
    async with app.run_test():
        await probe.poll()  # warm-up, not counted
        for _ in range(pairs):
            result = await probe.poll()
            if result.latency_ms is not None:
                probe_ms.append(result.latency_ms)
            if use_curl:
                measured = await curl_ms(url)
                if measured is not None:
                    curl.append(measured)
            bare.append(socket_ms(url))
            await asyncio.sleep(0.03)  # let the app repaint between pairs, as it would
        ticks = app.ticks
    await probe.aclose()

    print(f"latency agreement: {pairs} alternating pairs, Textual app repainting ({ticks} ticks)")
    reference_name, reference = ("curl time_total", curl) if curl else ("bare socket", bare)
    probe_median = statistics.median(probe_ms)
    print(f"  probe latency median        {probe_median:8.2f} ms  (p90 {pct(probe_ms, 0.9):.2f})")
    if curl:
        print(f"  curl time_total median      {statistics.median(curl):8.2f} ms")
    print(f"  bare socket median          {statistics.median(bare):8.2f} ms")
    ref_median = statistics.median(reference)
    gap = abs(probe_median - ref_median)
    allowed = max(LATENCY_MS_BUDGET, LATENCY_SHARE_BUDGET * ref_median)
    print(
        f"  |probe - {reference_name}|  {gap:8.2f} ms  budget {allowed:.1f} ms  "
        f"{verdict(gap <= allowed)}"
    )


# -- 2. many probes through the hub --------------------------------------------------------------


async def many_probes(url: str, count: int, duration: float, concurrency: int) -> None:
    sources = [
        HttpProbe(
            HttpProbeConfig(
                name=f"p{i:03d}", url=url, interval=10.0, timeout=5.0, concurrency=concurrency
            )
        )
        for i in range(count)
    ]
    hub = Hub(sources)
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            started = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            lags.append(max(0.0, loop.time() - started - LAG_PERIOD) * 1000.0)

    sampler = asyncio.create_task(sample())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    hub.start()
    await asyncio.sleep(duration)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    stop.set()
    await sampler
    snapshot = hub.snapshot()
    await hub.aclose()

    results = [r for r in snapshot.readings.values() if hasattr(r, "ok")]
    failing = sum(1 for r in results if not getattr(r, "ok", False))
    rounds = count * duration / 10.0
    print(
        f"many probes: {count} http probes, concurrency {concurrency}, interval 10 s, "
        f"{wall:.0f} s through the hub (~{rounds:.0f} rounds, {failing} failing at the end)"
    )
    lag_p99 = pct(lags, 0.99)
    p50, worst = pct(lags, 0.5), max(lags)
    print(f"  event-loop lag p50 {p50:.2f} ms, max {worst:.1f} ms ({len(lags)} samples)")
    print(
        f"  event-loop lag p99          {lag_p99:8.2f} ms  budget {LAG_P99_BUDGET_MS:.0f} ms  "
        f"{verdict(lag_p99 < LAG_P99_BUDGET_MS)}"
    )
    share = cpu / wall
    print(
        f"  CPU of one core             {share * 100:8.2f} %   budget {CPU_BUDGET * 100:.0f} %   "
        f"{verdict(share < CPU_BUDGET)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--duration", type=float, default=40.0)
    args = parser.parse_args()
    with endpoint() as url:
        asyncio.run(latency_agreement(url, args.pairs))
        asyncio.run(many_probes(url, args.probes, args.duration, args.concurrency))


if __name__ == "__main__":
    main()
