"""blackbox_exporter results read from Prometheus: one probe per target x location.

Three instant queries at once: `probe_success` (ok or not), `probe_duration_seconds` (latency)
and `timestamp(probe_success)` (when the probe ran: the same scrape read twice is the same
result, so the detector does not count it twice). Series that share a target and a location
(two modules probing one target, say) make one probe that is ok only if all of them are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from cockpit.config.prometheus import PrometheusProbesConfig
from cockpit.model import Category, ProbeResult, ProbeResults
from cockpit.sources.base import SourceError
from cockpit.sources.prometheus.api import PrometheusApi, Sample
from cockpit.term.textsafe import one_line, redact_url
from cockpit.timeutil import from_epoch, utcnow

_ROUND_SHARE = 0.9


@dataclass
class _Probe:
    target: str
    location: str
    runs: int = 0
    failed: int = 0
    unknown: int = 0  # probe_success was not a number
    duration: float | None = None  # the slowest of the series, seconds
    at: float | None = None  # the newest sample time

    def result(self, source: str, now: datetime) -> ProbeResult:
        ok = self.failed == 0 and self.unknown == 0
        if self.failed:
            error = "probe_success 0" if self.runs == 1 else f"{self.failed}/{self.runs} failing"
        elif self.unknown:
            error = "probe_success is not a number"
        else:
            error = ""
        name = (
            f"{source}:{self.target}@{self.location}"
            if self.location
            else f"{source}:{self.target}"
        )
        return ProbeResult(
            name=one_line(name, 200),
            kind="prometheus",
            target=self.target,
            concurrency=1,
            sessions_ok=1 if ok else 0,
            ok=ok,
            latency_ms=self.duration * 1000 if self.duration is not None else None,
            error=error,
            at=from_epoch(self.at) if self.at is not None else now,
        )


@lru_cache(maxsize=16384)
def _clean_key(target: str, location: str) -> tuple[str, str]:
    """The probe a sample is about, as shown: made safe once per label pair, not in every
    poll for each of thousands of series."""
    return redact_url(one_line(target, 200)), one_line(location, 60)


@dataclass
class _Fleet:
    cfg: PrometheusProbesConfig
    probes: dict[tuple[str, str], _Probe] = field(default_factory=dict)

    def key(self, sample: Sample) -> tuple[str, str]:
        target = sample.labels.get(self.cfg.target_label, "")
        label = self.cfg.location_label
        location = sample.labels.get(label, "") if label else ""
        return _clean_key(target, location)

    def success(self, samples: list[Sample]) -> None:
        for sample in samples:
            key = self.key(sample)
            probe = self.probes.get(key)
            if probe is None:
                probe = self.probes[key] = _Probe(*key)
            probe.runs += 1
            if sample.value is None:
                probe.unknown += 1
            elif sample.value < 1:
                probe.failed += 1

    def durations(self, samples: list[Sample]) -> None:
        for sample in samples:
            probe = self.probes.get(self.key(sample))
            if probe is not None and sample.value is not None and sample.value >= 0:
                probe.duration = max(probe.duration or 0.0, sample.value)

    def times(self, samples: list[Sample]) -> None:
        for sample in samples:
            probe = self.probes.get(self.key(sample))
            if probe is not None and sample.value is not None:
                probe.at = max(probe.at or 0.0, sample.value)


class PrometheusProbes:
    kind = "prometheus"
    category = Category.PROBE

    def __init__(self, cfg: PrometheusProbesConfig, clock: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self._clock = clock
        self._api = PrometheusApi(cfg, cfg.timeout)
        selector = f"{{{cfg.selector}}}" if cfg.selector.strip() else ""
        self._success = f"probe_success{selector}"
        self._queries = (
            self._success,
            f"probe_duration_seconds{selector}",
            f"timestamp({self._success})",
        )

    @property
    def target(self) -> str:
        return self._api.shown("/api/v1/query")

    async def aclose(self) -> None:
        await self._api.aclose()

    async def poll(self) -> ProbeResults:
        now = self._clock()
        try:
            async with asyncio.timeout(self.cfg.timeout * _ROUND_SHARE):
                success, durations, times = await asyncio.gather(
                    *(self._api.instant(q, now.timestamp()) for q in self._queries)
                )
        except TimeoutError:
            raise SourceError(
                f"no answer from {self._api.host} within {self.cfg.timeout:g}s"
            ) from None
        if not success:
            raise SourceError(f"no series for {one_line(self._success, 200)}")
        fleet = _Fleet(self.cfg)
        fleet.success(success)
        fleet.durations(durations)
        fleet.times(times)
        ordered = sorted(fleet.probes.values(), key=lambda p: (p.target, p.location))
        return ProbeResults(
            source=self.name,
            results=tuple(p.result(self.name, now) for p in ordered[: self.cfg.max_probes]),
        )
