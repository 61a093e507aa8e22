"""[[changes]]: what changed besides deploys (packages, config commits, maintenance runs,
flags); `CHANGE_KINDS` maps `kind` to the dataclass.

Every kind may declare how one of its changes is reverted: `revert`, an argv template (no
shell) with the placeholders of `CHANGE_PLACEHOLDERS`; without one, a revert plan says that
this kind of change has no revert.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cockpit.config.base import FieldError
from cockpit.config.schema import Argv, GitRef, Name, OutputBytes, Pathspec, Seconds, Text, between
from cockpit.config.services import template_problem

MAX_CHANGES = 5000
MaxChanges = Annotated[int, between(1, MAX_CHANGES)]

# What a revert template may name; each value lands inside one argv element, never split.
CHANGE_PLACEHOLDERS = (
    "kind",
    "host",
    "service",
    "subject",
    "old",
    "new",
    "id",
    "at",
    "by",
    "source",
    "package",  # = subject
    "old_version",  # = old
    "new_version",  # = new
    "commit",  # = id
    "repo",  # git only
    "path",  # the first path the change touched
)


def this_host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def _check_revert(cfg: _ChangeBase) -> None:
    templates: list[tuple[str | tuple[str, int], tuple[str, ...]]] = []
    if cfg.revert is not None:
        templates.append(("revert", cfg.revert))
    templates += [(("revert_preflight", i), argv) for i, argv in enumerate(cfg.revert_preflight)]
    for key, argv in templates:
        if not argv or not argv[0]:
            raise FieldError(key, "expected a program and its arguments")
        for element in argv:
            problem = template_problem(element, CHANGE_PLACEHOLDERS)
            if problem:
                raise FieldError(key, problem)


def _check_timezone(timezone: str) -> None:
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise FieldError("timezone", f"unknown time zone {timezone!r}") from None


@dataclass(frozen=True)
class _ChangeBase:
    """Keys every [[changes]] kind has (see README, "What changed")."""

    name: Name
    host: str = ""  # the host the log belongs to; "" = this host
    service: str = ""
    interval: Seconds = 30.0
    timeout: Seconds = 10.0
    max_changes: MaxChanges = 200
    revert: Argv | None = None
    revert_preflight: tuple[Argv, ...] = ()
    revert_timeout: Seconds = 300.0
    revert_dry_run: bool = False

    @property
    def host_name(self) -> str:
        return self.host or this_host()

    def check(self) -> None:
        _check_revert(self)


@dataclass(frozen=True, kw_only=True)
class _LogChangesBase(_ChangeBase):
    """A log file, with its rotated siblings, or a command printing it (another host's)."""

    default_path: ClassVar[str] = ""
    path: Path | None = None
    command: tuple[Text, ...] = ()
    rotated: bool = True  # also path.1, path.2.gz, ... as logrotate leaves them
    timezone: str = ""  # what the log's local times mean; "" = this host's zone
    max_output_bytes: OutputBytes = 16 * 1_048_576

    @property
    def log_path(self) -> Path | None:
        if self.command:
            return None
        return self.path or (Path(self.default_path) if self.default_path else None)

    def check(self) -> None:
        super().check()
        _check_timezone(self.timezone)
        if self.path is not None and self.command:
            raise FieldError("command", "give path or command, not both")
        if not self.command and self.log_path is None:
            raise FieldError("path", "missing: the log file to read (or a command printing it)")


@dataclass(frozen=True, kw_only=True)
class DpkgChangesConfig(_LogChangesBase):
    kind: ClassVar[str] = "dpkg"
    source: ClassVar[str] = "cockpit.sources.changes.logs:LogChanges"
    default_path: ClassVar[str] = "/var/log/dpkg.log"


@dataclass(frozen=True, kw_only=True)
class AptHistoryChangesConfig(_LogChangesBase):
    kind: ClassVar[str] = "apt-history"
    source: ClassVar[str] = "cockpit.sources.changes.logs:LogChanges"
    default_path: ClassVar[str] = "/var/log/apt/history.log"


@dataclass(frozen=True, kw_only=True)
class UnattendedUpgradesChangesConfig(_LogChangesBase):
    kind: ClassVar[str] = "unattended-upgrades"
    source: ClassVar[str] = "cockpit.sources.changes.logs:LogChanges"
    default_path: ClassVar[str] = "/var/log/unattended-upgrades/unattended-upgrades.log"


@dataclass(frozen=True, kw_only=True)
class MaintenanceChangesConfig(_LogChangesBase):
    """JSON lines a maintenance script appends, one run per line (runs marked dry_run are
    not changes)."""

    kind: ClassVar[str] = "maintenance"
    source: ClassVar[str] = "cockpit.sources.changes.logs:LogChanges"


GIT_REVERT = ("git", "-C", "{repo}", "revert", "--no-edit", "{commit}")


@dataclass(frozen=True, kw_only=True)
class GitChangesConfig(_ChangeBase):
    """Commits to a config repository; `paths` are git pathspecs (empty: every commit)."""

    kind: ClassVar[str] = "git"
    source: ClassVar[str] = "cockpit.sources.changes.git:GitChanges"
    repo: Path
    paths: tuple[Pathspec, ...] = ()
    branch: GitRef = "HEAD"
    git: Text = "git"
    revert: Argv | None = GIT_REVERT


@dataclass(frozen=True, kw_only=True)
class CommandChangesConfig(_ChangeBase):
    """Changes printed as JSON by a program: a list of objects, or one object per line."""

    kind: ClassVar[str] = "command"
    source: ClassVar[str] = "cockpit.sources.changes.command:CommandChanges"
    command: Argv
    max_output_bytes: OutputBytes = 1_048_576


ChangeSourceConfig = (
    DpkgChangesConfig
    | AptHistoryChangesConfig
    | UnattendedUpgradesChangesConfig
    | MaintenanceChangesConfig
    | GitChangesConfig
    | CommandChangesConfig
)

CHANGE_KINDS: dict[str, type] = {
    "dpkg": DpkgChangesConfig,
    "apt-history": AptHistoryChangesConfig,
    "unattended-upgrades": UnattendedUpgradesChangesConfig,
    "maintenance": MaintenanceChangesConfig,
    "git": GitChangesConfig,
    "command": CommandChangesConfig,
}
