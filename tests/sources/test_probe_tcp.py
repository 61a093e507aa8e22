"""TCP probe against a real banner server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from probe_servers import BIG, BannerServer, poll_once, refused_port, serving

from cockpit.config.probes import TcpProbeConfig
from cockpit.model import Category
from cockpit.sources.probes.tcp import TcpProbe


@pytest.fixture
def banner() -> Iterator[BannerServer]:
    with serving(BannerServer()) as server:
        yield server


def tcp(port: int, **options: object) -> TcpProbeConfig:
    return TcpProbeConfig(name="banner", host="127.0.0.1", port=port, **options)  # type: ignore[arg-type]


async def test_banner_found(banner: BannerServer) -> None:
    result = await poll_once(tcp(banner.port, expect="220 cockpit-test"))
    assert result.ok, result.error
    assert (result.kind, result.target, result.sessions_ok) == (
        "tcp",
        f"127.0.0.1:{banner.port}",
        1,
    )
    assert result.latency_ms is not None and result.latency_ms > 0
    source = TcpProbe(tcp(banner.port))
    assert (source.category, source.kind) == (Category.PROBE, "tcp")


async def test_four_sessions_are_held_open_together(banner: BannerServer) -> None:
    result = await poll_once(tcp(banner.port, expect="220", concurrency=4))
    assert result.ok, result.error
    assert (result.sessions_ok, result.concurrency) == (4, 4)
    assert banner.sessions.peak == 4


async def test_one_session_at_a_time_fails_the_concurrent_probe_only(banner: BannerServer) -> None:
    banner.sessions.one_at_a_time = True
    single = await poll_once(tcp(banner.port, expect="220"))
    assert single.ok, single.error
    assert banner.sessions.wait_idle()
    many = await poll_once(tcp(banner.port, expect="220", concurrency=4))
    assert not many.ok
    assert (many.sessions_ok, many.concurrency) == (1, 4)
    assert many.error == (
        "3/4 sessions failed: banner lacks '220' (got '421 busy: one session at a time')"
    )


async def test_send_then_expect(banner: BannerServer) -> None:
    result = await poll_once(tcp(banner.port, send="PING\r\n", expect="PONG"))
    assert result.ok, result.error


async def test_connect_only_and_body_conditions(banner: BannerServer) -> None:
    assert (await poll_once(tcp(banner.port))).ok
    holds = await poll_once(tcp(banner.port, conditions=("[BODY] == pat(220*)",)))
    assert holds.ok, holds.error
    fails = await poll_once(tcp(banner.port, conditions=("[BODY] == pat(SSH-*)",)))
    assert fails.error == "[BODY] == pat(SSH-*) (got '220 cockpit-test ready')"


async def test_refused() -> None:
    with refused_port() as port:
        result = await poll_once(tcp(port, concurrency=2))
    assert not result.ok
    assert result.error == "2/2 sessions failed: connection refused"
    assert result.latency_ms is None


async def test_fifty_megabytes_are_read_in_a_bounded_amount(banner: BannerServer) -> None:
    banner.big = True
    result = await poll_once(tcp(banner.port, expect="never there", max_bytes=128 * 1024))
    assert not result.ok
    assert result.error.startswith("banner lacks 'never there' in 131072 bytes (got 'xxx")
    assert banner.big_done.wait(timeout=10)
    assert banner.big_sent < BIG
