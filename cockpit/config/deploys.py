"""[[deploys]]: where deploys are read from; `DEPLOY_KINDS` maps `kind` to the dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class JsonlDeployLogConfig:
    kind: ClassVar[str] = "jsonl"
    source: ClassVar[str] = "cockpit.sources.deploy_log:JsonlDeployLog"
    name: str
    path: Path
    interval: float = 5.0
    timeout: float = 5.0
    max_deploys: int = 50


DeploySourceConfig = JsonlDeployLogConfig

DEPLOY_KINDS: dict[str, type] = {"jsonl": JsonlDeployLogConfig}
DEFAULT_DEPLOY_KIND = "jsonl"
