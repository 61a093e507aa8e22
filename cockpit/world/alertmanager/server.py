"""A real Alertmanager (Debian's `prometheus-alertmanager`) on 127.0.0.1, in the foreground,
with its own config, port and storage dir; and pushing alerts to it the way Prometheus does
(POST /api/v2/alerts, repeated while an alert fires, with `endsAt` once it resolved).

The drill world runs one; the tests run one or two. Two are either independent (gossip off, so
each starts at once; Prometheus pushes to both) or an HA cluster (`running_cluster`): each
listens for gossip on a free loopback port and the second joins the first with
`--cluster.peer`, so silences made on one member are held by both.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BINARIES = ("prometheus-alertmanager", "alertmanager")
START_SECONDS = 30.0
# Every alert goes to a receiver that sends nothing: the cockpit reads, the world never pages.
CONFIG = """route:
  receiver: quiet
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: quiet
"""


def binary() -> str:
    for name in BINARIES:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    raise FileNotFoundError("prometheus-alertmanager is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # up, behind basic auth
    except (OSError, urllib.error.URLError):
        return False


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    authorization: str = ""  # an Authorization header for a member behind basic auth
    cluster_address: str = ""  # 127.0.0.1:<port> it gossips on, "" when gossip is off

    def peers(self) -> list[str]:
        """The cluster members this one knows (its own address included), from its status."""
        status = self.request("GET", "/api/v2/status")
        cluster = status.get("cluster") if isinstance(status, dict) else None
        found = cluster.get("peers") if isinstance(cluster, dict) else None
        return sorted(str(p.get("address")) for p in found or [] if isinstance(p, dict))

    def push(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> None:
        """One alert, as Prometheus sends it (again every evaluation while it fires)."""
        alert: dict[str, Any] = {"labels": dict(labels), "annotations": dict(annotations or {})}
        if starts_at is not None:
            alert["startsAt"] = _iso(starts_at)
        if ends_at is not None:
            alert["endsAt"] = _iso(ends_at)
        self.request("POST", "/api/v2/alerts", [alert])

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        with urllib.request.urlopen(request, timeout=5) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request("GET", "/api/v2/alerts")
        return found

    def silences(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request("GET", "/api/v2/silences")
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_alertmanager(
    directory: Path,
    name: str = "alertmanager",
    *,
    web_config: str = "",
    cluster: bool = False,
    peers: tuple[str, ...] = (),
) -> Alertmanager:
    """Started and ready, or FileNotFoundError / RuntimeError saying why not. `web_config`:
    the exporter-toolkit web config (e.g. basic_auth_users with bcrypt hashes). `cluster`:
    gossip on a free loopback port, joining `peers` (their cluster addresses)."""
    program = binary()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / f"{name}.yml"
    config.write_text(CONFIG)
    web = []
    if web_config:
        (directory / f"{name}-web.yml").write_text(web_config)
        web = [f"--web.config.file={directory / f'{name}-web.yml'}"]
    errors = ""
    for attempt in range(5):  # a free port may be taken before Alertmanager binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        gossip = f"127.0.0.1:{_free_port()}" if cluster or peers else ""
        cluster_flags = [f"--cluster.listen-address={gossip}"] + [
            f"--cluster.peer={peer}" for peer in peers
        ]
        log_path = directory / f"{name}-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    program,
                    f"--config.file={config}",
                    f"--storage.path={directory / f'{name}-data-{attempt}'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    *cluster_flags,
                    "--log.level=warn",
                    *web,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_SECONDS
        while process.poll() is None and not _ready(url) and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.05)  # wakes at once if it exits
        if process.poll() is None and _ready(url):
            return Alertmanager(url, process, directory, cluster_address=gossip)
        process.kill()
        process.wait()
        errors = log_path.read_text(errors="replace")
    raise RuntimeError(f"alertmanager would not start: {errors[-2000:]}")


@contextlib.contextmanager
def running_alertmanager(
    directory: Path, name: str = "alertmanager", *, web_config: str = ""
) -> Iterator[Alertmanager]:
    server = start_alertmanager(directory, name, web_config=web_config)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_cluster(directory: Path, count: int = 2) -> Iterator[list[Alertmanager]]:
    """`count` Alertmanagers gossiping as one HA cluster, each knowing every other one before
    this yields (a silence made on one is then held by all)."""
    members: list[Alertmanager] = []
    try:
        first = start_alertmanager(directory, "am-1", cluster=True)
        members.append(first)
        for n in range(2, count + 1):
            peers = (first.cluster_address,)
            members.append(start_alertmanager(directory, f"am-{n}", peers=peers))
        wanted = sorted(m.cluster_address for m in members)
        deadline = time.monotonic() + START_SECONDS
        while any(m.peers() != wanted for m in members):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not form: {[m.peers() for m in members]}")
            time.sleep(0.05)
        yield members
    finally:
        for member in members:
            member.stop()
