"""The cockpit config a world writes: the only way the cockpit learns where the world is.

Strings are written with json.dumps, whose output is also a valid TOML basic string, except
for DEL, which TOML wants escaped; paths are absolute so the file works from any directory.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_array(values: Sequence[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


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


def render(inputs: ConfigInputs) -> str:
    s = toml_string
    deployctl = [inputs.python, "-m", "cockpit.world.deployctl", "--root", str(inputs.deploy_root)]
    revert = [*deployctl, "rollback", "--to", "{previous.version}"]
    preflight = [*deployctl, "check", "{previous.version}"]
    health = f"{inputs.service_url}/healthz"
    # Each session probe is its own user: the bug is per user, and two probes of one user
    # polling in step would trip over each other instead of over the bug.
    single = f"{inputs.service_url}/session?user=monitor"
    many = f"{inputs.service_url}/session?user=monitor-x4"
    return f"""\
# Written by the drill world: every address and path below belongs to it.

[cockpit]
service = {s(inputs.service)}
environment = {s(inputs.environment)}
drill = true

# The monitor that stayed green in the real incident: one connection at a time.
[[probes]]
name = "web-health"
kind = "http"
url = {s(health)}
interval = 2
timeout = 2

[[probes]]
name = "session"
kind = "http"
url = {s(single)}
interval = 2
timeout = 2

# Four sessions at once: what the customers' sync jobs did, and what broke.
[[probes]]
name = "session-x4"
kind = "http"
url = {s(many)}
concurrency = 4
interval = 2
timeout = 2

[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = {s(str(inputs.deploy_log))}
interval = 1

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
"""


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
