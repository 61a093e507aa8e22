"""[[probes]]: one dataclass per kind; `PROBE_KINDS` maps the `kind` key to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from cockpit.config.base import FieldError

MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class ProbeBase:
    name: str
    interval: float = 10.0
    timeout: float = 5.0
    concurrency: int = 1
    failure_threshold: int = 2
    success_threshold: int = 1

    def check(self) -> None:
        if self.concurrency > MAX_CONCURRENCY:
            raise FieldError("concurrency", f"at most {MAX_CONCURRENCY} sessions")


@dataclass(frozen=True)
class HttpProbeConfig(ProbeBase):
    kind: ClassVar[str] = "http"
    source: ClassVar[str] = "cockpit.sources.http_probe:HttpProbe"
    url: str = ""
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    body_contains: str | None = None
    verify_tls: bool = True
    max_body_bytes: int = 1_048_576

    def check(self) -> None:
        super().check()
        if not self.url.startswith(("http://", "https://")):
            raise FieldError("url", "expected an http:// or https:// URL")


ProbeConfig = HttpProbeConfig

PROBE_KINDS: dict[str, type] = {"http": HttpProbeConfig}
