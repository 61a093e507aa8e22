"""WebDAV probe against wsgidav (on cheroot) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_servers import BIG, Certs, DavServer, poll_once, secret

from cockpit.config.probes import WebdavProbeConfig


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "dav"
    directory.mkdir()
    (directory / "status.json").write_text('{"status": "UP"}')
    with (directory / "big.bin").open("wb") as big:
        big.truncate(BIG)
    return directory


@pytest.fixture
def dav(root: Path) -> Iterator[DavServer]:
    with DavServer(root) as server:
        yield server


def webdav(url: str, **options: object) -> WebdavProbeConfig:
    options.setdefault("user", DavServer.USER)
    options.setdefault("password", secret(DavServer.PASSWORD))
    return WebdavProbeConfig(name="dav", url=url, **options)  # type: ignore[arg-type]


async def test_propfind_and_get(dav: DavServer) -> None:
    cfg = webdav(
        dav.url, get_path="status.json", conditions=("[STATUS] == 207", "[BODY].status == UP")
    )
    result = await poll_once(cfg)
    assert result.ok, result.error
    assert result.target == dav.url
    listing = await poll_once(
        webdav(dav.url, depth=1, conditions=("[BODY] == pat(*status.json*)",))
    )
    assert listing.ok, listing.error
    assert (await poll_once(webdav(dav.url, depth=0))).ok


async def test_wrong_password(dav: DavServer) -> None:
    result = await poll_once(webdav(dav.url, password=secret("not-it"), concurrency=2))
    assert result.error == "2/2 sessions failed: PROPFIND /dav/: HTTP 401: credentials rejected"


async def test_missing_file(dav: DavServer) -> None:
    result = await poll_once(webdav(dav.url, get_path="nope.txt"))
    assert result.error == "GET /dav/nope.txt: HTTP 404"


async def test_four_sessions_held_together(dav: DavServer) -> None:
    dav.gather = 4
    result = await poll_once(webdav(dav.url, concurrency=4))
    assert result.ok, result.error
    assert dav.sessions.peak == 4


async def test_one_session_at_a_time(dav: DavServer) -> None:
    dav.sessions.one_at_a_time = True
    single = await poll_once(webdav(dav.url, get_path="status.json"))
    assert single.ok, single.error
    assert dav.sessions.wait_idle()
    dav.gather = 4
    dav.reset()
    many = await poll_once(webdav(dav.url, concurrency=4))
    assert (many.ok, many.sessions_ok) == (False, 1)
    assert many.error == "3/4 sessions failed: PROPFIND /dav/: HTTP 503"


async def test_fifty_megabytes_are_read_in_a_bounded_amount(dav: DavServer) -> None:
    result = await poll_once(webdav(dav.url, get_path="big.bin", max_body_bytes=256 * 1024))
    assert result.ok, result.error
    assert dav.sessions.wait_idle()
    assert dav.bytes_sent < BIG


async def test_https_with_trusted_certificate(root: Path, certs: Certs) -> None:
    with DavServer(root, certs) as server:
        trusted = await poll_once(
            webdav(server.url, ca_file=certs.ca, conditions=("[CERTIFICATE_EXPIRATION] > 72h",))
        )
        untrusted = await poll_once(webdav(server.url))
    assert trusted.ok, trusted.error
    assert untrusted.error == "TLS certificate rejected: unable to get local issuer certificate"
