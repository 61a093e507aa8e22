"""A real Prometheus (scrape_interval 1s) scraping a small exporter whose numbers are known.

The exporter (prometheus-client) serves:
- `http_requests_total{code}`: counters that grow exactly linearly, each sample stamped with its
  own time (the exposition format allows it), so Prometheus stores points on a straight line
  and irate() gives the slope exactly, however late a scrape runs;
- blackbox_exporter-style gauges `probe_success` and `probe_duration_seconds` with `instance`,
  `location` and `module` labels, which a test can change.

Prometheus is required, not optional: a missing binary fails the test (CI installs it).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from programs import program
from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

START_SECONDS = 30.0
# Requests per second by status code: 10/s in all, 2/s of them 5xx.
SLOPES = {"200": 7.5, "404": 0.5, "500": 1.5, "503": 0.5}
REQUESTS_PER_S = sum(SLOPES.values())
ERRORS_PER_S = SLOPES["500"] + SLOPES["503"]

ProbeKey = tuple[str, str, str]  # instance, location, module
FLEET: dict[ProbeKey, tuple[float, float]] = {
    ("https://files.example.com/", "eu-west", "http_2xx"): (1, 0.125),
    ("https://files.example.com/", "us-east", "http_2xx"): (0, 2.5),
    ("sftp.example.com:22", "eu-west", "tcp_connect"): (1, 0.0625),
    # A second module on the same target and location: one probe, ok only if both are.
    ("sftp.example.com:22", "eu-west", "ssh_banner"): (1, 0.25),
}


def prometheus_binary() -> str:
    return program("prometheus")


class KnownNumbers(Collector):
    def __init__(self) -> None:
        self.origin_ms = int(time.time() * 1000)
        self.fleet = dict(FLEET)
        self.lock = threading.Lock()

    def set_probe(self, key: ProbeKey, success: float, duration: float) -> None:
        with self.lock:
            self.fleet[key] = (success, duration)

    def collect(self) -> Iterable[Any]:
        now_ms = int(time.time() * 1000)
        stamp = now_ms / 1000
        requests = CounterMetricFamily("http_requests", "Requests served.", labels=["code"])
        for code, slope in SLOPES.items():
            requests.add_metric([code], slope * (now_ms - self.origin_ms) / 1000, timestamp=stamp)
        yield requests
        labels = ["instance", "location", "module"]
        success = GaugeMetricFamily("probe_success", "Probe succeeded.", labels=labels)
        duration = GaugeMetricFamily("probe_duration_seconds", "Probe took.", labels=labels)
        with self.lock:
            for key, (ok, took) in self.fleet.items():
                success.add_metric(list(key), ok)
                duration.add_metric(list(key), took)
        yield success
        yield duration


@dataclass
class Prometheus:
    url: str
    numbers: KnownNumbers

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def wait_for(self, promql: str, until: Any, seconds: float = 20.0) -> list[dict[str, Any]]:
        """Query until `until(result)` holds: samples arrive with the next scrapes."""
        deadline = time.monotonic() + seconds
        while True:
            result = self.query(promql)
            if until(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql}: still {result} after {seconds}s")
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_prometheus(directory: Path) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    numbers = KnownNumbers()
    registry = CollectorRegistry()
    registry.register(numbers)
    exporter, exporter_thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        config = directory / "prometheus.yml"
        # honor_labels: the exporter's `instance` stays, as relabelling does for blackbox.
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: known\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{exporter.server_port}']\n"
        )
        errors = ""
        for attempt in range(5):  # the free port may be taken before Prometheus binds it
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            log = (directory / f"prometheus-{attempt}.log").open("wb")
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / f'data-{attempt}'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + START_SECONDS
            while process.poll() is None and not _ready(url):
                if time.monotonic() > deadline:
                    break
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05)  # wakes at once if it exits
            if process.poll() is None and _ready(url):
                break
            process.kill()
            process.wait()
            log.close()
            errors = (directory / f"prometheus-{attempt}.log").read_text(errors="replace")
        else:
            raise AssertionError(f"prometheus would not start: {errors[-2000:]}")
        try:
            server = Prometheus(url, numbers)
            # Two scrapes of the counters: enough for irate() to answer.
            server.wait_for(
                "count_over_time(http_requests_total[1m])",
                lambda r: len(r) == len(SLOPES) and all(int(s["value"][1]) >= 2 for s in r),
            )
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
    finally:
        exporter.shutdown()
        exporter.server_close()
        exporter_thread.join(timeout=5)
