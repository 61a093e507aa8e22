"""A small world for revert and store tests: an HTTP service a probe watches, a deploy log with a
good and a bad deploy, and a revert command that prints a line a second until the test lets it
finish (a gate file), so a test can act on the cockpit while the revert is halfway through.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pty_harness import PtyRun

COCKPIT = Path(sys.executable).with_name("cockpit")
SERVICE = "files-web"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        server.requests += 1
        status = 200 if server.healthy else 503
        body = b"ok\n" if server.healthy else b"down\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    healthy = True
    requests = 0

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a probe cut off at quit


class RevertWorld:
    def __init__(
        self,
        root: Path,
        *,
        healthy: bool = True,
        timeout: float = 120.0,
        cockpit_extra: str = "",
        sections: str = "",
    ):
        self.root = root
        self.cockpit_extra = cockpit_extra  # more [cockpit] lines (data_group = ...)
        self.sections = sections  # more sections ([[errors]] ...)
        root.mkdir(parents=True, exist_ok=True)
        self.data = root / "data"
        self.state = root / "state"  # XDG_STATE_HOME: where unsaved writes are spooled
        self.gate = root / "gate"  # the revert finishes once this file exists
        self.reverted = root / "reverted"  # written by the revert when it has finished
        self.deploys = root / "deploys.jsonl"
        self.config = root / "config.toml"
        self.script = root / "revert.py"
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.healthy = healthy
        self.timeout = timeout
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def set_healthy(self, healthy: bool) -> None:
        self.server.healthy = healthy

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "COCKPIT_DATA_DIR": str(self.data),
            "XDG_STATE_HOME": str(self.state),
            "COCKPIT_CONFIG": str(self.config),
            **extra,
        }

    def write(self) -> None:
        now = datetime.now(UTC)
        deploys = [
            {"service": SERVICE, "version": "1", "who": "alice", "summary": "good",
             "at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            {"service": SERVICE, "version": "2", "who": "bob", "summary": "bad",
             "at": (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        ]  # fmt: skip
        self.deploys.write_text("".join(json.dumps(d) + "\n" for d in deploys))
        self.script.write_text(
            textwrap.dedent(
                f"""
                import os, sys, time
                gate, done = {str(self.gate)!r}, {str(self.reverted)!r}
                step = 0
                while not os.path.exists(gate):
                    step += 1
                    print(f"step {{step}}: rolling back", flush=True)
                    time.sleep(1)
                print("reverted to 1", flush=True)
                open(done, "w").write(str(os.getpid()))
                """
            )
        )
        self.config.write_text(
            textwrap.dedent(
                f"""
                [cockpit]
                service = "{SERVICE}"
                environment = "test"
                {self.cockpit_extra}

                [[probes]]
                name = "web"
                kind = "http"
                url = "http://127.0.0.1:{self.port}/health"
                interval = 0.5
                timeout = 2

                [[deploys]]
                name = "deploy-log"
                kind = "jsonl"
                path = "{self.deploys}"

                [[services]]
                name = "{SERVICE}"
                revert = ["{sys.executable}", "{self.script}", "--to", "{{previous.version}}"]
                revert_timeout = {self.timeout}
                """
            )
            + self.sections
        )

    def __enter__(self) -> RevertWorld:
        self.write()
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.touch()  # a revert still waiting ends now
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for pid in supervisors(self.data):
            wait_gone(pid, 30)

    def release(self) -> None:
        self.gate.touch()


@contextmanager
def revert_world(root: Path, **kwargs: object) -> Iterator[RevertWorld]:
    with RevertWorld(root, **kwargs) as world:  # type: ignore[arg-type]
        yield world


def supervisors(data: Path) -> list[int]:
    """Supervisor processes of runs in this data dir."""
    found = []
    marker = str(data / "runs").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"cockpit.actions.supervisor" in cmdline and marker in cmdline:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"


def wait_gone(pid: int, timeout: float) -> bool:
    """Waits for a process that is not ours to end (pidfd: an event, not a poll)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return bool(readable) or not alive(pid)


def wait_for(predicate: Callable[[], object], timeout: float, what: str = "") -> None:
    """For conditions outside a screen (files appearing, processes ending): checked on each
    change we can wait on cheaply, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def output_lines(data: Path) -> list[str]:
    runs = sorted((data / "runs").glob("*/output.log"))
    return runs[-1].read_text().splitlines() if runs else []


def start_revert(run: PtyRun) -> None:
    """R, the plan, the service name typed out: the revert starts and shows its output."""
    assert run.wait_for(lambda t: re.search(r"FAIL +web", t) and "SUSPECT" in t, 30), run.text()
    run.send(b"R")
    assert run.wait_for(lambda t: f"Type {SERVICE} to confirm" in t, 15), run.text()
    run.send(SERVICE.encode() + b"\r")
    assert run.wait_for(lambda t: "step 2: rolling back" in t, 30), run.text()


def main_screen(text: str) -> bool:
    """No dialog open: the timeline panel's title (which a dialog covers) shows."""
    return "─ Timeline ─" in text
