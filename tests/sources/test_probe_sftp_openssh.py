"""The SFTP probe against a real OpenSSH sshd: logins, and the server refusing SFTP said in words
(closed before the handshake, the exit status, what it printed instead)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemons import Sshd, running_sshd
from probe_servers import poll_once

from cockpit.config.probes import SftpProbeConfig
from cockpit.model import ProbeResult


def sftp(server: Sshd, **options: object) -> SftpProbeConfig:
    return SftpProbeConfig(
        name="sftp",
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        key_file=server.client_key,
        known_hosts=server.known_hosts,
        **options,  # type: ignore[arg-type]
    )


async def probe(tmp_path: Path, config: str, **options: object) -> ProbeResult:
    with running_sshd(tmp_path, config=config) as server:
        return await poll_once(sftp(server, **options))  # type: ignore[no-any-return]


async def test_lists_a_directory_on_openssh(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "report.csv").write_text("a,b\n")
    result = await probe(
        tmp_path,
        "Subsystem sftp internal-sftp",
        list_path=str(files),
        concurrency=3,
        conditions=("[BODY] == pat(*report.csv*)",),
    )
    assert result.ok, result.error
    assert result.sessions_ok == 3


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (
            "Subsystem sftp internal-sftp\nForceCommand /bin/false",
            "the server closed the SFTP subsystem before the SFTP handshake (exit status 1)",
        ),
        (
            "Subsystem sftp internal-sftp\nForceCommand echo 'no sftp for you' >&2; exit 2",
            # sshd does not pass a subsystem's stderr on: its log has it, the client does not.
            "the server closed the SFTP subsystem before the SFTP handshake (exit status 2)",
        ),
        (
            "Subsystem sftp internal-sftp\nForceCommand echo 'This account is not available.'",
            "the server answered the SFTP subsystem with text, not SFTP (exit status 0): "
            "'This account is not available.'",
        ),
        (
            "Subsystem sftp /nonexistent/sftp-server",
            "the server closed the SFTP subsystem before the SFTP handshake "
            "(exit status 127: its program was not found)",
        ),
        (
            "",  # no Subsystem line: sshd refuses the subsystem request
            "the server refused to start the SFTP subsystem (is `Subsystem sftp` set in its "
            "sshd_config?)",
        ),
    ],
    ids=["false", "stderr", "text", "missing-server", "no-subsystem"],
)
async def test_sftp_refused_by_the_server_is_said_in_words(
    tmp_path: Path, config: str, said: str
) -> None:
    result = await probe(tmp_path, config, list_path="/")
    assert not result.ok
    assert result.error == said
