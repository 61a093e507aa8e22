"""Prometheus sources against a real Prometheus scraping known numbers: 5xx and request rates
become exact bucket counts; blackbox results become one probe per target and location."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_servers import ERRORS_PER_S, REQUESTS_PER_S, Prometheus, running_prometheus

from cockpit.cli import main
from cockpit.config.prometheus import PrometheusErrorsConfig, PrometheusProbesConfig
from cockpit.model import ErrorSeries, Route
from cockpit.sources.base import SourceError
from cockpit.sources.prometheus.errors import PrometheusErrors
from cockpit.sources.prometheus.probes import PrometheusProbes
from cockpit.timeutil import utcnow

STEP = 2
# irate() of a counter on a straight line is its slope exactly, whenever the scrapes ran.
ERRORS_QUERY = 'sum(irate(http_requests_total{code=~"5.."}[10s]))'
REQUESTS_QUERY = "sum(irate(http_requests_total[10s]))"
PER_BUCKET = (round(REQUESTS_PER_S * STEP), round(ERRORS_PER_S * STEP))  # (20, 4)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def errors_source(prometheus: Prometheus, **options: object) -> PrometheusErrors:
    settings: dict[str, object] = {
        "errors_query": ERRORS_QUERY,
        "requests_query": REQUESTS_QUERY,
        "window": 60,
        "step": STEP,
        **options,
    }
    cfg = PrometheusErrorsConfig(name="edge-prom", base_url=prometheus.url, **settings)  # type: ignore[arg-type]
    return PrometheusErrors(cfg)


async def filled(source: PrometheusErrors, buckets: int = 3) -> tuple[ErrorSeries, datetime]:
    """Poll until `buckets` buckets hold data: points arrive with Prometheus's scrapes.
    Returns the series and the time just before the poll that read it."""
    deadline = utcnow().timestamp() + 30
    while True:
        before = utcnow()
        series = await source.poll()
        if sum(1 for b in series.buckets if b.requests) >= buckets:
            return series, before
        assert utcnow().timestamp() < deadline, series
        await asyncio.sleep(0.2)  # the next scrape is due within a second


def assert_exact(series: ErrorSeries, per_bucket: tuple[int, int], before: datetime) -> None:
    assert series.bucket_seconds == STEP and len(series.buckets) == 30
    starts = [b.start for b in series.buckets]
    assert all(int(s.timestamp()) % STEP == 0 for s in starts)
    assert starts == [starts[0] + timedelta(seconds=STEP * i) for i in range(30)]
    # The newest bucket holds the time of the poll.
    assert before < starts[-1] + timedelta(seconds=STEP)
    counts = [(b.requests, b.errors_5xx) for b in series.buckets]
    first = next(i for i, c in enumerate(counts) if c != (0, 0))
    # Nothing before the exporter started, then every bucket exactly rate x step.
    assert set(counts[:first]) <= {(0, 0)}
    assert counts[first:] == [per_bucket] * (len(counts) - first)


async def test_rates_become_exact_bucket_counts(prometheus: Prometheus) -> None:
    source = errors_source(prometheus)
    try:
        series, before = await filled(source)
        now = utcnow()
    finally:
        await source.aclose()
    assert_exact(series, PER_BUCKET, before)
    assert series.source == "edge-prom" and series.unparsed_lines == 0
    assert series.ratio == pytest.approx(ERRORS_PER_S / REQUESTS_PER_S)
    assert series.first_ts is not None and series.last_ts is not None
    origin = datetime.fromtimestamp(prometheus.numbers.origin_ms / 1000, UTC)
    assert origin < series.first_ts < series.last_ts <= now
    assert (source.kind, source.target) == ("prometheus", f"{prometheus.url}/api/v1/query_range")


async def test_without_requests_query_requests_equal_errors(prometheus: Prometheus) -> None:
    source = errors_source(prometheus, requests_query=None, step=None, points=30)
    try:
        series, before = await filled(source)
    finally:
        await source.aclose()
    assert_exact(series, (PER_BUCKET[1], PER_BUCKET[1]), before)


async def test_points_that_are_not_numbers_are_counted(prometheus: Prometheus) -> None:
    source = errors_source(prometheus, errors_query=f"({ERRORS_QUERY}) * 0 / 0")
    try:
        series, _ = await filled(source)
    finally:
        await source.aclose()
    assert series.errors_5xx == 0
    assert series.unparsed_lines == sum(1 for b in series.buckets if b.requests) >= 3


async def test_a_bad_query_says_why(prometheus: Prometheus) -> None:
    source = errors_source(prometheus, errors_query="sum(rate(http_requests_total[")
    try:
        with pytest.raises(SourceError) as caught:
            await source.poll()
    finally:
        await source.aclose()
    assert str(caught.value).startswith(f"{prometheus.url[7:]}: query refused (bad_data): ")


# -- blackbox results -----------------------------------------------------------------------------


def probes_source(prometheus: Prometheus, **options: object) -> PrometheusProbes:
    settings: dict[str, object] = {"selector": 'job="known"', **options}
    cfg = PrometheusProbesConfig(name="bb", base_url=prometheus.url, **settings)  # type: ignore[arg-type]
    return PrometheusProbes(cfg)


async def test_blackbox_results_one_probe_per_target_and_location(prometheus: Prometheus) -> None:
    source = probes_source(prometheus)
    try:
        before = utcnow()
        reading = await source.poll()
    finally:
        await source.aclose()
    assert reading.source == "bb"
    got = {r.name: r for r in reading.results}
    assert list(got) == [
        "bb:https://files.example.com/@eu-west",
        "bb:https://files.example.com/@us-east",
        "bb:sftp.example.com:22@eu-west",
    ]
    eu, us, sftp = got.values()
    assert (eu.ok, eu.sessions_ok, eu.concurrency, eu.latency_ms, eu.error) == (
        True,
        1,
        1,
        125.0,
        "",
    )
    assert (us.ok, us.sessions_ok, us.latency_ms, us.error) == (False, 0, 2500.0, "probe_success 0")
    assert (sftp.ok, sftp.latency_ms, sftp.target) == (True, 250.0, "sftp.example.com:22")
    assert eu.kind == "prometheus" and eu.target == "https://files.example.com/"
    for result in reading.results:
        # The time the probe ran (its scrape), not the time it was read.
        assert result.at <= before and (before - result.at).total_seconds() < 30


async def test_a_probe_changing_state_shows_on_the_next_read(prometheus: Prometheus) -> None:
    key = ("sftp.example.com:22", "eu-west", "ssh_banner")
    source = probes_source(prometheus)
    prometheus.numbers.set_probe(key, 0, 0.25)
    try:
        prometheus.wait_for(
            'probe_success{module="ssh_banner"}', lambda r: r and r[0]["value"][1] == "0"
        )
        reading = await source.poll()
    finally:
        prometheus.numbers.set_probe(key, 1, 0.25)
        await source.aclose()
        prometheus.wait_for(
            'probe_success{module="ssh_banner"}', lambda r: r and r[0]["value"][1] == "1"
        )
    sftp = next(r for r in reading.results if r.target == "sftp.example.com:22")
    assert (sftp.ok, sftp.error) == (False, "1/2 failing")


async def test_without_a_location_label_probes_are_per_target(prometheus: Prometheus) -> None:
    source = probes_source(prometheus, location_label=None)
    try:
        reading = await source.poll()
    finally:
        await source.aclose()
    assert [(r.name, r.ok, r.error) for r in reading.results] == [
        ("bb:https://files.example.com/", False, "1/2 failing"),
        ("bb:sftp.example.com:22", True, ""),
    ]


async def test_a_selector_matching_nothing_fails_the_source(prometheus: Prometheus) -> None:
    source = probes_source(prometheus, selector='job="nothing"')
    try:
        with pytest.raises(SourceError, match=r'no series for probe_success\{job="nothing"\}'):
            await source.poll()
    finally:
        await source.aclose()


# -- cockpit check ---------------------------------------------------------------------------------


def test_cockpit_check_json_through_prometheus(
    prometheus: Prometheus,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_PROM_TOKEN", "s3cr3t-prom-token")
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[[errors]]
name = "edge-prom"
kind = "prometheus"
base_url = "{prometheus.url}"
token_env = "TEST_PROM_TOKEN"
errors_query = '{ERRORS_QUERY}'
requests_query = '{REQUESTS_QUERY}'
window = 60
step = {STEP}

[[probes]]
name = "bb"
kind = "prometheus"
base_url = "{prometheus.url}"
selector = 'job="known"'
"""
    )
    # One blackbox probe fails (us-east): the check says so with exit status 1.
    assert main(["--config", str(config), "check", "--json"]) == 1
    out = capsys.readouterr().out
    assert "s3cr3t-prom-token" not in out
    rows = [json.loads(line) for line in out.splitlines()]
    probes = {r["name"]: r for r in rows if "name" in r}
    assert {n: (r["ok"], r["kind"]) for n, r in probes.items()} == {
        "bb:https://files.example.com/@eu-west": (True, "prometheus"),
        "bb:https://files.example.com/@us-east": (False, "prometheus"),
        "bb:sftp.example.com:22@eu-west": (True, "prometheus"),
    }
    assert probes["bb:https://files.example.com/@eu-west"]["latency_ms"] == 125.0
    assert probes["bb:https://files.example.com/@us-east"]["error"] == "probe_success 0"
    (errors,) = (r for r in rows if "source" in r)
    assert (errors["source"], errors["kind"], errors["ok"]) == ("edge-prom", "prometheus", True)
    assert errors["requests"] > 0 and errors["unparsed_lines"] == 0
    assert errors["requests"] * PER_BUCKET[1] == errors["errors_5xx"] * PER_BUCKET[0]
    assert errors["ratio"] == 0.2
    first, last = (datetime.fromisoformat(errors[k]) for k in ("first_ts", "last_ts"))
    assert first < last <= utcnow()


async def test_5xx_by_route_where_the_labels_name_one(prometheus: Prometheus) -> None:
    by_route = (
        'label_replace(label_replace(sum by (code) (irate(http_requests_total{code=~"5.."}[10s])),'
        ' "handler", "/files/8812?dl=1", "", ""), "method", "GET", "", "")'
    )
    source = errors_source(prometheus, errors_query=by_route)
    plain = errors_source(prometheus)
    try:
        series, _ = await filled(source)
        summed, _ = await filled(plain)
    finally:
        await source.aclose()
        await plain.aclose()
    assert series.routes_known and not summed.routes_known
    full = [b for b in series.buckets if b.errors_5xx]
    assert full
    for bucket in full:
        assert sum(r.count for r in bucket.routes_5xx) == bucket.errors_5xx
        assert {r.route for r in bucket.routes_5xx} == {Route("GET", "/files/{id}")}
        assert all(500 <= r.status < 600 for r in bucket.routes_5xx)
    assert all(not b.routes_5xx for b in summed.buckets)
