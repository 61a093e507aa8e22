"""Ten times today's work (issue 21): 2,000 probe sessions per 10 s (1,000 HTTP probes with
concurrency 2), an access log growing at 20,000 lines/s, 50 deploy sources and a Sentry with
10,000 unresolved issues, all at once, with the cockpit at 80x24 in a pseudo-terminal.

    python bench/tenx.py [--seconds 60] [--probes 1000]       # the cockpit probes them itself
    python bench/tenx.py --via-prometheus                      # probe results from Prometheus

Printed: event-loop lag p99 (measured inside the cockpit), CPU of the cockpit's own processes,
RSS, bytes/s to the terminal, and whether the screen stays usable (the probes panel says how
many do not fit). The load (HTTP server, log writer, Sentry, Prometheus) runs in processes of
its own, so its CPU is not the cockpit's.

`--via-prometheus` is what to run when one process cannot probe that much: blackbox_exporter
probes, Prometheus keeps the results, and the cockpit reads 2,000 results (1,000 targets x 2
locations) with two instant queries per interval (`[[probes]] kind = "prometheus"`). Here a
stand-in exporter publishes blackbox_exporter's `probe_success` and `probe_duration_seconds`
series (blackbox_exporter itself is not installed on the bench machine); what the cockpit does
is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE))

COCKPIT = str(Path(sys.executable).with_name("cockpit"))
LAG_PERIOD = 0.02
BUDGET_LAG_P99_MS = 20.0
BUDGET_CPU_PCT = 25.0
BUDGET_RSS_MB = 150.0
LINES_PER_S = 20_000
DEPLOY_SOURCES = 50
SENTRY_ISSUES = 10_000
LOCATIONS = ("eu", "us")


# -- the load: a process of its own ------------------------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a probe cut off by the cockpit quitting is not worth a traceback


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _stamp(when: datetime) -> str:
    return f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000"


def _write_log(path: Path, stop: threading.Event) -> None:
    """20,000 combined lines a second in batches of a twentieth of a second, 1 % of them 5xx
    on a few routes."""
    pick = random.Random(3)
    routes = [f"/files/{i}" for i in range(40)]
    with path.open("a", encoding="ascii") as log:
        next_at = time.monotonic()
        while not stop.is_set():
            stamp = _stamp(datetime.now(UTC))
            batch = []
            for _ in range(LINES_PER_S // 20):
                status = 503 if pick.random() < 0.01 else 200
                batch.append(
                    f'10.0.0.7 - - [{stamp}] "GET {pick.choice(routes)} HTTP/1.1" {status} 512 '
                    '"-" "bench/1.0"\n'
                )
            log.write("".join(batch))
            log.flush()
            next_at += 0.05
            stop.wait(max(0.0, next_at - time.monotonic()))


def _sentry(issues: int) -> tuple[object, str]:
    """The drill world's Sentry stand-in, holding `issues` distinct unresolved issues."""
    from cockpit.world.sentry import issues as store_module
    from cockpit.world.sentry.api import SentryServer
    from cockpit.world.sentry.issues import Project

    store_module.MAX_ISSUES = issues + 100  # the world keeps 1,000; this bench needs more
    token = "bench-token"
    server = SentryServer(
        org="bench",
        project=Project("1", "bench-web", "bench-web"),
        public_key="bench",
        token=token,
        rate_limit=10_000,
    )
    now = datetime.now(UTC)
    events = [
        {
            "level": "error",
            "environment": "bench",
            "timestamp": (now - timedelta(minutes=i % 600)).isoformat(),
            "exception": {"values": [{"type": f"Error{i % 97}", "value": f"failure number {i}"}]},
        }
        for i in range(issues)
    ]
    server.accept_events(events)
    server.start()
    return server, token


def _exporter(probes: int) -> tuple[ThreadingHTTPServer, str]:
    """blackbox_exporter's series as Prometheus scrapes them from it: one probe_success and
    probe_duration_seconds per target and location."""
    lines = []
    for i in range(probes):
        for location in LOCATIONS:
            labels = f'instance="https://svc-{i:04d}.example/health",location="{location}"'
            lines.append(f"probe_success{{{labels}}} 1")
            lines.append(f"probe_duration_seconds{{{labels}}} {0.01 + (i % 50) / 1000:.3f}")
    body = ("\n".join(lines) + "\n").encode()

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def _prometheus(directory: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 10s\n"
        "scrape_configs:\n  - job_name: blackbox\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            found = httpx.get(f"{url}/api/v1/query", params={"query": "count(probe_success)"})
            result = found.json()["data"]["result"]
            if result and int(result[0]["value"][1]) > 0:
                return process, url
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("prometheus did not scrape the probe results")


def run_load(directory: Path, probes: int, via_prometheus: bool) -> None:
    """Start the load, write the cockpit's config, say "ready", run until stdin closes."""
    stop = threading.Event()
    http = _Server(("127.0.0.1", 0), _Ok)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_address[1]}"
    log = directory / "access.log"
    log.write_text("")
    threading.Thread(target=_write_log, args=(log, stop), daemon=True).start()
    now = datetime.now(UTC)
    deploys = []
    for n in range(DEPLOY_SOURCES):
        path = directory / f"deploys-{n:02d}.jsonl"
        path.write_text(
            "".join(
                json.dumps(
                    {
                        "service": f"svc-{n:02d}",
                        "version": f"2026.12.{i:02d}-{n}",
                        "who": "deploy-bot",
                        "at": (now - timedelta(hours=50 - i - n / 60)).isoformat(),
                        "summary": f"release {i} of svc-{n:02d}",
                    }
                )
                + "\n"
                for i in range(5)
            )
        )
        deploys.append(
            f'[[deploys]]\nname = "deploys-{n:02d}"\nkind = "jsonl"\npath = {json.dumps(str(path))}'
            "\ninterval = 10\n"
        )
    sentry, token = _sentry(SENTRY_ISSUES)
    sentry_url = sentry.base_url  # type: ignore[attr-defined]
    (directory / "sentry.token").write_text(token)
    extra: list[object] = []
    if via_prometheus:
        exporter, target = _exporter(probes)
        prometheus, prom_url = _prometheus(directory, target)
        extra += [exporter, prometheus]
        probe_config = (
            f'[[probes]]\nname = "blackbox"\nkind = "prometheus"\nbase_url = "{prom_url}"\n'
            f"max_probes = {probes * len(LOCATIONS)}\ninterval = 10\ntimeout = 5\n"
        )
    else:
        probe_config = "".join(
            f'[[probes]]\nname = "svc-{i:04d}"\nkind = "http"\nurl = "{url}/health/{i}"\n'
            "concurrency = 2\ninterval = 10\ntimeout = 5\n"
            for i in range(probes)
        )
    config = f"""[cockpit]
service = "files-web"
environment = "bench"

{probe_config}
{"".join(deploys)}
[[errors]]
name = "edge"
kind = "nginx_combined"
path = {json.dumps(str(log))}
bucket_seconds = 10
window = 3600
read_back = 0
interval = 10

[[sentry]]
name = "sentry"
base_url = "{sentry_url}"
org = "bench"
token_file = {json.dumps(str(directory / "sentry.token"))}
limit = 100
max_pages = 5
interval = 30
"""
    (directory / "cockpit.toml").write_text(config)
    print("ready", flush=True)
    sys.stdin.read()  # until the bench closes it
    stop.set()
    http.shutdown()
    sentry.stop()  # type: ignore[attr-defined]
    for thing in extra:
        if isinstance(thing, subprocess.Popen):
            thing.terminate()
            thing.wait(10)
        elif isinstance(thing, ThreadingHTTPServer):
            thing.shutdown()


# -- the cockpit, with a lag meter inside --------------------------------------------------------

_LAGGED = f"""
import asyncio, sys, time
out = open(sys.argv.pop(1), "w", buffering=1)
from cockpit import app as app_module

mounted = app_module.CockpitApp.on_mount

async def meter():
    while True:
        start = time.perf_counter()
        await asyncio.sleep({LAG_PERIOD})
        out.write(f"{{1000 * (time.perf_counter() - start - {LAG_PERIOD}):.2f}}\\n")

def on_mount(self):
    mounted(self)
    self._lag_meter = asyncio.get_running_loop().create_task(meter())

app_module.CockpitApp.on_mount = on_mount
from cockpit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def measure(seconds: float, probes: int, via_prometheus: bool, cols: int, rows: int) -> dict:
    import proctree
    from pty_harness import PtyRun, layout_problems

    with tempfile.TemporaryDirectory(prefix="cockpit-tenx-") as tmp:
        directory = Path(tmp)
        load = subprocess.Popen(
            [sys.executable, __file__, "--load", str(directory), "--probes", str(probes)]
            + (["--via-prometheus"] if via_prometheus else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert load.stdout is not None and load.stdin is not None
        if load.stdout.readline().strip() != "ready":
            raise RuntimeError("the load did not start")
        lag_file = directory / "lag.txt"
        argv = [
            sys.executable,
            "-c",
            _LAGGED,
            str(lag_file),
            "--config",
            str(directory / "cockpit.toml"),
        ]
        run = PtyRun(argv, cols=cols, rows=rows, env={"COCKPIT_DATA_DIR": str(directory / "data")})
        try:
            if run.wait_for(lambda text: "Probes" in text and " up" in text, 60) is None:
                raise RuntimeError("no probes on screen:\n" + run.text())
            run.pump_for(15.0)  # the first rounds, the first Sentry walk
            skip = len(lag_file.read_text().split())
            pids = proctree.tree(run.pid)
            cpu0, t0, bytes0 = proctree.cpu_seconds(pids), time.perf_counter(), run.bytes_read
            run.pump_for(seconds)
            elapsed = time.perf_counter() - t0
            pids = proctree.tree(run.pid)
            cpu = proctree.cpu_seconds(pids) - cpu0
            rss = proctree.rss_mb(pids)
            lags = [float(x) for x in lag_file.read_text().split()[skip:]]
            screen = run.text()
            problems = layout_problems(run.screen.display)
        finally:
            run.stop()
            load.stdin.close()
            load.wait(30)
    lags.sort()
    return {
        "lag_p99": lags[int(0.99 * (len(lags) - 1))] if lags else 99.0,
        "lag_max": lags[-1] if lags else 99.0,
        "lag_median": statistics.median(lags) if lags else 99.0,
        "cpu": 100 * cpu / elapsed,
        "rss": rss,
        "bytes_per_s": (run.bytes_read - bytes0) / elapsed,
        "screen": screen,
        "problems": problems,
        "summarised": "more" in screen,
    }


def report(name: str, figures: dict) -> list[str]:
    over = []
    lines = [
        (f"{name}: event-loop lag p99", figures["lag_p99"], "ms", BUDGET_LAG_P99_MS),
        (f"{name}: CPU of the cockpit", figures["cpu"], "%", BUDGET_CPU_PCT),
        (f"{name}: RSS", figures["rss"], "MB", BUDGET_RSS_MB),
        (f"{name}: terminal output", figures["bytes_per_s"], "B/s", None),
    ]
    for what, value, unit, budget in lines:
        verdict = (
            "" if budget is None else f" budget {budget:g} {'OK' if value <= budget else 'OVER'}"
        )
        print(f"{what:<48} {value:>9.2f} {unit:<4}{verdict}", flush=True)
        if budget is not None and value > budget:
            over.append(what)
    print(
        f"   lag median {figures['lag_median']:.1f} ms, max {figures['lag_max']:.1f} ms; screen "
        + ("usable" if not figures["problems"] else "; ".join(figures["problems"]))
        + (", probes panel summarises the rest" if figures["summarised"] else ""),
        flush=True,
    )
    return over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--via-prometheus", action="store_true")
    parser.add_argument("--both", action="store_true", help="the direct path, then Prometheus")
    parser.add_argument("--screen", action="store_true", help="print the last screen")
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load is not None:
        run_load(args.load, args.probes, args.via_prometheus)
        return
    os.environ.pop("NO_COLOR", None)
    paths = [False, True] if args.both else [args.via_prometheus]
    for via in paths:
        name = f"{args.probes}x2 {'via Prometheus' if via else 'http probes'}"
        print(f"\n== ten times: {name}, 20,000 log lines/s, 50 deploy sources, 10,000 issues")
        figures = measure(args.seconds, args.probes, via, 80, 24)
        report(name, figures)
        if args.screen:
            print(figures["screen"])


if __name__ == "__main__":
    main()
