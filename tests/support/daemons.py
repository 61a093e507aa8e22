"""Real vsftpd and OpenSSH sshd for the probe tests, each with its own config, port, host keys,
log and pid file under a test directory, in the foreground, torn down with its children.

Both come from Debian packages (`.ci/run` installs them); a missing binary fails the test that
needs it. Both need root here: vsftpd drops to its `ftp` user for anonymous sessions, and sshd
logs the test's own user in with a key made for the test.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from probe_servers import Certs

START_SECONDS = 10.0
VSFTPD = "/usr/sbin/vsftpd"
SSHD = "/usr/sbin/sshd"


def _binary(path: str, package: str) -> str:
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is not installed (apt-get install {package})")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The server and every session child it forked (they share its process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # session children still around
    if process.stdout is not None:
        process.stdout.close()  # stderr, when piped, is closed by the thread reading it


# -- vsftpd -----------------------------------------------------------------------------------


@dataclass
class Vsftpd:
    directory: Path
    root: Path  # what anonymous users see as /
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _vsftpd_conf(vsftpd: Path, root: Path, port: int, certs: Certs | None, extra: str) -> str:
    tls = (
        f"""ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
rsa_cert_file={certs.cert}
rsa_private_key_file={certs.key}
"""
        if certs is not None
        else ""
    )
    # Anonymous, read-only, passive on loopback: the stock defaults otherwise (require_ssl_reuse
    # is YES unless said otherwise, as shipped).
    return f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
anon_root={root}
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_address=127.0.0.1
seccomp_sandbox=NO
vsftpd_log_file={vsftpd}/vsftpd.log
dual_log_enable=YES
xferlog_file={vsftpd}/xferlog
log_ftp_protocol=YES
{tls}{extra}
"""


def _banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(256)


@contextlib.contextmanager
def running_vsftpd(
    directory: Path, *, certs: Certs | None = None, options: Mapping[str, str] | None = None
) -> Iterator[Vsftpd]:
    """vsftpd serving `directory/vsftpd/root` to anonymous users; `options` are more
    vsftpd.conf lines (max_per_ip, max_clients, require_ssl_reuse ...)."""
    binary = _binary(VSFTPD, "vsftpd")
    home = directory / "vsftpd"
    root = home / "root"
    root.mkdir(parents=True)
    root.chmod(0o755)  # the ftp user reads it after the chroot
    extra = "".join(f"{key}={value}\n" for key, value in (options or {}).items())
    conf = home / "vsftpd.conf"
    errors = ""
    for _ in range(5):  # another process may take the free port before vsftpd binds it
        port = free_port()
        conf.write_text(_vsftpd_conf(home, root, port, certs, extra))
        conf.chmod(0o600)
        process = subprocess.Popen(
            [binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (home / "vsftpd.pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + START_SECONDS
        ready = False
        while process.poll() is None and time.monotonic() < deadline:
            try:
                ready = _banner(port).startswith(b"220")
                break
            except OSError:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.02)  # wakes at once if it exits
        if ready:
            break
        if process.poll() is not None and process.stdout is not None:
            errors = process.stdout.read().decode(errors="replace")
        _stop(process)
    else:
        raise AssertionError(f"vsftpd would not start: {errors}")
    server = Vsftpd(home, root, port, home / "vsftpd.log", process)
    try:
        yield server
    finally:
        _stop(process)


# -- OpenSSH sshd ------------------------------------------------------------------------------


@dataclass
class Sshd:
    directory: Path
    port: int
    user: str
    client_key: Path  # the private key that logs `user` in
    known_hosts: Path  # this server's host key, as a client must trust it
    log: list[str]
    process: subprocess.Popen[bytes]


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


class _LogReader:
    """Reads sshd's log (-e: stderr) on a thread, so a full pipe never blocks the server, and
    says when a line containing `needle` arrived."""

    def __init__(self, process: subprocess.Popen[bytes], needle: str, log: list[str]):
        self.found = threading.Event()
        self.ended = threading.Event()
        self._needle = needle
        self._log = log
        self._stream = process.stderr
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        assert self._stream is not None
        for raw in self._stream:
            text = raw.decode(errors="replace").rstrip("\n")
            self._log.append(text)
            if self._needle in text:
                self.found.set()
        self._stream.close()
        self.ended.set()

    def wait(self) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.found.wait(0.05):
                return True
            if self.ended.is_set():
                return self.found.is_set()
        return False


@contextlib.contextmanager
def running_sshd(
    directory: Path, *, config: str = "Subsystem sftp internal-sftp"
) -> Iterator[Sshd]:
    """sshd on a free port of 127.0.0.1 letting the current user in with a key of its own;
    `config` is the rest of sshd_config (the SFTP subsystem, ForceCommand, limits ...)."""
    binary = _binary(SSHD, "openssh-server")
    if os.geteuid() == 0:
        # What the package's tmpfiles.d entry creates at boot: sshd refuses to start without
        # its privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    home = directory / "sshd"
    home.mkdir(parents=True)
    host_key = home / "host_key"
    client_key = home / "client_key"
    keygen(host_key)
    keygen(client_key)
    authorized = home / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    host_public = Path(f"{host_key}.pub").read_text().split()
    conf = home / "sshd_config"
    log: list[str] = []
    for _ in range(5):
        port = free_port()
        conf.write_text(
            f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {home}/sshd.pid
AuthorizedKeysFile {authorized}
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel VERBOSE
{config}
"""
        )
        process = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if _LogReader(process, f"Server listening on 127.0.0.1 port {port}", log).wait():
            break
        _stop(process)
    else:
        raise AssertionError("sshd would not start: " + " | ".join(log[-5:]))
    known_hosts = home / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public[0]} {host_public[1]}\n")
    server = Sshd(home, port, getpass.getuser(), client_key, known_hosts, log, process)
    try:
        yield server
    finally:
        _stop(process)
