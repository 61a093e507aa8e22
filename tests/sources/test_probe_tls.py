"""TLS probe: handshake and certificate expiry against real TLS servers with generated certs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_servers import Certs, TlsServer, poll_once, serving

from cockpit.config.probes import TlsProbeConfig


@pytest.fixture
def valid(certs: Certs) -> Iterator[TlsServer]:
    with serving(TlsServer(certs.cert, certs.key)) as server:
        yield server


@pytest.fixture
def expired(certs: Certs) -> Iterator[TlsServer]:
    with serving(TlsServer(certs.expired_cert, certs.expired_key)) as server:
        yield server


def tls(port: int, ca: Path | None, **options: object) -> TlsProbeConfig:
    return TlsProbeConfig(name="tls", host="127.0.0.1", port=port, ca_file=ca, **options)  # type: ignore[arg-type]


async def test_trusted_certificate_and_days_left(valid: TlsServer, certs: Certs) -> None:
    result = await poll_once(
        tls(valid.port, certs.ca, conditions=("[CERTIFICATE_EXPIRATION] > 72h",))
    )
    assert result.ok, result.error
    assert result.target == f"127.0.0.1:{valid.port}"
    assert result.detail in ("certificate valid 30 more days", "certificate valid 29 more days")
    short = await poll_once(
        tls(valid.port, certs.ca, conditions=("[CERTIFICATE_EXPIRATION] > 45d",))
    )
    assert not short.ok
    assert short.error in (
        "[CERTIFICATE_EXPIRATION] > 45d (got 30d)",
        "[CERTIFICATE_EXPIRATION] > 45d (got 29d)",
    )


async def test_untrusted_certificate_is_rejected_unless_verify_is_off(valid: TlsServer) -> None:
    rejected = await poll_once(tls(valid.port, None))
    assert rejected.error == "TLS certificate rejected: unable to get local issuer certificate"
    accepted = await poll_once(tls(valid.port, None, verify_tls=False))
    assert accepted.ok, accepted.error


async def test_server_name_must_match(valid: TlsServer, certs: Certs) -> None:
    assert (await poll_once(tls(valid.port, certs.ca, server_name="localhost"))).ok
    wrong = await poll_once(tls(valid.port, certs.ca, server_name="files.example.com"))
    assert wrong.error.startswith("TLS certificate rejected: Hostname mismatch")


async def test_expired_certificate_fails_verified_or_not(expired: TlsServer, certs: Certs) -> None:
    verified = await poll_once(tls(expired.port, certs.ca))
    assert verified.error == "TLS certificate rejected: certificate has expired"
    unverified = await poll_once(tls(expired.port, None, verify_tls=False))
    assert not unverified.ok
    assert unverified.error.startswith("certificate expired 24h ago (")


async def test_four_handshakes_held_together(valid: TlsServer, certs: Certs) -> None:
    result = await poll_once(tls(valid.port, certs.ca, concurrency=4))
    assert result.ok, result.error
    assert valid.sessions.peak == 4


async def test_one_session_at_a_time(valid: TlsServer, certs: Certs) -> None:
    valid.sessions.one_at_a_time = True
    assert (await poll_once(tls(valid.port, certs.ca))).ok
    assert valid.sessions.wait_idle()
    many = await poll_once(tls(valid.port, certs.ca, concurrency=4))
    assert (many.ok, many.sessions_ok) == (False, 1)
    assert many.error.startswith("3/4 sessions failed: ")


async def test_unreadable_ca_file(valid: TlsServer, tmp_path: Path) -> None:
    result = await poll_once(tls(valid.port, tmp_path / "missing.pem", concurrency=2))
    assert result.error.startswith(f"2/2 sessions failed: cannot load ca_file {tmp_path}")
