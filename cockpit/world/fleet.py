"""The hosts behind the service, each with its own packages and its own health endpoint.

    fleet = Fleet(directory / "hosts", FleetShape(...))
    fleet.start()
    fleet.unattended_upgrades()       # the 06:00 timer on every host (Datadog 2023-03-08)
    fleet.pick()                      # the host the next request goes to (round robin)
    fleet.stop()

Each host is a directory laid out like the host's own root (see debian.py) and an HTTP server
on 127.0.0.1 answering `GET /healthz`. A host's network works unless the package that broke it
runs at the version that broke it: the state follows the host's dpkg status file, so the
downgrade a responder runs (aptctl, as apt-get would) really brings the host back. A host whose
network is gone never answers: a client times out, as it does against a host whose routes were
flushed.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from cockpit.timeutil import utcnow
from cockpit.world.debian import DebianHost
from cockpit.world.servers.loopback import LoopbackServer, QuietHandler

HOSTS_DIR = "hosts"
_STATE_READ_EVERY = 0.1  # seconds; how stale a host's idea of its own packages may be
_SILENCE = 60.0  # seconds a host without routes keeps a connection hanging at most


@dataclass(frozen=True)
class PastInstall:
    age: timedelta  # before the world starts
    packages: Mapping[str, str]
    by: str = ""  # "" = unattended-upgrades' timer


@dataclass(frozen=True)
class FleetShape:
    hosts: tuple[str, ...]
    installed: Mapping[str, str]  # the same base image everywhere
    sources: Mapping[str, str]  # binary package -> source package, where they differ
    # The security update the timer installs, and the hosts whose apt sources offer it (the
    # others log that they found nothing to upgrade).
    upgrade: Mapping[str, str]
    upgraded_hosts: tuple[str, ...]
    breaking_package: str  # the package whose new version breaks networking
    history: tuple[PastInstall, ...] = ()


class FleetHost:
    def __init__(self, packages: DebianHost, breaking: tuple[str, str]):
        self.name = packages.name
        self.packages = packages
        self._breaking = breaking  # (package, version) that breaks the network
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._broken = False
        handler = type("FleetHostHandler", (_HostHandler,), {"host": self})
        self._server = LoopbackServer(handler, f"host-{self.name}")

    @property
    def url(self) -> str:
        return self._server.base_url

    def network_up(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= _STATE_READ_EVERY:
                package, version = self._breaking
                self._broken = self.packages.version(package) == version
                self._read_at = now
            return not self._broken

    def forget(self) -> None:
        with self._lock:
            self._read_at = float("-inf")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


class _HostHandler(QuietHandler):
    host: ClassVar[FleetHost]
    server_version = "host-agent/1.0"

    def do_GET(self) -> None:
        if not self.host.network_up():
            # The routes are gone: nothing comes back, and the client gives up on its own (it
            # closes, or the world's stop shuts the connection: either ends the wait).
            with contextlib.suppress(OSError, ValueError):
                select.select([self.connection], [], [], _SILENCE)
            self.close_connection = True
            return
        if self.path.split("?", 1)[0] == "/healthz":
            self.send_json(200, {"status": "ok", "host": self.host.name})
        else:
            self.send_json(404, {"error": "not found"})


class Fleet:
    def __init__(self, directory: Path, shape: FleetShape):
        self.directory = directory
        self.shape = shape
        breaking = (shape.breaking_package, shape.upgrade[shape.breaking_package])
        self.hosts: dict[str, FleetHost] = {}
        for name in shape.hosts:
            # The image as it was before `history`, which start() replays on top of it.
            packages = DebianHost(directory / name, name, shape.installed, shape.sources)
            self.hosts[name] = FleetHost(packages, breaking)
        self._turn = itertools.cycle(shape.hosts)
        self._turn_lock = threading.Lock()

    def start(self) -> None:
        now = utcnow()
        for host in self.hosts.values():
            for past in sorted(self.shape.history, key=lambda p: -p.age.total_seconds()):
                at = now - past.age
                if past.by:
                    host.packages.install(past.packages, by=past.by, at=at)
                else:
                    host.packages.unattended_upgrade(past.packages, at=at)
        for host in self.hosts.values():
            host.start()

    def stop(self) -> None:
        for host in self.hosts.values():
            host.stop()

    def unattended_upgrades(self) -> list[str]:
        """The timer fires on every host; returns the hosts that upgraded something."""
        upgraded = []
        now = utcnow()
        for name, host in self.hosts.items():
            offer = self.shape.upgrade if name in self.shape.upgraded_hosts else {}
            if host.packages.unattended_upgrade(offer, at=now):
                upgraded.append(name)
            host.forget()
        return upgraded

    def pick(self) -> FleetHost:
        with self._turn_lock:
            return self.hosts[next(self._turn)]

    def down(self) -> list[str]:
        return [name for name, host in self.hosts.items() if not host.network_up()]
