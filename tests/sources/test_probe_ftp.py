"""FTP and FTPS probes against pyftpdlib servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_servers import BIG, Certs, FtpServer, poll_once, secret

from cockpit.config.probes import FtpProbeConfig, FtpsProbeConfig

STATUS_JSON = '{"status": "UP"}'


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "ftp"
    directory.mkdir()
    (directory / "status.json").write_text(STATUS_JSON)
    with (directory / "big.bin").open("wb") as big:
        big.truncate(BIG)  # sparse: 50 MB to serve, nothing much on disk
    return directory


@pytest.fixture
def ftp_server(root: Path) -> Iterator[FtpServer]:
    with FtpServer(root) as server:
        yield server


@pytest.fixture
def ftps_server(root: Path, certs: Certs) -> Iterator[FtpServer]:
    with FtpServer(root, certs) as server:
        yield server


def ftp(server: FtpServer, **options: object) -> FtpProbeConfig:
    options.setdefault("user", FtpServer.USER)
    options.setdefault("password", secret(FtpServer.PASSWORD))
    return FtpProbeConfig(name="ftp", host="127.0.0.1", port=server.port, **options)  # type: ignore[arg-type]


async def test_login_list_and_retrieve(ftp_server: FtpServer) -> None:
    cfg = ftp(
        ftp_server,
        list_path="/",
        retrieve_path="status.json",
        conditions=("[STATUS] == 226", "[BODY].status == UP"),
    )
    result = await poll_once(cfg)
    assert result.ok, result.error
    assert result.target == f"ftp://alice@127.0.0.1:{ftp_server.port}"
    assert result.latency_ms is not None and result.latency_ms > 0


async def test_anonymous_noop(ftp_server: FtpServer) -> None:
    cfg = ftp(ftp_server, user="anonymous", password=None, conditions=("[STATUS] == 200",))
    result = await poll_once(cfg)
    assert result.ok, result.error


async def test_wrong_password(ftp_server: FtpServer) -> None:
    result = await poll_once(ftp(ftp_server, password=secret("not-it"), concurrency=2))
    assert not result.ok
    assert result.error == "2/2 sessions failed: 530 Authentication failed."
    assert "not-it" not in result.error


async def test_missing_file(ftp_server: FtpServer) -> None:
    result = await poll_once(ftp(ftp_server, retrieve_path="nope.txt"))
    assert result.error.startswith("550 ")


async def test_four_sessions_held_together(ftp_server: FtpServer) -> None:
    result = await poll_once(ftp(ftp_server, concurrency=4, retrieve_path="status.json"))
    assert result.ok, result.error
    assert ftp_server.sessions.peak == 4


async def test_one_session_at_a_time(ftp_server: FtpServer) -> None:
    ftp_server.sessions.one_at_a_time = True
    single = await poll_once(ftp(ftp_server, list_path="/"))
    assert single.ok, single.error
    assert ftp_server.sessions.wait_idle()
    many = await poll_once(ftp(ftp_server, list_path="/", concurrency=4))
    assert (many.ok, many.sessions_ok, many.concurrency) == (False, 1, 4)
    assert many.error == "3/4 sessions failed: 421 Too many sessions"


async def test_fifty_megabytes_are_retrieved_in_a_bounded_amount(ftp_server: FtpServer) -> None:
    result = await poll_once(ftp(ftp_server, retrieve_path="big.bin", max_bytes=256 * 1024))
    assert result.ok, result.error
    assert ftp_server.send_finished.wait(timeout=10)
    assert (ftp_server.incomplete_sends, ftp_server.complete_sends) == (1, 0)


async def test_ftps_with_trusted_certificate(ftps_server: FtpServer, certs: Certs) -> None:
    cfg = FtpsProbeConfig(
        name="ftps",
        host="127.0.0.1",
        port=ftps_server.port,
        user=FtpServer.USER,
        password=secret(FtpServer.PASSWORD),
        ca_file=certs.ca,
        retrieve_path="status.json",
        concurrency=2,
        conditions=("[BODY].status == UP", "[CERTIFICATE_EXPIRATION] > 72h"),
    )
    result = await poll_once(cfg)
    assert result.ok, result.error
    assert result.target.startswith("ftps://alice@127.0.0.1:")


async def test_ftps_untrusted_certificate(ftps_server: FtpServer) -> None:
    cfg = FtpsProbeConfig(name="ftps", host="127.0.0.1", port=ftps_server.port)
    result = await poll_once(cfg)
    assert result.error == "TLS certificate rejected: unable to get local issuer certificate"
    lax = await poll_once(
        FtpsProbeConfig(name="ftps", host="127.0.0.1", port=ftps_server.port, verify_tls=False)
    )
    assert lax.ok, lax.error
