"""Real Alertmanagers for the tests (the drill world's runner), and the alerts they are fed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from servers import serving

from cockpit.config.alerts import AlertmanagerConfig
from cockpit.timeutil import utcnow
from cockpit.world.alertmanager.server import Alertmanager, running_alertmanager

SERVICE = 'service="files-web"'


def config(*urls: str, **options: object) -> AlertmanagerConfig:
    settings: dict[str, object] = {"matchers": (SERVICE,), "interval": 1.0, **options}
    return AlertmanagerConfig(name="am", urls=urls, **settings)  # type: ignore[arg-type]


def page(
    am: Alertmanager, alertname: str, instance: str, minutes_ago: float = 5, **extra: str
) -> None:
    labels = {
        "alertname": alertname,
        "instance": instance,
        "service": extra.pop("service", "files-web"),
        "severity": extra.pop("severity", "critical"),
    }
    annotations = {"summary": extra.pop("summary", f"{alertname} on {instance}")}
    labels.update(extra)
    am.push(labels, annotations, starts_at=utcnow() - timedelta(minutes=minutes_ago))


@contextmanager
def alertmanagers(directory: Path, count: int = 1) -> Iterator[list[Alertmanager]]:
    with running_alertmanager(directory, "am-1") as first:
        if count == 1:
            yield [first]
            return
        with running_alertmanager(directory, "am-2") as second:
            yield [first, second]


class _Garbage(BaseHTTPRequestHandler):
    body = b"<html>502 Bad Gateway from a proxy</html>"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def garbage_server(body: bytes) -> Iterator[str]:
    handler = type("Garbage", (_Garbage,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]
    lock: threading.Lock

    def do_GET(self) -> None:
        with self.lock:
            self.seen.append(dict(self.headers))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
