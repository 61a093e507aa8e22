"""A source pointed at a log of another format is stale with the reason, never "0 requests,
fresh": against real nginx, Caddy and HAProxy logs, in the source, `check --json` and
`doctor`, with the format that does read the lines suggested."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nginx_servers import Nginx, running_nginx, wait_for_lines
from proxy_servers import Proxy, running_haproxy
from proxy_servers import wait_for_lines as wait_for_proxy_lines

from cockpit.cli import main
from cockpit.config.errors import (
    AccessLogBase,
    AccessLogConfig,
    CaddyLogConfig,
    HaproxyLogConfig,
    NginxJsonLogConfig,
)
from cockpit.sources.base import SourceError
from cockpit.sources.logs.access_log import AccessLogTail


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
        for i in range(30):
            httpx.get(f"{server.url}/status/{503 if i % 3 else 200}/{i}", timeout=10)
        wait_for_lines(30, server.access_log)
        wait_for_lines(30, server.json_log)
        yield server


def _tail(cfg_type: type[AccessLogBase], path: Path, **options: object) -> AccessLogTail:
    cfg = cfg_type(name="edge", path=path, window=600, read_back=600, **options)  # type: ignore[arg-type]
    return AccessLogTail(cfg)


async def _reason(source: AccessLogTail) -> str:
    try:
        with pytest.raises(SourceError) as caught:
            await source.poll()
    finally:
        await source.aclose()
    return str(caught.value)


async def test_combined_kind_on_a_json_log(nginx: Nginx) -> None:
    reason = await _reason(_tail(AccessLogConfig, nginx.json_log))
    assert "30 of 30 lines read not in nginx_combined format" in reason
    assert '; kind = "nginx_json" reads' in reason


async def test_json_kind_on_a_combined_log(nginx: Nginx) -> None:
    reason = await _reason(_tail(NginxJsonLogConfig, nginx.access_log))
    assert "30 of 30 lines read not in nginx_json format" in reason
    assert '; kind = "nginx_combined" reads' in reason


async def test_caddy_kind_on_an_nginx_json_log(nginx: Nginx) -> None:
    reason = await _reason(_tail(CaddyLogConfig, nginx.json_log))
    assert "not in caddy format" in reason and 'kind = "nginx_json"' in reason


async def test_lines_arriving_while_tailing_turn_it_stale(nginx: Nginx, tmp_path: Path) -> None:
    """Not only read back: a source started at the end sees unreadable lines arrive."""
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    source = AccessLogTail(AccessLogConfig(name="edge", path=log))
    try:
        assert (await source.poll()).requests == 0
        log.write_bytes(nginx.json_log.read_bytes())
        with pytest.raises(SourceError, match="not in nginx_combined format"):
            await source.poll()
    finally:
        await source.aclose()


async def test_a_few_junk_lines_among_good_ones_stay_healthy(nginx: Nginx, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(nginx.access_log.read_bytes() + b"not a line\n" * 3)
    source = _tail(AccessLogConfig, log)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert (series.requests, series.unparsed_lines) == (30, 3)


@pytest.fixture
def haproxy_kolkata(tmp_path: Path) -> Iterator[Proxy]:
    with running_haproxy(tmp_path, timezone="Asia/Kolkata") as proxy:
        for i in range(12):
            httpx.get(f"{proxy.url}/status/{502 if i % 4 == 0 else 200}/{i}", timeout=10)
        assert len(wait_for_proxy_lines(proxy.log, 12)) >= 12
        yield proxy


async def test_haproxy_on_a_utc_0530_host_with_the_default_zone(haproxy_kolkata: Proxy) -> None:
    # The readiness check's connection is logged too (<BADREQ>, 400).
    lines = len(haproxy_kolkata.log.read_text().splitlines())
    reason = await _reason(_tail(HaproxyLogConfig, haproxy_kolkata.log))
    assert f"{lines} of {lines} lines read are stamped 5 h 30 min ahead of this clock" in reason
    assert "timezone" in reason
    source = _tail(HaproxyLogConfig, haproxy_kolkata.log, timezone="Asia/Kolkata")
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert (series.requests, series.errors_5xx, series.unparsed_lines) == (lines, 3, 0)


def test_check_json_and_doctor_say_it(
    nginx: Nginx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[[errors]]
name = "edge"
path = "{nginx.json_log}"
read_back = 600

[[errors]]
name = "edge-ok"
kind = "nginx_json"
path = "{nginx.json_log}"
read_back = 600
"""
    )
    assert main(["--config", str(config), "check", "--json"]) == 1
    rows = {r["source"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["edge"]["ok"] is False
    assert "30 of 30 lines read not in nginx_combined format" in rows["edge"]["error"]
    assert 'kind = "nginx_json"' in rows["edge"]["error"]
    assert rows["edge-ok"]["ok"] is True and rows["edge-ok"]["requests"] == 30
    main(["--config", str(config), "doctor"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "edge" in x and "nginx_combined format" in x)
    assert "ok" not in line.split()[:2]


async def test_read_back_counts_lines_whose_time_it_cannot_read(tmp_path: Path) -> None:
    """Lines without a readable time just before the window's first stamped line may be in the
    window: they are read (and counted unparsed), never skipped by the read-back's search."""
    from datetime import UTC, datetime, timedelta

    from cockpit.world.accesslog import combined_line

    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    def line(seconds_ago: int, status: int = 200) -> str:
        return combined_line(
            remote_addr="203.0.113.7",
            when=now - timedelta(seconds=seconds_ago),
            request_line="GET / HTTP/1.1",
            status=status,
            body_bytes=1,
        )

    old = [line(3600 + i) for i in range(50, 0, -1)]  # before the window
    broken = ['203.0.113.7 - - [03/Dec/2026:25:61:00 +0000] "GET / HTTP/1.1" 502 1 "-" "-"'] * 3
    recent = [line(i, 503 if i % 2 else 200) for i in range(60, 0, -1)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(old + broken + recent) + "\n")
    cfg = AccessLogConfig(name="edge", path=log, window=600, read_back=600)
    source = AccessLogTail(cfg, clock=lambda: now)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert (series.requests, series.unparsed_lines) == (60, 3)
    assert series.unparsed_example and "does not read as a time" in series.unparsed_why
