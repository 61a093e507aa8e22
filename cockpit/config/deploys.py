"""[[deploys]]: where deploys are read from; `DEPLOY_KINDS` maps `kind` to the dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cockpit.config.base import FieldError, Secret

MAX_DEPLOYS = 1000


def _check_max(max_deploys: int) -> None:
    if not 1 <= max_deploys <= MAX_DEPLOYS:
        raise FieldError("max_deploys", f"must be between 1 and {MAX_DEPLOYS}")


def _check_service(service: str) -> None:
    if not service.strip():
        raise FieldError("service", "must name the service these deploys belong to")


@dataclass(frozen=True)
class JsonlDeployLogConfig:
    kind: ClassVar[str] = "jsonl"
    source: ClassVar[str] = "cockpit.sources.deploys.log:JsonlDeployLog"
    name: str
    path: Path
    interval: float = 5.0
    timeout: float = 5.0
    max_deploys: int = 50


GIT_MODES = ("tags", "merges")


@dataclass(frozen=True)
class GitDeploysConfig:
    """Deploys read from a local git repository: release tags, or merges into a branch."""

    kind: ClassVar[str] = "git"
    source: ClassVar[str] = "cockpit.sources.deploys.git:GitDeploys"
    name: str
    repo: Path
    service: str
    mode: str = "tags"
    tags: str = "v*"  # glob over tag names, for mode = "tags"
    branch: str = "main"  # for mode = "merges"
    git: str = "git"  # the program; a path when git is not on PATH
    interval: float = 30.0
    timeout: float = 10.0
    max_deploys: int = 50

    def check(self) -> None:
        _check_service(self.service)
        _check_max(self.max_deploys)
        if self.mode not in GIT_MODES:
            raise FieldError("mode", f"expected one of: {', '.join(GIT_MODES)}")
        if not self.tags or self.tags.startswith("-"):
            raise FieldError("tags", "expected a tag name pattern such as 'v*'")
        # A name starting with "-" would reach git as an option.
        if not self.branch or self.branch.startswith("-") or any(c.isspace() for c in self.branch):
            raise FieldError("branch", "expected a branch name such as 'main'")


@dataclass(frozen=True)
class ReleasesDeploysConfig:
    """Capistrano-style releases: `<root>/releases/<timestamp>/` and a `<root>/current` link."""

    kind: ClassVar[str] = "releases"
    source: ClassVar[str] = "cockpit.sources.deploys.releases:ReleasesDeploys"
    name: str
    root: Path
    service: str
    interval: float = 10.0
    timeout: float = 5.0
    max_deploys: int = 50

    def check(self) -> None:
        _check_service(self.service)
        _check_max(self.max_deploys)


@dataclass(frozen=True)
class GitHubDeploymentsConfig:
    """GitHub (or GitHub Enterprise: base_url = "https://host/api/v3") Deployments API."""

    kind: ClassVar[str] = "github"
    source: ClassVar[str] = "cockpit.sources.deploys.github:GitHubDeployments"
    name: str
    owner: str
    repo: str
    service: str = ""  # default: the repository name
    environment: str | None = None
    base_url: str = "https://api.github.com"
    token: Secret | None = None
    include_failed: bool = False  # deployments whose latest status is failure or error
    interval: float = 30.0
    timeout: float = 10.0
    max_deploys: int = 30

    def check(self) -> None:
        _check_max(self.max_deploys)
        if self.max_deploys > 100:
            raise FieldError("max_deploys", "GitHub returns at most 100 deployments per request")
        if not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", "expected an http:// or https:// URL")
        for key in ("owner", "repo"):
            value = getattr(self, key)
            if not value or "/" in value or value in (".", ".."):
                raise FieldError(key, "expected a plain name, without slashes")


@dataclass(frozen=True)
class CommandDeploysConfig:
    """Deploys printed as JSON by a program: a list of objects, or one object per line."""

    kind: ClassVar[str] = "command"
    source: ClassVar[str] = "cockpit.sources.deploys.command:CommandDeploys"
    name: str
    command: tuple[str, ...]
    service: str = ""  # for records that do not name their service
    interval: float = 30.0
    timeout: float = 10.0
    max_deploys: int = 50
    max_output_bytes: int = 1_048_576

    def check(self) -> None:
        _check_max(self.max_deploys)
        if not self.command or not all(self.command):
            raise FieldError("command", "expected a program and its arguments, none empty")
        if self.max_output_bytes < 1024:
            raise FieldError("max_output_bytes", "must be at least 1024")


DeploySourceConfig = (
    JsonlDeployLogConfig
    | GitDeploysConfig
    | ReleasesDeploysConfig
    | GitHubDeploymentsConfig
    | CommandDeploysConfig
)

DEPLOY_KINDS: dict[str, type] = {
    "jsonl": JsonlDeployLogConfig,
    "git": GitDeploysConfig,
    "releases": ReleasesDeploysConfig,
    "github": GitHubDeploymentsConfig,
    "command": CommandDeploysConfig,
}
DEFAULT_DEPLOY_KIND = "jsonl"
