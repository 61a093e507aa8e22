"""[[deploys]]: where deploys are read from; `DEPLOY_KINDS` maps `kind` to the dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal, get_args

from cockpit.config.base import Secret
from cockpit.config.schema import Argv, GitRef, Name, OutputBytes, Rule, Seconds, Text, Url, between

MAX_DEPLOYS = 1000
MAX_GITHUB_DEPLOYS = 100  # GitHub returns at most 100 deployments per request
MaxDeploys = Annotated[int, between(1, MAX_DEPLOYS)]
# An owner or repository on GitHub: a plain name, without slashes.
GitHubName = Annotated[
    str, Rule(pattern=r"(?!\.\.?$)[^/\s]+", expected="a plain name, without slashes")
]


@dataclass(frozen=True)
class JsonlDeployLogConfig:
    kind: ClassVar[str] = "jsonl"
    source: ClassVar[str] = "cockpit.sources.deploys.log:JsonlDeployLog"
    name: Name
    path: Path
    interval: Seconds = 5.0
    timeout: Seconds = 5.0
    max_deploys: MaxDeploys = 50


GitMode = Literal["tags", "merges"]
GIT_MODES: tuple[str, ...] = get_args(GitMode)


@dataclass(frozen=True)
class GitDeploysConfig:
    """Deploys read from a local git repository: release tags, or merges into a branch."""

    kind: ClassVar[str] = "git"
    source: ClassVar[str] = "cockpit.sources.deploys.git:GitDeploys"
    name: Name
    repo: Path
    service: Text  # the service these deploys belong to
    mode: GitMode = "tags"
    tags: GitRef = "v*"  # glob over tag names, for mode = "tags"
    branch: GitRef = "main"  # for mode = "merges"
    git: Text = "git"  # the program; a path when git is not on PATH
    interval: Seconds = 30.0
    timeout: Seconds = 10.0
    max_deploys: MaxDeploys = 50


@dataclass(frozen=True)
class ReleasesDeploysConfig:
    """Capistrano-style releases: `<root>/releases/<timestamp>/` and a `<root>/current` link."""

    kind: ClassVar[str] = "releases"
    source: ClassVar[str] = "cockpit.sources.deploys.releases:ReleasesDeploys"
    name: Name
    root: Path
    service: Text
    interval: Seconds = 10.0
    timeout: Seconds = 5.0
    max_deploys: MaxDeploys = 50


@dataclass(frozen=True)
class GitHubDeploymentsConfig:
    """GitHub (or GitHub Enterprise: base_url = "https://host/api/v3") Deployments API."""

    kind: ClassVar[str] = "github"
    source: ClassVar[str] = "cockpit.sources.deploys.github:GitHubDeployments"
    name: Name
    owner: GitHubName
    repo: GitHubName
    service: str = ""  # default: the repository name
    environment: Text | None = None
    base_url: Url = "https://api.github.com"
    token: Secret | None = None
    include_failed: bool = False  # deployments whose latest status is failure or error
    interval: Seconds = 30.0
    timeout: Seconds = 10.0
    max_deploys: Annotated[int, between(1, MAX_GITHUB_DEPLOYS)] = 30


@dataclass(frozen=True)
class CommandDeploysConfig:
    """Deploys printed as JSON by a program: a list of objects, or one object per line."""

    kind: ClassVar[str] = "command"
    source: ClassVar[str] = "cockpit.sources.deploys.command:CommandDeploys"
    name: Name
    command: Argv
    service: str = ""  # for records that do not name their service
    interval: Seconds = 30.0
    timeout: Seconds = 10.0
    max_deploys: MaxDeploys = 50
    max_output_bytes: OutputBytes = 1_048_576


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
