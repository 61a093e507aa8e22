"""Prometheus as a source: a 5xx series ([[errors]] kind "prometheus", range queries) and a fleet
of blackbox_exporter probes ([[probes]] kind "prometheus", instant queries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from typing import Annotated, ClassVar

from cockpit.config.base import FieldError, Secret
from cockpit.config.schema import Count, HeaderName, Name, Rule, Seconds, Text, Url, between

DEFAULT_POINTS = 60  # about the width of the 5xx graph
MAX_POINTS = 11_000  # Prometheus refuses a range query with more points per series
LabelName = Annotated[
    str, Rule(pattern=r"[A-Za-z_][A-Za-z0-9_]*", expected="a Prometheus label name")
]


@dataclass(frozen=True, kw_only=True)
class PrometheusServer:
    """Where the Prometheus HTTP API is and how to reach it (shared by both kinds)."""

    name: Name
    base_url: Url  # e.g. "http://prometheus:9090" or a prefix such as ".../prometheus"
    token: Secret | None = None  # sent as "Authorization: Bearer ..."
    headers: dict[HeaderName, str] = field(default_factory=dict)  # e.g. X-Scope-OrgID for Mimir
    verify_tls: bool = True

    def check(self) -> None:
        for key in self.headers:
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
    errors_query: Text  # e.g. sum(rate(http_requests_total{code=~"5.."}[1m]))
    requests_query: Text | None = None  # e.g. sum(rate(http_requests_total[1m])), for a ratio
    window: Count = 1800
    step: Count | None = None  # seconds per bucket; default window / points
    points: Annotated[int, between(1, MAX_POINTS)] | None = None  # buckets (default 60)
    interval: Seconds = 15.0
    timeout: Seconds = 10.0

    def check(self) -> None:
        super().check()
        if self.step is not None and self.points is not None:
            raise FieldError("points", "give step or points, not both")
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
    # label matchers, e.g. 'job="blackbox", module="http_2xx"'
    selector: Annotated[
        str, Rule(pattern=r"[^{}]*", expected="the label matchers without braces")
    ] = ""
    target_label: LabelName = "instance"
    location_label: LabelName | None = "location"  # e.g. "region"; none: one probe per target
    max_probes: Count = 200  # more than a screen can show; the rest is left out
    interval: Seconds = 15.0
    timeout: Seconds = 5.0
    failure_threshold: Count = 2
    success_threshold: Count = 1
