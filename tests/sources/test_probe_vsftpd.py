"""FTP and explicit FTPS probes against a stock vsftpd (Debian's package, its defaults: FTPS data
connections must resume the control connection's TLS session, `require_ssl_reuse=YES`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import Vsftpd, running_vsftpd
from probe_servers import Certs, make_certs, poll_once
from programs import program

from cockpit.config.probes import FtpProbeConfig, FtpsProbeConfig

STATUS = '{"status": "UP"}'


def _fill(server: Vsftpd) -> None:
    (server.root / "status.json").write_text(STATUS)
    (server.root / "pub").mkdir()
    (server.root / "pub" / "readme.txt").write_text("hello\n")


@pytest.fixture
def vsftpd_tls(tmp_path: Path, certs: Certs) -> Iterator[Vsftpd]:
    with running_vsftpd(tmp_path, certs=certs) as server:
        _fill(server)
        yield server


@pytest.fixture
def vsftpd_plain(tmp_path: Path) -> Iterator[Vsftpd]:
    with running_vsftpd(tmp_path) as server:
        _fill(server)
        yield server


def test_curl_lists_the_stock_server(vsftpd_tls: Vsftpd, certs: Certs) -> None:
    """The server is fine: a client that resumes the TLS session lists it."""
    done = subprocess.run(
        [
            program("curl"),
            "-s",
            "--ssl-reqd",
            "--cacert",
            str(certs.ca),
            f"ftp://127.0.0.1:{vsftpd_tls.port}/pub/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "readme.txt" in done.stdout


async def test_ftps_lists_and_retrieves_from_stock_vsftpd(vsftpd_tls: Vsftpd, certs: Certs) -> None:
    cfg = FtpsProbeConfig(
        name="ftps",
        host="127.0.0.1",
        port=vsftpd_tls.port,
        ca_file=certs.ca,
        list_path="/pub",
        retrieve_path="status.json",
        concurrency=2,
        conditions=("[STATUS] == 226", "[BODY].status == UP", "[CERTIFICATE_EXPIRATION] > 72h"),
    )
    result = await poll_once(cfg)
    assert result.ok, (result.error, vsftpd_tls.log_text()[-1500:])
    assert result.sessions_ok == 2
    assert "session reuse required" not in vsftpd_tls.log_text()


async def test_ftps_listing_names_the_file(vsftpd_tls: Vsftpd, certs: Certs) -> None:
    cfg = FtpsProbeConfig(
        name="ftps",
        host="127.0.0.1",
        port=vsftpd_tls.port,
        ca_file=certs.ca,
        list_path="/pub",
        conditions=("[BODY] == pat(*readme.txt*)",),
    )
    result = await poll_once(cfg)
    assert result.ok, result.error


async def test_plain_ftp_against_vsftpd(vsftpd_plain: Vsftpd) -> None:
    cfg = FtpProbeConfig(
        name="ftp",
        host="127.0.0.1",
        port=vsftpd_plain.port,
        list_path="/pub",
        retrieve_path="status.json",
        conditions=("[BODY].status == UP",),
    )
    result = await poll_once(cfg)
    assert result.ok, result.error


async def test_ftp_login_refused_by_a_tls_only_server(vsftpd_tls: Vsftpd) -> None:
    """Plain FTP to a server that forces TLS: the server's own words."""
    result = await poll_once(
        FtpProbeConfig(name="ftp", host="127.0.0.1", port=vsftpd_tls.port, list_path="/")
    )
    assert not result.ok
    assert result.error.startswith("530 ")


async def test_a_rotated_ca_file_turns_a_running_ftps_probe_green(
    vsftpd_tls: Vsftpd, certs: Certs, tmp_path: Path
) -> None:
    from cockpit.model import ProbeResult
    from cockpit.sources.registry import build_source

    (tmp_path / "other").mkdir()
    other = make_certs(tmp_path / "other")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(other.ca.read_bytes())
    probe = build_source(
        FtpsProbeConfig(
            name="ftps", host="127.0.0.1", port=vsftpd_tls.port, ca_file=ca_file, list_path="/"
        )
    )
    try:
        before = await probe.poll()
        assert isinstance(before, ProbeResult) and "certificate rejected" in before.error
        fresh = tmp_path / "ca.pem.new"
        fresh.write_bytes(certs.ca.read_bytes())
        fresh.replace(ca_file)
        after = await probe.poll()
        assert isinstance(after, ProbeResult) and after.ok, after.error
    finally:
        await probe.aclose()
