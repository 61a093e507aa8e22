"""The cockpit config a world writes: the only way the cockpit learns where the world is.

Strings are written with json.dumps, whose output is also a valid TOML basic string, except
for DEL, which TOML wants escaped; paths are absolute so the file works from any directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_array(values: Sequence[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


@dataclass(frozen=True)
class ProtocolInputs:
    """Where the world's FTP, SFTP and WebDAV front ends listen (None: not running)."""

    password_file: Path
    ftp_port: int | None = None
    sftp_port: int | None = None
    known_hosts: Path | None = None
    webdav_url: str | None = None


@dataclass(frozen=True)
class PartInputs:
    """The scenario's other parts the cockpit watches: the fleet's hosts (name, base URL, root
    directory), the config repository and the feature pipeline's tool, the maintenance log."""

    hosts: tuple[tuple[str, str, Path], ...] = ()
    aptctl: tuple[str, ...] = ()  # argv prefix of the world's apt-get
    config_repo: Path | None = None
    config_paths: tuple[str, ...] = ()
    featurectl: tuple[str, ...] = ()  # argv prefix of the feature tool, with its --root
    maintenance_log: Path | None = None


@dataclass(frozen=True)
class ConfigInputs:
    service: str
    environment: str
    service_url: str
    sentry_url: str
    sentry_org: str
    sentry_project: str
    deploy_root: Path
    deploy_log: Path
    access_log: Path
    token_file: Path
    python: str
    protocols: ProtocolInputs | None = None
    alertmanager_url: str | None = None
    parts: PartInputs = PartInputs()


Probe = dict[str, str | int | float]
Table = dict[str, str | int | float | tuple[str, ...]]


def _value(value: str | int | float | tuple[str, ...]) -> str:
    if isinstance(value, tuple):
        return toml_array(value)
    return toml_string(value) if isinstance(value, str) else repr(value)


def _table(
    name: str, keys: Mapping[str, str | int | float | tuple[str, ...]], comment: str | None = None
) -> str:
    lines = [f"# {comment}"] if comment else []
    lines.append(f"[[{name}]]")
    lines.extend(f"{key} = {_value(value)}" for key, value in keys.items())
    return "\n".join(lines) + "\n"


def _writable(probe: Probe) -> bool:
    """A probe kind this cockpit knows, with every key we would write: else the config would
    not load. Kinds arrive with the cockpit's probe sources, not with the world."""
    from cockpit.config.probes import PROBE_KINDS

    kind = PROBE_KINDS.get(str(probe["kind"]))
    if kind is None:
        return False
    names = {f.name for f in fields(kind)}
    # A secret field `x` is given as `x_file` (or `x_env`) in the file.
    keys = {key.removesuffix("_file") for key in probe if key != "kind"}
    return keys <= names


def _twins(name: str, protocol: str, base: Probe) -> list[Probe]:
    """One session at a time, and four at once: the pair that tells the incident's story.
    Each has its own account (the bug is per user: a probe must only trip over itself)."""
    common: Probe = {"interval": 2, "timeout": 4}
    single = {"name": name, **base, "user": f"monitor-{protocol}", **common}
    many = {"name": f"{name}-x4", **base, "user": f"monitor-{protocol}-x4", **common}
    return [_ordered(single), _ordered({**many, "concurrency": 4})]


def protocol_probes(protocols: ProtocolInputs) -> list[Probe]:
    """The FTP/SFTP/WebDAV probe twins, for the kinds this cockpit can load. Their timeout
    leaves room for a slow dependency (~2 s): slow shows as latency, not as failure."""
    secret = str(protocols.password_file)
    families: list[list[Probe]] = []
    if protocols.ftp_port is not None:
        ftp: Probe = {"kind": "ftp", "host": "127.0.0.1", "port": protocols.ftp_port}
        ftp |= {"password_file": secret, "list_path": "/"}
        families.append(_twins("ftp-login", "ftp", ftp))
    if protocols.sftp_port is not None and protocols.known_hosts is not None:
        sftp: Probe = {"kind": "sftp", "host": "127.0.0.1", "port": protocols.sftp_port}
        sftp |= {"password_file": secret, "known_hosts": str(protocols.known_hosts)}
        families.append(_twins("sftp-list", "sftp", {**sftp, "list_path": "/"}))
    if protocols.webdav_url is not None:
        dav: Probe = {"kind": "webdav", "url": protocols.webdav_url, "password_file": secret}
        families.append(_twins("webdav-propfind", "webdav", {**dav, "depth": 1}))
    return [probe for family in families if all(map(_writable, family)) for probe in family]


_ORDER = ("name", "kind", "host", "port", "url", "user", "password_file", "known_hosts")


def _ordered(probe: Probe) -> Probe:
    first = {key: probe[key] for key in _ORDER if key in probe}
    return first | {key: value for key, value in probe.items() if key not in first}


def _service_actions_supported() -> bool:
    from cockpit.config.services import ServiceConfig

    return "actions" in {f.name for f in fields(ServiceConfig)}


def render(inputs: ConfigInputs) -> str:
    s = toml_string
    deployctl = [inputs.python, "-m", "cockpit.world.deployctl", "--root", str(inputs.deploy_root)]
    revert = [*deployctl, "rollback", "--to", "{previous.version}"]
    preflight = [*deployctl, "check", "{previous.version}"]
    failover = [*deployctl, "failover"]
    health = f"{inputs.service_url}/healthz"
    # Each session probe is its own user: the bug is per user, and two probes of one user
    # polling in step would trip over each other instead of over the bug.
    single = f"{inputs.service_url}/session?user=monitor"
    many = f"{inputs.service_url}/session?user=monitor-x4"
    # Five reads at once from a mobile client: after a failover, one mobile request in five
    # keeps failing, so nearly every round of this probe catches the long tail.
    mobile = f"{inputs.service_url}/files/inbox/?client=mobile&user=monitor-mobile"

    extra = protocol_probes(inputs.protocols) if inputs.protocols is not None else []
    probes: list[str] = [
        _table(
            "probes",
            {"name": "web-health", "kind": "http", "url": health, "interval": 2, "timeout": 2},
            "The monitor that stayed green in the real incident: one connection at a time.",
        )
    ]
    # At 80x24 the probe panel holds eight rows: the HTTP session twins give way to the
    # protocols the incident was about once all three can be probed.
    if len(extra) < 6:
        probes.append(
            _table(
                "probes",
                {"name": "session", "kind": "http", "url": single, "interval": 2, "timeout": 2},
            )
        )
        probes.append(
            _table(
                "probes",
                {
                    "name": "session-x4",
                    "kind": "http",
                    "url": many,
                    "concurrency": 4,
                    "interval": 2,
                    "timeout": 2,
                },
                "Four sessions at once: what the customers' sync jobs did, and what broke.",
            )
        )
    probes.extend(_table("probes", probe) for probe in extra)
    probes.extend(_part_probes(inputs))
    probes.append(
        _table(
            "probes",
            {
                "name": "mobile-files",
                "kind": "http",
                "url": mobile,
                "concurrency": 5,
                "interval": 2,
                "timeout": 4,
            },
            "The mobile app's reads: where a failover's long tail shows.",
        )
    )

    actions = ""
    if _service_actions_supported():
        actions = f"actions = {{ failover = {toml_array(failover)} }}\n"
    return f"""\
# Written by the drill world: every address and path below belongs to it.

[cockpit]
service = {s(inputs.service)}
environment = {s(inputs.environment)}
drill = true

[detect]
# This Sentry runs on this host and has an event within a second or two: its silence about a
# failure 8 s old is already a blind spot.
blind_spot_grace = 8

{chr(10).join(probes)}
[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = {s(str(inputs.deploy_log))}
interval = 1
{_changes(inputs)}
[[errors]]
name = "edge"
kind = "nginx_combined"
path = {s(str(inputs.access_log))}
bucket_seconds = 5
window = 600
read_back = 600
interval = 1

[[sentry]]
name = "sentry"
base_url = {s(inputs.sentry_url)}
org = {s(inputs.sentry_org)}
project = {toml_array([inputs.sentry_project])}
environment = {s(inputs.environment)}
token_file = {s(str(inputs.token_file))}
interval = 3

[[services]]
name = {s(inputs.service)}
revert = {toml_array(revert)}
preflight = [{toml_array(preflight)}]
revert_timeout = 30
{actions}{_alerts(inputs)}"""


def _part_probes(inputs: ConfigInputs) -> list[str]:
    parts = inputs.parts
    out = []
    for i, (name, url, _root) in enumerate(parts.hosts):
        out.append(
            _table(
                "probes",
                {
                    "name": name,
                    "kind": "http",
                    "url": f"{url}/healthz",
                    "interval": 2,
                    "timeout": 2,
                },
                "Each node behind the service, checked on its own." if i == 0 else None,
            )
        )
    if parts.config_repo is not None:
        base = f"{inputs.service_url}/download?files="
        out.append(
            _table(
                "probes",
                {
                    "name": "download-1-file",
                    "kind": "http",
                    "url": f"{base}inbox/00017.dat&user=monitor-dl",
                    "interval": 2,
                    "timeout": 2,
                },
                "What the web interface does with one file, and with two (the ZIP path).",
            )
        )
        out.append(
            _table(
                "probes",
                {
                    "name": "download-2-files",
                    "kind": "http",
                    "url": f"{base}inbox/00017.dat,inbox/00018.dat&user=monitor-zip",
                    "interval": 2,
                    "timeout": 2,
                },
            )
        )
    return out


def change_kinds() -> frozenset[str]:
    """The [[changes]] kinds this cockpit can load (none before it had change sources)."""
    try:
        from cockpit.config.changes import CHANGE_KINDS
    except ImportError:
        return frozenset()
    return frozenset(CHANGE_KINDS)


def _changes(inputs: ConfigInputs) -> str:
    parts, kinds = inputs.parts, change_kinds()
    tables: list[tuple[str, Table, str | None]] = []
    for i, (name, _url, root) in enumerate(parts.hosts):
        downgrade = (*parts.aptctl, "--root", str(root), "install", "-y", "--allow-downgrades")
        tables.append(
            (
                "apt-history",
                {
                    "name": f"{name}-apt",
                    "kind": "apt-history",
                    "host": name,
                    "path": str(root / "var/log/apt/history.log"),
                    "interval": 1,
                    "revert": (*downgrade, "{package}={old_version}"),
                },
                "What apt installed on each node; a package reverts by downgrading it."
                if i == 0
                else None,
            )
        )
    if parts.config_repo is not None:
        tables.append(
            (
                "git",
                {
                    "name": "config-repo",
                    "kind": "git",
                    "repo": str(parts.config_repo),
                    "paths": parts.config_paths,
                    "service": inputs.service,
                    "interval": 1,
                },
                "The service's config repository; a commit reverts with git revert.",
            )
        )
    if parts.featurectl:
        tables.append(
            (
                "command",
                {
                    "name": "feature-files",
                    "kind": "command",
                    "command": (*parts.featurectl, "--service", inputs.service, "history"),
                    "service": inputs.service,
                    "interval": 1,
                    "revert": (*parts.featurectl, "rollback", "{subject}", "{old}"),
                },
                "The bot-management feature file's publications; one reverts by publishing "
                "the version before it.",
            )
        )
        tables.append(
            (
                "command",
                {
                    "name": "db-grants",
                    "kind": "command",
                    "command": (*parts.featurectl, "grants"),
                    "interval": 1,
                },
                "Access-control changes of the database the feature file is made from.",
            )
        )
    if parts.maintenance_log is not None:
        tables.append(
            (
                "maintenance",
                {
                    "name": "maintenance",
                    "kind": "maintenance",
                    "path": str(parts.maintenance_log),
                    "interval": 1,
                },
                "What the maintenance scripts ran, on which hosts (dry runs are not changes).",
            )
        )
    out = [_table("changes", keys, comment) for kind, keys, comment in tables if kind in kinds]
    return "\n" + "\n".join(out) if out else ""


def _alerts(inputs: ConfigInputs) -> str:
    if not inputs.alertmanager_url:
        return ""
    scope = f'service="{inputs.service}"'
    return f"""
[[alerts]]
name = "alertmanager"
urls = {toml_array([inputs.alertmanager_url])}
matchers = {toml_array([scope])}
interval = 2
"""
