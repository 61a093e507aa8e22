"""A steady world to measure the cockpit against: N HTTP probes on a local server, a deploy log,
and an access log with an hour of history plus live traffic. Unlike the drill world nothing
here changes on its own, so what the screen does while idle is the cockpit's doing.

    with LocalWorld(tmp, probes=20) as world:
        argv = ["cockpit", "--config", str(world.config)]
"""

from __future__ import annotations

import json
import random
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the bench prints figures, not request logs


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A probe cut off by the cockpit quitting resets its connection: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def combined_line(when: datetime, status: int, path: str = "/files") -> str:
    stamp = f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000"
    return f'10.0.0.7 - - [{stamp}] "GET {path} HTTP/1.1" {status} 512 "-" "bench/1.0"'


def hour_of_log(end: datetime, per_second: int, error_share: float = 0.01) -> str:
    """`per_second` requests a second for the hour before `end`, a steady share of them 5xx."""
    pick = random.Random(7)
    lines = []
    start = end - timedelta(hours=1)
    for second in range(3600):
        when = start + timedelta(seconds=second)
        for _ in range(per_second):
            status = 503 if pick.random() < error_share else 200
            lines.append(combined_line(when, status))
    return "\n".join(lines) + "\n"


class LocalWorld:
    def __init__(
        self,
        directory: Path,
        *,
        probes: int = 20,
        probe_interval: float = 10.0,
        log_per_second: int = 20,
        history: bool = True,
        errors_interval: float = 2.0,
        deploys_interval: float = 5.0,
        deploy_sources: int = 1,
        access_logs: int = 1,
        sentry: bool = False,
    ):
        self.directory = directory
        self.probes = probes
        self.probe_interval = probe_interval
        self.log_per_second = log_per_second
        self.history = history
        self.errors_interval = errors_interval
        self.deploys_interval = deploys_interval
        self.deploy_sources = deploy_sources
        self.access_logs = access_logs
        self.sentry = sentry
        self._sentry: object | None = None
        self.config = directory / "cockpit.toml"
        self.access_log = directory / "access.log"
        self.deploy_log = directory / "deploys.jsonl"
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalWorld:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = _Server(("127.0.0.1", 0), _Ok)
        now = datetime.now(UTC).replace(microsecond=0)
        self.deploy_log.write_text(self._deploys(now), encoding="utf-8")
        for n in range(1, self.deploy_sources):
            self._extra_deploys(n).write_text(self._deploys(now), encoding="utf-8")
        history = hour_of_log(now, self.log_per_second) if self.history else ""
        self.access_log.write_text(history, encoding="ascii")
        for n in range(1, self.access_logs):
            self._extra_log(n).write_text(history, encoding="ascii")
        if self.sentry:
            self._start_sentry()
        self.config.write_text(self.render_config(), encoding="utf-8")
        self._spawn(self._server.serve_forever, 0.05)
        self._spawn(self._traffic)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _extra_deploys(self, n: int) -> Path:
        return self.directory / f"deploys-{n}.jsonl"

    def _extra_log(self, n: int) -> Path:
        return self.directory / f"access-{n}.log"

    def _start_sentry(self) -> None:
        """The drill world's Sentry stand-in with a few unresolved issues."""
        from cockpit.world.sentry.api import SentryServer
        from cockpit.world.sentry.issues import Project

        server = SentryServer(
            org="bench", project=Project("1", "bench-web", "bench-web"), public_key="k", token="t"
        )
        server.accept_events(
            [
                {"level": "error", "exception": {"values": [{"type": "E", "value": f"n{i}"}]}}
                for i in range(5)
            ]
        )
        server.start()
        (self.directory / "sentry.token").write_text("t")
        self._sentry = server

    def stop(self) -> None:
        self._stop.set()
        if self._sentry is not None:
            self._sentry.stop()  # type: ignore[attr-defined]
            self._sentry = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    # -- contents ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _deploys(self, now: datetime) -> str:
        records = []
        for i in range(30):
            when = now - timedelta(hours=30 - i)
            records.append(
                {
                    "service": "files-web",
                    "version": f"2026.11.{i:02d}-1",
                    "who": "deploy-bot",
                    "at": when.isoformat().replace("+00:00", "Z"),
                    "summary": f"routine release {i}",
                }
            )
        return "".join(json.dumps(r) + "\n" for r in records)

    def _traffic(self) -> None:
        """Live requests, one batch a second, so the 5xx panel has something to count."""
        with self.access_log.open("a", encoding="ascii") as log:
            while not self._stop.wait(1.0):
                now = datetime.now(UTC)
                log.write(
                    "".join(combined_line(now, 200) + "\n" for _ in range(self.log_per_second))
                )
                log.flush()

    def render_config(self) -> str:
        probes = "".join(
            f"""
[[probes]]
name = "svc-{i:02d}"
kind = "http"
url = "{self.url}/health/{i}"
interval = {self.probe_interval}
timeout = 2
"""
            for i in range(self.probes)
        )
        return f"""\
[cockpit]
service = "files-web"
environment = "bench"
{probes}
[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = {json.dumps(str(self.deploy_log))}
interval = {self.deploys_interval}

[[errors]]
name = "edge"
kind = "nginx_combined"
path = {json.dumps(str(self.access_log))}
bucket_seconds = 60
window = 3600
read_back = {3600 if self.history else 0}
interval = {self.errors_interval}
{self._more_config()}"""

    def _more_config(self) -> str:
        out = []
        for n in range(1, self.deploy_sources):
            path = json.dumps(str(self._extra_deploys(n)))
            out.append(
                f'\n[[deploys]]\nname = "deploy-log-{n}"\nkind = "jsonl"\npath = {path}\n'
                f"interval = {self.deploys_interval}\n"
            )
        for n in range(1, self.access_logs):
            path = json.dumps(str(self._extra_log(n)))
            out.append(
                f'\n[[errors]]\nname = "edge-{n}"\nkind = "nginx_combined"\npath = {path}\n'
                f"bucket_seconds = 60\nwindow = 3600\nread_back = {3600 if self.history else 0}\n"
                f"interval = {self.errors_interval}\n"
            )
        if self._sentry is not None:
            url = self._sentry.base_url  # type: ignore[attr-defined]
            token = json.dumps(str(self.directory / "sentry.token"))
            out.append(
                f'\n[[sentry]]\nname = "sentry"\nbase_url = "{url}"\norg = "bench"\n'
                f"token_file = {token}\n"
            )
        return "".join(out)
