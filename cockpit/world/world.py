"""The drill world: every server of a scenario, started together and stopped together.

    with World(tmp_path, bad_deploy_after=None) as world:
        world.apply("bad_deploy")
        httpx.get(world.urls.session)
        ...

Constructor: `World(directory=None, *, scenario="files-com", bad_deploy_after=20.0,
traffic=True, protocols=("http", "ftp", "sftp", "webdav"), write_config=None,
session_hold=SESSION_HOLD, slow_delay=SLOW_DELAY, python=sys.executable)`.
`bad_deploy_after=None` means no automatic bad deploy (a drill schedules it with apply()).
HTTP always runs (it carries the health check, the access log and Sentry's story); the other
protocols are optional. `start(wait_for_protocols=True)`: FTP, SFTP and WebDAV are bound before
the config is written and serve from a background start; `protocols_ready` (an Event) and
`wait_for_protocols()` tell when. Addresses: `world.urls` (service, healthz, session, report,
sentry, ftp, sftp, webdav); files: `password_file`, `known_hosts_path`, `files_root`,
`access_log_path`, `deploy_log_path`, `token_file`, `config_path`.

Faults, for drills (`FAULTS` names them). `apply(fault)` is thread-safe and idempotent: applying
a fault that is already in effect changes nothing and is not recorded again.

    bad_deploy       ship the scenario's bad release (the Files.com bug: every second
                     simultaneous session of a user fails, on every protocol, unreported)
    db_reinstall     the metadata database is gone (Dropbox 2014): every request that needs it
                     fails with 5xx, health checks fail, errors reach Sentry. Rolling the
                     service back does not help.
    failover         most traffic comes back; desktop clients keep failing 1 request in 20,
                     mobile clients 1 in 5, until "restore"
    slow_dependency  every request that reads metadata takes `slow_delay` (~2 s), then succeeds
    restore          the database is healthy and fast again (a bad release stays until reverted)
    deploy           ship a routine release that breaks nothing (the innocent latest deploy)
    package_upgrade  unattended-upgrades runs on every node of the fleet; the nodes offered
                     the scenario's security update install it and lose their network
    config_change    commit the scenario's bad change to the config repository
    permission_change  change the feature database's grants (harmless by itself)
    bad_feature_file the feature generator runs; after a grants change its file is too big
                     and the proxy fails every request
    maintenance_dry_run  the maintenance script's dry run (logged as one, changes nothing);
                     with a maintenance log, db_reinstall logs the real run

`world.faults` lists `(UTC time, fault)` in the order they took effect. `deployctl --root DIR
failover` applies "failover" from another process (see control.py).

The world directory holds the service's deploy root (releases/, current, deploys.jsonl), its
access.log, the Sentry read token (sentry.token, mode 0600), the accounts' password
(files.password, 0600), the files tree the protocols serve (files/), the SFTP host key and its
known_hosts, the control door (control.json, 0600) and the cockpit config it writes.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

import sentry_sdk

from cockpit.host.files import write_file
from cockpit.timeutil import utcnow
from cockpit.world import configfile
from cockpit.world.accesslog import AccessLog
from cockpit.world.accounts import FILES_DIR, PASSWORD_FILE, Accounts, make_files
from cockpit.world.alertmanager.rules import FiveXxRule
from cockpit.world.alertmanager.server import Alertmanager, start_alertmanager
from cockpit.world.backend import FilesBackend, Gate, GateFailure
from cockpit.world.configrepo import CONFIG_REPO_DIR, ConfigRepo
from cockpit.world.control import CONTROL_FILE, ControlServer, FaultNotApplicable, UnknownFault
from cockpit.world.database import SLOW_DELAY, Database
from cockpit.world.features import FEATURES_DIR, FeatureFileError, FeatureStore
from cockpit.world.fleet import HOSTS_DIR, Fleet
from cockpit.world.maintenance import MAINTENANCE_LOG, MaintenanceLog
from cockpit.world.releases import CURRENT_LINK, DEPLOY_LOG, RELEASES_DIR, ReleaseRoot
from cockpit.world.scenarios import (
    HEADERS_PATH,
    SCENARIOS,
    ZIP_BREAKING_HEADER,
    Scenario,
    versions_for,
)
from cockpit.world.sentry.api import SentryServer
from cockpit.world.sentry.issues import Project
from cockpit.world.servers.hostkey import HostKey, make_host_key
from cockpit.world.service import SESSION_HOLD, FilesWebService, ZipRefused
from cockpit.world.traffic import BackgroundTraffic

log = logging.getLogger("cockpit.world")

ACCESS_LOG = "access.log"
TOKEN_FILE = "sentry.token"
CONFIG_FILE = "cockpit.toml"
HOST_KEY_FILE = "sftp_host_key"
KNOWN_HOSTS_FILE = "known_hosts"
SENTRY_PROJECT_ID = "2"
# A directory holding this file was made by a world and may be reset by the next one.
_MARKER = ".cockpit-world"
_RESETTABLE = (
    RELEASES_DIR,
    CURRENT_LINK,
    DEPLOY_LOG,
    ACCESS_LOG,
    TOKEN_FILE,
    CONFIG_FILE,
    PASSWORD_FILE,
    FILES_DIR,
    HOST_KEY_FILE,
    KNOWN_HOSTS_FILE,
    CONTROL_FILE,
    HOSTS_DIR,
    CONFIG_REPO_DIR,
    FEATURES_DIR,
    MAINTENANCE_LOG,
)
PROTOCOLS = ("http", "ftp", "sftp", "webdav")
FAULTS = (
    "bad_deploy",
    "db_reinstall",
    "failover",
    "slow_dependency",
    "restore",
    "deploy",
    "package_upgrade",
    "config_change",
    "permission_change",
    "bad_feature_file",
    "maintenance_dry_run",
)
# What the maintenance script of a world with maintenance hosts says of itself.
MAINTENANCE_SCRIPT = "os-upgrade"
MAINTENANCE_WHAT = "reinstall the OS on machines marked idle"
# Faults of the scenario's parts (fleet, config repository, feature file, maintenance log).
_PART_FAULTS = frozenset(
    {
        "deploy",
        "package_upgrade",
        "config_change",
        "permission_change",
        "bad_feature_file",
        "maintenance_dry_run",
    }
)
_SDK_THREAD_JOIN = 2.0
_REPORTED_BEFORE_DEPLOY = 5.0  # seconds the bad deploy may wait for the first Sentry issue
_DEPLOY_LOG_PRECISION = 1.0
_PROTOCOL_START = 30.0  # seconds; generous, since a loaded machine imports slowly


class _Frontend(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def _listen() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _port_of(url: str | None) -> int | None:
    return urlsplit(url).port if url else None


class WorldError(Exception):
    """The world cannot start; the message is meant for the person who started it."""


@dataclass(frozen=True)
class WorldUrls:
    service: str
    healthz: str
    session: str
    report: str
    sentry: str
    sentry_dsn: str  # holds only the public ingest key, like any DSN
    ftp: str | None = None  # ftp://127.0.0.1:<port>
    sftp: str | None = None  # sftp://127.0.0.1:<port>
    webdav: str | None = None  # http://127.0.0.1:<port>/
    alertmanager: str | None = None  # http://127.0.0.1:<port>, when the world runs one


class World:
    def __init__(
        self,
        directory: Path | None = None,
        *,
        scenario: str = "files-com",
        bad_deploy_after: float | None = 20.0,
        write_config: Path | None = None,
        traffic: bool = True,
        protocols: tuple[str, ...] | list[str] = PROTOCOLS,
        session_hold: float = SESSION_HOLD,
        slow_delay: float = SLOW_DELAY,
        python: str = sys.executable,
        alertmanager: bool = False,
        alert_timing: tuple[float, float] | None = None,
    ):
        if scenario not in SCENARIOS:
            known = ", ".join(sorted(SCENARIOS))
            raise WorldError(f"unknown scenario {scenario!r} (known: {known})")
        unknown = sorted(set(protocols) - set(PROTOCOLS))
        if unknown:
            raise WorldError(f"unknown protocol {unknown[0]!r} (known: {', '.join(PROTOCOLS)})")
        self.protocols = tuple(p for p in PROTOCOLS if p == "http" or p in protocols)
        self.slow_delay = slow_delay
        self.scenario: Scenario = SCENARIOS[scenario]
        self.bad_deploy_after = bad_deploy_after
        self.traffic_enabled = traffic
        self.session_hold = session_hold
        self.python = python
        self._requested_directory = directory
        self._requested_config = write_config
        self._owns_directory = False
        self.directory: Path | None = None
        self.config_path: Path | None = None
        self.urls: WorldUrls | None = None
        self.releases: ReleaseRoot | None = None
        self.good_version = ""
        self.bad_version = ""
        self.bad_deployed = threading.Event()  # set once the bad release is live
        self._stopping = threading.Event()
        self._deploy_lock = threading.Lock()
        self._started = False
        self._access_log: AccessLog | None = None
        self._sentry_server: SentryServer | None = None
        self._sentry_client: sentry_sdk.Client | None = None
        self._sdk_threads_before: set[threading.Thread] = set()
        self._backend: FilesBackend | None = None
        self._accounts: Accounts | None = None
        self._service: FilesWebService | None = None
        self._frontends: list[_Frontend] = []
        self._frontends_lock = threading.Lock()
        self._listeners: dict[str, socket.socket] = {}
        self._protocol_starter: threading.Thread | None = None
        self._protocol_error: str | None = None
        self.protocols_ready = threading.Event()  # FTP, SFTP and WebDAV serve
        self._control: ControlServer | None = None
        self._traffic: BackgroundTraffic | None = None
        self._scheduler: threading.Thread | None = None
        self._fault_lock = threading.Lock()
        self._faults: list[tuple[datetime, str]] = []
        # A real Alertmanager fed by the world's 5xx rule: the page the engineer gets.
        self.alertmanager_enabled = alertmanager
        # (seconds between evaluations, seconds judged) of the 5xx rule; None: Prometheus'
        # usual 2 s over 20 s. A drill on a compressed clock judges shorter windows.
        self.alert_timing = alert_timing
        self._alertmanager: Alertmanager | None = None
        self._alert_rule: FiveXxRule | None = None
        # The scenario's other parts, each only when its scenario has it.
        self.fleet: Fleet | None = None
        self.config_repo: ConfigRepo | None = None
        self.features: FeatureStore | None = None
        self.maintenance: MaintenanceLog | None = None
        self.innocent_version = ""
        self.innocent_deployed = False
        self.bad_commit = ""  # the sha the config_change fault committed

    # -- paths --------------------------------------------------------------------------------

    @property
    def access_log_path(self) -> Path:
        return self._dir() / ACCESS_LOG

    @property
    def token_file(self) -> Path:
        return self._dir() / TOKEN_FILE

    @property
    def deploy_log_path(self) -> Path:
        return self._dir() / DEPLOY_LOG

    @property
    def password_file(self) -> Path:
        """The accounts' password (FTP, SFTP, WebDAV); every account shares it."""
        return self._dir() / PASSWORD_FILE

    @property
    def known_hosts_path(self) -> Path:
        return self._dir() / KNOWN_HOSTS_FILE

    @property
    def files_root(self) -> Path:
        return self._dir() / FILES_DIR

    @property
    def backend(self) -> FilesBackend:
        if self._backend is None:
            raise WorldError("the world is not running")
        return self._backend

    @property
    def faults(self) -> list[tuple[datetime, str]]:
        """(UTC time, fault) for each fault that took effect, in order."""
        with self._fault_lock:
            return list(self._faults)

    @property
    def sentry(self) -> SentryServer:
        if self._sentry_server is None:
            raise WorldError("the world is not running")
        return self._sentry_server

    @property
    def service(self) -> FilesWebService:
        if self._service is None:
            raise WorldError("the world is not running")
        return self._service

    def _dir(self) -> Path:
        if self.directory is None:
            raise WorldError("the world has not started")
        return self.directory

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> World:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, *, wait_for_protocols: bool = True) -> None:
        """Start every server and write the config. FTP, SFTP and WebDAV listen from the start
        but begin serving a moment later, in the background (their libraries take most of a
        start); without `wait_for_protocols` this returns before, and early clients simply
        wait in the listen queue. `protocols_ready` is set once they serve."""
        if self._started:
            raise WorldError("a world starts once")
        self._started = True
        try:
            self._start()
            if wait_for_protocols:
                self.wait_for_protocols()
        except BaseException:
            self.stop()
            raise

    def wait_for_protocols(self, timeout: float = _PROTOCOL_START) -> None:
        """Block until FTP, SFTP and WebDAV serve; WorldError if they could not start."""
        if not self.protocols_ready.wait(timeout):
            raise WorldError(f"the protocol servers did not start within {timeout:g}s")
        if self._protocol_error is not None:
            raise WorldError(f"the protocol servers did not start: {self._protocol_error}")

    def _start(self) -> None:
        scenario = self.scenario
        directory = self._prepare_directory()
        releases = self.releases = ReleaseRoot(directory)
        now = utcnow()
        times = [now - past.age for past in scenario.history]
        *history_versions, self.bad_version, self.innocent_version = versions_for(
            [*times, now, now]
        )
        self.good_version = history_versions[-1]
        for past, at, version in zip(scenario.history, times, history_versions, strict=True):
            releases.deploy(
                service=scenario.service,
                version=version,
                who=past.who,
                summary=past.summary,
                at=at,
            )

        token = secrets.token_urlsafe(32)
        write_file(directory / TOKEN_FILE, token + "\n", mode=0o600, parents=True)
        self._access_log = AccessLog(directory / ACCESS_LOG)

        project = Project(id=SENTRY_PROJECT_ID, slug=scenario.service, name=scenario.service)
        sentry = self._sentry_server = SentryServer(
            org=scenario.sentry_org,
            project=project,
            public_key=secrets.token_hex(16),
            token=token,
        )
        sentry.start()
        self._sdk_threads_before = set(threading.enumerate())
        self._sentry_client = sentry_sdk.Client(
            dsn=sentry.dsn,
            release=f"{scenario.service}@{self.good_version}",
            environment=scenario.environment,
            server_name=f"{scenario.service}-1",
            # The world is a guest in whatever process runs it: no global hooks, no extra
            # threads beyond the transport's worker.
            default_integrations=False,
            auto_enabling_integrations=False,
            enable_backpressure_handling=False,
            send_client_reports=False,
        )

        self._accounts = Accounts.create(directory)
        files_root = make_files(directory / FILES_DIR)
        gates = self._start_parts(directory, now)
        backend = self._backend = FilesBackend(
            name=scenario.service,
            releases=releases,
            bad_versions=frozenset({self.bad_version}),
            database=Database(self._stopping, slow_delay=self.slow_delay),
            stopping=self._stopping,
            sentry_client=self._sentry_client,
            session_hold=self.session_hold,
            gates=gates,
        )
        service = self._service = FilesWebService(
            backend=backend,
            access_log=self._access_log,
            zip_check=self._zip_check if self.config_repo is not None else None,
        )
        service.start()
        protocols = self._bind_protocols(files_root)
        control = self._control = ControlServer(self._apply_from_control)
        control.start(directory)

        base = service.base_url
        if self.alertmanager_enabled:
            self._alertmanager = start_alertmanager(directory / "alertmanager")
            self._alert_rule = FiveXxRule(
                self._alertmanager,
                directory / ACCESS_LOG,
                scenario.service,
                self._stopping,
                **(
                    {"evaluation": self.alert_timing[0], "window": self.alert_timing[1]}
                    if self.alert_timing
                    else {}
                ),
            )
            self._alert_rule.start()
        self.urls = WorldUrls(
            service=base,
            healthz=f"{base}/healthz",
            session=f"{base}/session",
            report=f"{base}/report",
            sentry=sentry.base_url,
            sentry_dsn=sentry.dsn,
            ftp=f"ftp://127.0.0.1:{protocols.ftp_port}" if protocols.ftp_port else None,
            sftp=f"sftp://127.0.0.1:{protocols.sftp_port}" if protocols.sftp_port else None,
            webdav=protocols.webdav_url,
            alertmanager=self._alertmanager.url if self._alertmanager else None,
        )

        self.config_path = (self._requested_config or directory / CONFIG_FILE).resolve()
        inputs = configfile.ConfigInputs(
            service=scenario.service,
            environment=scenario.environment,
            service_url=base,
            sentry_url=sentry.base_url,
            sentry_org=scenario.sentry_org,
            sentry_project=project.slug,
            deploy_root=directory,
            deploy_log=releases.log_path,
            access_log=directory / ACCESS_LOG,
            token_file=directory / TOKEN_FILE,
            python=self.python,
            protocols=protocols,
            alertmanager_url=self._alertmanager.url if self._alertmanager else None,
            parts=self._part_inputs(directory),
        )
        write_file(self.config_path, configfile.render(inputs), parents=True)

        if self.traffic_enabled:
            self._traffic = BackgroundTraffic(
                "127.0.0.1",
                service.port,
                webdav_port=_port_of(protocols.webdav_url),
                accounts=self._accounts,
                downloads=self.config_repo is not None,
            )
            self._traffic.start()
        if self.bad_deploy_after is not None and self.bad_deploy_after >= 0:
            self._scheduler = threading.Thread(
                target=self._deploy_bad_later, name="world-deploys", daemon=True
            )
            self._scheduler.start()
        log.info("world %s started in %s", scenario.name, directory)

    def _start_parts(self, directory: Path, now: datetime) -> list[Gate]:
        """The fleet, config repository, feature store and maintenance log the scenario has;
        returns the gates requests pass through."""
        scenario = self.scenario
        gates: list[Gate] = []
        if scenario.fleet is not None:
            fleet = self.fleet = Fleet(directory / HOSTS_DIR, scenario.fleet)
            fleet.start()
            gates.append(self._upstream_gate)
        if scenario.config_history:
            self.config_repo = ConfigRepo.create(
                directory / CONFIG_REPO_DIR, scenario.config_history
            )
        if scenario.features:
            # The generator's runs of the last half hour, every five minutes, all good.
            runs = [now - timedelta(minutes=5 * n) for n in range(6, 0, -1)]
            self.features = FeatureStore.create(directory / FEATURES_DIR, scenario.service, runs)
            gates.append(self._feature_gate)
        if scenario.maintenance_hosts:
            self.maintenance = MaintenanceLog(directory / MAINTENANCE_LOG)
        return gates

    def _upstream_gate(self) -> None:
        assert self.fleet is not None
        host = self.fleet.pick()
        if not host.network_up():
            error = ConnectionError(f"upstream {host.name}: connect: no route to host")
            raise GateFailure("upstream unreachable", 502, error)

    def _feature_gate(self) -> None:
        assert self.features is not None
        try:
            self.features.check()
        except FeatureFileError as exc:
            raise GateFailure("internal server error", 500, exc) from exc

    def _zip_check(self) -> None:
        assert self.config_repo is not None
        headers = self.config_repo.read(HEADERS_PATH) or ""
        if any(line.strip() == ZIP_BREAKING_HEADER for line in headers.splitlines()):
            raise ZipRefused(
                "ZIP builder: fetching entries refused by Cross-Origin-Resource-Policy "
                f"(set in {HEADERS_PATH})"
            )

    def _part_inputs(self, directory: Path) -> configfile.PartInputs:
        python = [self.python]
        return configfile.PartInputs(
            hosts=(
                tuple(
                    (name, host.url, host.packages.directory)
                    for name, host in self.fleet.hosts.items()
                )
                if self.fleet is not None
                else ()
            ),
            aptctl=(*python, "-m", "cockpit.world.aptctl"),
            config_repo=self.config_repo.path if self.config_repo is not None else None,
            config_paths=(HEADERS_PATH.split("/", 1)[0] + "/",),
            featurectl=(
                (*python, "-m", "cockpit.world.featurectl", "--root", str(directory))
                if self.features is not None
                else ()
            ),
            maintenance_log=self.maintenance.path if self.maintenance is not None else None,
        )

    def _bind_protocols(self, files_root: Path) -> configfile.ProtocolInputs:
        """Listening sockets (and the SFTP host key) now; the servers start in the background."""
        directory = self._dir()
        listeners = {name: _listen() for name in self.protocols if name != "http"}
        self._listeners = listeners
        ports = {name: int(sock.getsockname()[1]) for name, sock in listeners.items()}
        host_key = None
        if "sftp" in ports:
            host_key = make_host_key(
                directory / HOST_KEY_FILE, directory / KNOWN_HOSTS_FILE, ports["sftp"]
            )
        self._protocol_starter = threading.Thread(
            target=self._start_protocols,
            args=(files_root, host_key),
            name="world-protocols",
            daemon=True,
        )
        self._protocol_starter.start()
        return configfile.ProtocolInputs(
            password_file=directory / PASSWORD_FILE,
            ftp_port=ports.get("ftp"),
            sftp_port=ports.get("sftp"),
            known_hosts=directory / KNOWN_HOSTS_FILE if host_key is not None else None,
            webdav_url=f"http://127.0.0.1:{ports['webdav']}/" if "webdav" in ports else None,
        )

    def _start_protocols(self, files_root: Path, host_key: HostKey | None) -> None:
        try:
            self._start_protocol_servers(files_root, host_key)
        except Exception as exc:
            log.exception("the protocol servers did not start")
            self._protocol_error = str(exc) or type(exc).__name__
        finally:
            self.protocols_ready.set()

    def _start_protocol_servers(self, files_root: Path, host_key: HostKey | None) -> None:
        # Imported here: each costs a noticeable share of a start, and a world without that
        # protocol does not pay for it.
        backend, accounts, access_log = self._backend, self._accounts, self._access_log
        assert backend is not None and accounts is not None and access_log is not None
        listeners = self._listeners
        frontend: _Frontend
        for name in ("ftp", "sftp", "webdav"):
            if self._stopping.is_set():
                return
            if name not in listeners:
                continue
            listener = listeners[name]
            if name == "ftp":
                from cockpit.world.servers.ftp import FtpFrontend

                frontend = FtpFrontend(
                    backend=backend, accounts=accounts, root=files_root, listener=listener
                )
            elif name == "sftp":
                from cockpit.world.servers.sftp import SftpFrontend

                assert host_key is not None
                frontend = SftpFrontend(
                    backend=backend,
                    accounts=accounts,
                    root=files_root,
                    listener=listener,
                    host_key=host_key,
                )
            else:
                from cockpit.world.servers.webdav import WebDavFrontend

                frontend = WebDavFrontend(
                    backend=backend,
                    accounts=accounts,
                    root=files_root,
                    access_log=access_log,
                    listener=listener,
                )
            with self._frontends_lock:
                if self._stopping.is_set():
                    frontend.stop()
                    return
                self._frontends.append(frontend)
                del listeners[name]  # the frontend owns it now
            frontend.start()

    def _prepare_directory(self) -> Path:
        if self._requested_directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="cockpit-world-")).resolve()
            self._owns_directory = True
        else:
            directory = self._requested_directory.expanduser().resolve()
            directory.mkdir(parents=True, exist_ok=True)
            entries = {p.name for p in directory.iterdir()}
            # Other files may stay (a parent's log, say); files a world would write may only
            # be replaced if an earlier world wrote them.
            clashes = sorted(entries.intersection(_RESETTABLE))
            if clashes and _MARKER not in entries:
                raise WorldError(
                    f"{directory} already holds {', '.join(clashes)}, not made by a drill world"
                )
            for name in _RESETTABLE:
                path = directory / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            self.directory = directory
        (self.directory / _MARKER).write_text("a cockpit drill world lives here\n")
        return self.directory

    def _deploy_bad_later(self) -> None:
        assert self.bad_deploy_after is not None
        deadline = time.monotonic() + max(self.bad_deploy_after, _REPORTED_BEFORE_DEPLOY)
        if self._stopping.wait(self.bad_deploy_after):
            return
        # The scenario promises Sentry already knows the unrelated bug when the bad release
        # ships: only then is its silence about the new failures a blind spot. Traffic sends
        # the first /report at once; wait (bounded) until it was ingested a clear second
        # before now, since deploy logs keep whole seconds.
        while (
            self.traffic_enabled
            and not self._known_before(utcnow() - timedelta(seconds=_DEPLOY_LOG_PRECISION))
            and time.monotonic() < deadline
            and not self._stopping.wait(0.05)
        ):
            self.flush_sentry(timeout=0.5)
        if not self._stopping.is_set():
            try:
                self.deploy_bad()
            except OSError:
                log.exception("the bad deploy failed")

    def _known_before(self, moment: datetime) -> bool:
        return any(issue.first_seen < moment for issue in self.sentry.store.all())

    def deploy_bad(self) -> None:
        """Ship the scenario's bad release now (once); the same as apply("bad_deploy")."""
        with self._deploy_lock:
            if self.bad_deployed.is_set() or self.releases is None or self._backend is None:
                return
            self.releases.deploy(
                service=self.scenario.service,
                version=self.bad_version,
                who=self.scenario.bad_who,
                summary=self.scenario.bad_summary,
            )
            self._backend.releases.invalidate()
            self.bad_deployed.set()
            self._record("bad_deploy")
            log.info("deployed %s", self.bad_version)

    def apply(self, fault: str) -> None:
        """Make a fault happen now (see FAULTS and the module's docstring). Raises ValueError
        for a name it does not know, WorldError when the world is not running."""
        if fault not in FAULTS:
            raise UnknownFault(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
        database = self.backend.database  # raises unless the world runs
        if fault == "bad_deploy":
            self.deploy_bad()
            return
        if fault in _PART_FAULTS:
            self._apply_part(fault)
            return
        if fault == "db_reinstall" and self.maintenance is not None and database.reachable():
            # The script logs its run as it starts, before it reinstalls anything: the change
            # comes before the failure it causes.
            self.maintenance.run(
                script=MAINTENANCE_SCRIPT,
                hosts=self.scenario.maintenance_hosts,
                what=MAINTENANCE_WHAT,
                by="cron",
                dry_run=False,
                service=self.scenario.service,
            )
        with self._fault_lock:
            if self._stopping.is_set():
                raise WorldError("the world is stopping")
            changed = {
                "db_reinstall": database.reinstall,
                "failover": database.fail_over,
                "slow_dependency": database.slow_down,
                "restore": database.restore,
            }[fault]()
            if changed:
                self._faults.append((utcnow(), fault))
        if changed:
            log.info("fault applied: %s", fault)

    def _apply_part(self, fault: str) -> None:
        why = self._part_missing(fault)
        if why:
            raise FaultNotApplicable(why)
        if self._stopping.is_set():
            raise WorldError("the world is stopping")
        if fault == "deploy":
            self._deploy_innocent()
        elif fault == "package_upgrade":
            assert self.fleet is not None
            upgraded = self.fleet.unattended_upgrades()
            log.info("unattended-upgrades upgraded %s", ", ".join(upgraded) or "nothing")
        elif fault == "config_change":
            assert self.config_repo is not None and self.scenario.bad_config is not None
            bad = self.scenario.bad_config
            self.bad_commit = self.config_repo.commit(
                bad.files, author=bad.author, message=bad.message
            )
        elif fault == "permission_change":
            assert self.features is not None
            self.features.change_grants(
                statement="GRANT SELECT ON r0.* TO feature_generator",
                by="db-access-migrations",
                host="clickhouse-1",
            )
        elif fault == "bad_feature_file":
            assert self.features is not None
            self.features.publish_from_query()
        elif fault == "maintenance_dry_run":
            assert self.maintenance is not None
            self.maintenance.run(
                script=MAINTENANCE_SCRIPT,
                hosts=self.scenario.maintenance_hosts,
                what=MAINTENANCE_WHAT,
                by="cron",
                dry_run=True,
                service=self.scenario.service,
            )
        self._record(fault)
        log.info("fault applied: %s", fault)

    def _part_missing(self, fault: str) -> str:
        """Why this world cannot apply a fault of one of its parts ("" when it can)."""
        name = self.scenario.name
        if fault == "deploy" and self.innocent_deployed:
            return "the routine release already shipped in this world"
        if fault == "package_upgrade" and self.fleet is None:
            return f"the {name} world has no fleet of hosts"
        if fault == "config_change":
            if self.config_repo is None or self.scenario.bad_config is None:
                return f"the {name} world has no config repository"
            if self.bad_commit:
                return "the bad config change was already committed in this world"
        if fault in ("permission_change", "bad_feature_file") and self.features is None:
            return f"the {name} world has no feature file"
        if fault == "maintenance_dry_run" and self.maintenance is None:
            return f"the {name} world has no maintenance script"
        return ""

    def _deploy_innocent(self) -> None:
        assert self.releases is not None and self._backend is not None
        with self._deploy_lock:
            self.releases.deploy(
                service=self.scenario.service,
                version=self.innocent_version,
                who=self.scenario.innocent_who,
                summary=self.scenario.innocent_summary,
            )
            self._backend.releases.invalidate()
            self.innocent_deployed = True

    def _apply_from_control(self, fault: str, strict: bool = False) -> None:
        # The door is the service action's lever (deployctl failover) and, in practice mode,
        # the cockpit's "inject fault" command; its token file is readable by its owner only.
        if fault not in FAULTS:
            raise UnknownFault(f"unknown fault {fault!r}; one of: {', '.join(FAULTS)}")
        why = self.why_not(fault) if strict else ""
        if why:
            raise FaultNotApplicable(why)  # said before, rather than "injected" and nothing
        self.apply(fault)

    def why_not(self, fault: str) -> str:
        """Why `fault` would change nothing now ("" when it would apply)."""
        from cockpit.world.database import DatabaseState

        database = self.backend.database
        if fault == "bad_deploy" and self.bad_deployed.is_set():
            return (
                f"the bad release {self.bad_version} already shipped once in this world; it "
                "does not ship again after a revert"
            )
        if fault in _PART_FAULTS:
            return self._part_missing(fault)
        state = database.state
        if fault == "db_reinstall" and state is DatabaseState.REINSTALLED:
            return "the database is already reinstalled (restore first)"
        if fault == "failover" and state is DatabaseState.FAILED_OVER:
            return "the database has already failed over (restore first)"
        if fault == "slow_dependency" and database.slow:
            return "the database is already slow (restore first)"
        if fault == "restore" and state is DatabaseState.UP and not database.slow:
            return (
                "the database is already healthy; restore does not undo a bad release (revert it)"
            )
        return ""

    def _record(self, fault: str) -> None:
        with self._fault_lock:
            self._faults.append((utcnow(), fault))

    def flush_sentry(self, timeout: float = 5.0) -> None:
        """Wait until the service's Sentry events have been delivered to the world's Sentry."""
        if self._sentry_client is not None:
            self._sentry_client.flush(timeout=timeout)

    def stop(self) -> None:
        """Stop everything that started; safe to call twice or after a failed start."""
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.join()
            self._scheduler = None
        if self._control is not None:
            self._control.stop()
            self._control = None
        if self._alert_rule is not None:
            self._alert_rule.join()
            self._alert_rule = None
        if self._alertmanager is not None:
            self._alertmanager.stop()
            self._alertmanager = None
        if self._traffic is not None:
            self._traffic.stop()
            self._traffic = None
        if self.fleet is not None:
            self.fleet.stop()
        if self._protocol_starter is not None:
            self._protocol_starter.join()
            self._protocol_starter = None
        with self._frontends_lock:
            frontends, self._frontends = self._frontends, []
        for frontend in reversed(frontends):
            frontend.stop()
        for listener in self._listeners.values():
            listener.close()  # bound, never served
        self._listeners = {}
        if self._service is not None:
            self._service.stop()
            self._service = None
        if self._sentry_client is not None:
            self._sentry_client.close(timeout=_SDK_THREAD_JOIN)
            self._sentry_client = None
            self._join_sdk_threads()
        if self._sentry_server is not None:
            self._sentry_server.stop()
            self._sentry_server = None
        if self._access_log is not None:
            self._access_log.close()
            self._access_log = None
        if self._owns_directory and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self._owns_directory = False

    def _join_sdk_threads(self) -> None:
        # close() tells the SDK's worker to finish but does not wait for it.
        for thread in threading.enumerate():
            if thread not in self._sdk_threads_before and thread.name.startswith("sentry-sdk"):
                thread.join(_SDK_THREAD_JOIN)
