"""SFTP probe against an asyncssh server on 127.0.0.1: logins, host keys, bounded reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from probe_servers import SftpServer, poll_once, secret

from cockpit.config.probes import SftpProbeConfig

READ_LIMIT = 64 * 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "sftp"
    directory.mkdir()
    (directory / "status.json").write_text('{"status": "UP"}')
    (directory / "inbox").mkdir()
    with (directory / "big.bin").open("wb") as big:
        big.truncate(50 * 1024 * 1024)
    return directory


@pytest.fixture
def server(root: Path) -> Iterator[SftpServer]:
    with SftpServer(root) as running:
        yield running


@pytest.fixture
def known_hosts(server: SftpServer, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(server.known_hosts_line())
    return path


def sftp(server: SftpServer, known_hosts: Path | None, **options: object) -> SftpProbeConfig:
    options.setdefault("password", secret(SftpServer.PASSWORD))
    return SftpProbeConfig(
        name="sftp",
        host="127.0.0.1",
        port=server.port,
        user=SftpServer.USER,
        known_hosts=known_hosts,
        **options,  # type: ignore[arg-type]
    )


async def test_login_stat_list_read(server: SftpServer, known_hosts: Path) -> None:
    cfg = sftp(
        server,
        known_hosts,
        stat_path="inbox",
        list_path=".",
        read_path="status.json",
        conditions=("[BODY].status == UP",),
    )
    result = await poll_once(cfg)
    assert result.ok, result.error
    assert result.target == f"sftp://alice@127.0.0.1:{server.port}"
    listed = await poll_once(
        sftp(server, known_hosts, list_path=".", conditions=("[BODY] == pat(*inbox*)",))
    )
    assert listed.ok, listed.error


async def test_wrong_password(server: SftpServer, known_hosts: Path) -> None:
    result = await poll_once(sftp(server, known_hosts, password=secret("not-it")))
    assert result.error == "permission denied for user 'alice'"


async def test_key_file_login(server: SftpServer, known_hosts: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_bytes(server.client_key.export_private_key("openssh"))
    result = await poll_once(sftp(server, known_hosts, password=None, key_file=key))
    assert result.ok, result.error

    other = tmp_path / "other_key"
    other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh"))
    refused = await poll_once(sftp(server, known_hosts, password=None, key_file=other))
    assert refused.error == "permission denied for user 'alice'"

    garbage = tmp_path / "not_a_key"
    garbage.write_text("hello\n")
    unusable = await poll_once(sftp(server, known_hosts, password=None, key_file=garbage))
    assert unusable.error == f"cannot read key_file {garbage}: not a usable private key"
    missing = await poll_once(sftp(server, known_hosts, password=None, key_file=tmp_path / "no"))
    assert missing.error.startswith(f"cannot read key_file {tmp_path / 'no'}: ")


async def test_missing_path(server: SftpServer, known_hosts: Path) -> None:
    result = await poll_once(sftp(server, known_hosts, read_path="nope.txt"))
    assert result.error.startswith("read nope.txt: ")


async def test_host_key_mismatch_fails_and_the_explicit_opt_out_works(
    server: SftpServer, tmp_path: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(server.known_hosts_line(other))
    mismatch = await poll_once(sftp(server, wrong))
    assert not mismatch.ok
    assert mismatch.error.startswith(f"host key not trusted (unknown or changed in {wrong})")
    skipped = await poll_once(sftp(server, wrong, insecure_skip_host_key_check=True))
    assert skipped.ok, skipped.error


async def test_missing_known_hosts_file(server: SftpServer, tmp_path: Path) -> None:
    result = await poll_once(sftp(server, tmp_path / "absent"))
    assert result.error.startswith(f"cannot read known_hosts {tmp_path / 'absent'}")


async def test_four_sessions_held_together(server: SftpServer, known_hosts: Path) -> None:
    result = await poll_once(sftp(server, known_hosts, concurrency=4, stat_path="."))
    assert result.ok, result.error
    assert server.sessions.peak == 4


async def test_one_session_at_a_time(server: SftpServer, known_hosts: Path) -> None:
    server.sessions.one_at_a_time = True
    single = await poll_once(sftp(server, known_hosts, stat_path="."))
    assert single.ok, single.error
    assert server.sessions.wait_idle()
    many = await poll_once(sftp(server, known_hosts, stat_path=".", concurrency=4))
    assert (many.ok, many.sessions_ok) == (False, 1)
    assert many.error.startswith(
        "3/4 sessions failed: disconnected by the server: Too many sessions"
    )


async def test_fifty_megabytes_are_read_in_a_bounded_amount(
    server: SftpServer, known_hosts: Path
) -> None:
    result = await poll_once(sftp(server, known_hosts, read_path="big.bin", max_bytes=READ_LIMIT))
    assert result.ok, result.error
    assert 0 < server.bytes_read <= READ_LIMIT
