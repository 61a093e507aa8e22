"""Probes' set-up work (TLS contexts and trust stores, SSH keys, known_hosts): never on the event
loop while other probes are timed, and done again when the files it read change on disk.

The TLS server is a real nginx in a process of its own, so the probes' timing is the client's
alone; the SSH server a real OpenSSH sshd.
"""

from __future__ import annotations

import os
import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import Sshd, keygen, running_sshd
from nginx_servers import Nginx, running_nginx
from probe_servers import Certs, make_certs

from cockpit.config.probes import (
    HttpProbeConfig,
    SftpProbeConfig,
    TcpProbeConfig,
    TlsProbeConfig,
)
from cockpit.hub import Hub
from cockpit.model import ProbeResult
from cockpit.sources.registry import build_source


@pytest.fixture
def nginx_tls(tmp_path: Path, certs: Certs) -> Iterator[Nginx]:
    def server(prefix: Path, port: int, upstream: int) -> str:
        return f"""server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certs.cert};
        ssl_certificate_key {certs.key};
        location / {{ return 200 "UP\\n"; }}
    }}"""

    with running_nginx(tmp_path, server) as nginx:
        yield nginx


def replace_file(path: Path, data: bytes) -> None:
    """As a deploy tool or certbot does: a new file renamed over the old one."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(data)
    os.replace(fresh, path)


async def test_first_round_of_six_tls_probes_is_not_slowed_by_their_set_up(
    nginx_tls: Nginx, certs: Certs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six probes with six trust stores and a plain TCP probe, started together as `cockpit
    check` and the TUI do: no trust store is loaded on the event loop, where it would count in
    the others' latencies (about 70 ms each here, far more on a loaded host). Checked by thread,
    not by time: a timing assert passes by luck on a fast host and fails on a slow one."""
    loaded_on: list[tuple[str, int]] = []
    for name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
        original = getattr(ssl.SSLContext, name)

        def recording(self: ssl.SSLContext, *a: object, _o=original, _n=name, **k: object):  # type: ignore[no-untyped-def]
            loaded_on.append((_n, threading.get_ident()))
            return _o(self, *a, **k)

        monkeypatch.setattr(ssl.SSLContext, name, recording)
    configs: list[TcpProbeConfig | TlsProbeConfig | HttpProbeConfig] = [
        TcpProbeConfig(name="tcp", host="127.0.0.1", port=nginx_tls.port)
    ]
    for i in range(3):
        ca = tmp_path / f"ca-{i}.pem"
        shutil.copy(certs.ca, ca)
        configs.append(
            TlsProbeConfig(name=f"tls-{i}", host="127.0.0.1", port=nginx_tls.port, ca_file=ca)
        )
        configs.append(
            HttpProbeConfig(
                name=f"https-{i}",
                url=f"https://127.0.0.1:{nginx_tls.port}/",
                ca_file=ca,
                conditions=("[STATUS] == 200",),
            )
        )
    sources = [build_source(c) for c in configs]
    hub = Hub(sources)
    loop_thread = threading.get_ident()
    try:
        snapshot = await hub.poll_all_once()
    finally:
        await hub.aclose()
    results = [snapshot.readings[c.name] for c in configs]
    assert all(isinstance(r, ProbeResult) and r.ok for r in results), results
    assert [n for n, _ in loaded_on].count("load_verify_locations") == 3  # one per CA file
    assert [n for n, thread in loaded_on if thread == loop_thread] == []


@pytest.mark.parametrize("kind", ["tls", "https"])
async def test_a_rotated_ca_file_turns_a_running_probe_green(
    kind: str, nginx_tls: Nginx, certs: Certs, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = make_certs(tmp_path / "other")  # a CA that did not sign the server's certificate
    ca_file = tmp_path / "trust" / "ca.pem"
    ca_file.parent.mkdir()
    shutil.copy(other.ca, ca_file)
    cfg: TlsProbeConfig | HttpProbeConfig
    if kind == "tls":
        cfg = TlsProbeConfig(name="tls", host="127.0.0.1", port=nginx_tls.port, ca_file=ca_file)
    else:
        cfg = HttpProbeConfig(
            name="https", url=f"https://127.0.0.1:{nginx_tls.port}/", ca_file=ca_file
        )
    probe = build_source(cfg)
    try:
        before = await probe.poll()
        assert isinstance(before, ProbeResult)
        assert not before.ok and "certificate rejected" in before.error
        replace_file(ca_file, certs.ca.read_bytes())
        after = await probe.poll()
        assert isinstance(after, ProbeResult)
        assert after.ok, after.error
        # And back: a CA taken away is noticed as well.
        replace_file(ca_file, other.ca.read_bytes())
        again = await probe.poll()
        assert isinstance(again, ProbeResult) and not again.ok
    finally:
        await probe.aclose()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    with running_sshd(tmp_path) as server:
        yield server


def sftp(server: Sshd, key_file: Path, known_hosts: Path) -> SftpProbeConfig:
    return SftpProbeConfig(
        name="sftp",
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        key_file=key_file,
        known_hosts=known_hosts,
        list_path="/",
    )


async def test_a_rotated_key_file_is_used_by_a_running_sftp_probe(
    sshd: Sshd, tmp_path: Path
) -> None:
    key_file = tmp_path / "probe_key"
    shutil.copy(sshd.client_key, key_file)
    probe = build_source(sftp(sshd, key_file, sshd.known_hosts))
    try:
        first = await probe.poll()
        assert isinstance(first, ProbeResult) and first.ok, first.error
        # The key is rotated: the server trusts only the new one, the file holds the new one.
        new_key = tmp_path / "new_key"
        keygen(new_key)
        (sshd.directory / "authorized_keys").write_text(Path(f"{new_key}.pub").read_text())
        replace_file(key_file, new_key.read_bytes())
        rotated = await probe.poll()
        assert isinstance(rotated, ProbeResult) and rotated.ok, rotated.error
    finally:
        await probe.aclose()


async def test_a_corrected_known_hosts_turns_a_running_sftp_probe_green(
    sshd: Sshd, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong_host_key"
    keygen(wrong)
    known_hosts = tmp_path / "known_hosts"
    kind, blob = Path(f"{wrong}.pub").read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    probe = build_source(sftp(sshd, sshd.client_key, known_hosts))
    try:
        refused = await probe.poll()
        assert isinstance(refused, ProbeResult)
        assert not refused.ok and "host key not trusted" in refused.error
        replace_file(known_hosts, sshd.known_hosts.read_bytes())
        trusted = await probe.poll()
        assert isinstance(trusted, ProbeResult) and trusted.ok, trusted.error
    finally:
        await probe.aclose()
