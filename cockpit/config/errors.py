"""[[errors]]: 5xx sources; `ERROR_KINDS` maps `kind` to the dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class AccessLogConfig:
    kind: ClassVar[str] = "nginx_combined"
    source: ClassVar[str] = "cockpit.sources.access_log:AccessLogTail"
    name: str
    path: Path
    interval: float = 2.0
    timeout: float = 5.0
    bucket_seconds: int = 10
    window: int = 1800  # seconds kept and shown
    read_back: int = 0  # seconds of existing log to read at start; 0 = start at the end


ErrorSourceConfig = AccessLogConfig

ERROR_KINDS: dict[str, type] = {"nginx_combined": AccessLogConfig}
DEFAULT_ERROR_KIND = "nginx_combined"
