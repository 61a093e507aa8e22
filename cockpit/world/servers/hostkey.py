"""The SFTP server's host key, made before the server starts so `known_hosts` can be written
with the config (the cockpit's SFTP probe verifies the server instead of trusting it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cockpit.host.files import write_file


@dataclass(frozen=True)
class HostKey:
    private_openssh: bytes  # never logged
    public_openssh: str  # "ssh-ed25519 AAAA..."


def make_host_key(private_path: Path, known_hosts: Path, port: int) -> HostKey:
    """A fresh ed25519 key, written to `private_path` (0600) and listed in `known_hosts` for
    `[127.0.0.1]:port`."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    write_file(private_path, private.decode(), mode=0o600, parents=True)
    write_file(known_hosts, f"[127.0.0.1]:{port} {public}\n", parents=True)
    return HostKey(private, public)
