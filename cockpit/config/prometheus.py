"""Prometheus as a source: a 5xx series ([[errors]] kind "prometheus", range queries) and a fleet
of blackbox_exporter probes ([[probes]] kind "prometheus", instant queries)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import ceil
from typing import ClassVar

from cockpit.config.base import FieldError, Secret

DEFAULT_POINTS = 60  # about the width of the 5xx graph
MAX_POINTS = 11_000  # Prometheus refuses a range query with more points per series
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True, kw_only=True)
class PrometheusServer:
    """Where the Prometheus HTTP API is and how to reach it (shared by both kinds)."""

    name: str
    base_url: str  # e.g. "http://prometheus:9090" or a prefix such as ".../prometheus"
    token: Secret | None = None  # sent as "Authorization: Bearer ..."
    headers: dict[str, str] = field(default_factory=dict)  # e.g. X-Scope-OrgID for Mimir
    verify_tls: bool = True

    def check(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", "expected an http:// or https:// URL")
        for key in self.headers:
            if not _HEADER.fullmatch(key):
                raise FieldError(("headers", key), "not a valid header name")
            if key.lower() in ("authorization", "cookie"):
                raise FieldError(
                    ("headers", key), "credentials go in token_env or token_file, not the config"
                )


@dataclass(frozen=True, kw_only=True)
class PrometheusErrorsConfig(PrometheusServer):
    """5xx and request rates over the last `window` seconds, one bucket per `step`.

    Each point of a range query is a per-second rate; a bucket's count is rate x step, rounded
    (so `errors_query` should be a rate over at least one step, e.g. `[1m]` for a 30 s step).
    """

    kind: ClassVar[str] = "prometheus"
    source: ClassVar[str] = "cockpit.sources.prometheus.errors:PrometheusErrors"
    errors_query: str  # e.g. sum(rate(http_requests_total{code=~"5.."}[1m]))
    requests_query: str | None = None  # e.g. sum(rate(http_requests_total[1m])), for a ratio
    window: int = 1800
    step: int | None = None  # seconds per bucket; default window / points
    points: int | None = None  # buckets in the window (default 60); or give step
    interval: float = 15.0
    timeout: float = 10.0

    def check(self) -> None:
        super().check()
        if not self.errors_query.strip():
            raise FieldError("errors_query", "must not be empty")
        if self.requests_query is not None and not self.requests_query.strip():
            raise FieldError("requests_query", "must not be empty (or leave it out)")
        if self.step is not None and self.points is not None:
            raise FieldError("points", "give step or points, not both")
        if self.step is not None and self.step < 1:
            raise FieldError("step", "must be at least 1")
        if self.points is not None and not 1 <= self.points <= MAX_POINTS:
            raise FieldError("points", f"must be between 1 and {MAX_POINTS}")
        if self.bucket_count > MAX_POINTS:
            raise FieldError("step", f"window / step must be at most {MAX_POINTS} points")

    @property
    def step_seconds(self) -> int:
        if self.step is not None:
            return self.step
        return max(1, ceil(self.window / (self.points or DEFAULT_POINTS)))

    @property
    def bucket_count(self) -> int:
        return max(1, ceil(self.window / self.step_seconds))


@dataclass(frozen=True, kw_only=True)
class PrometheusProbesConfig(PrometheusServer):
    """blackbox_exporter results: one probe per target x location, read by instant queries of
    `probe_success` and `probe_duration_seconds`."""

    kind: ClassVar[str] = "prometheus"
    source: ClassVar[str] = "cockpit.sources.prometheus.probes:PrometheusProbes"
    selector: str = ""  # label matchers, e.g. 'job="blackbox", module="http_2xx"'
    target_label: str = "instance"
    location_label: str | None = "location"  # e.g. "region"; none: one probe per target
    max_probes: int = 200  # more than a screen can show; the rest is left out
    interval: float = 15.0
    timeout: float = 5.0
    failure_threshold: int = 2
    success_threshold: int = 1

    def check(self) -> None:
        super().check()
        for key in ("target_label", "location_label"):
            value = getattr(self, key)
            if value is not None and not _LABEL.fullmatch(value):
                raise FieldError(key, "not a Prometheus label name")
        if "{" in self.selector or "}" in self.selector:
            raise FieldError("selector", "write the label matchers without braces")
        if self.max_probes < 1:
            raise FieldError("max_probes", "must be at least 1")
