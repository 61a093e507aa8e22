"""Real HAProxy, Caddy and Apache on 127.0.0.1, each in front of the status upstream of
nginx_servers (`GET /status/503` answers 503), each with its own config, port, pid and log
under a test directory, run in the foreground and stopped after.

Each writes its access log as its docs say: HAProxy `option httplog` to stdout (`log stdout
format raw`, the container way; the test keeps stdout in a file), Caddy's `log` directive with
the JSON encoder, Apache's `CustomLog` with its `combined` nickname.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from nginx_servers import _StatusHandler, _Upstream
from programs import program
from servers import serving

START_SECONDS = 10.0


@dataclass
class Proxy:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _running(
    directory: Path,
    name: str,
    write_config: Callable[[int, int], list[str]],
    log: Path,
    stdout_log: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[Proxy]:
    with ExitStack() as stack:
        upstream = stack.enter_context(serving(_Upstream(("127.0.0.1", 0), _StatusHandler)))
        errors = ""
        for _ in range(5):  # another process may take the free port first
            port = _free_port()
            argv = write_config(port, upstream.server_address[1])
            out = log.open("ab") if stdout_log else subprocess.DEVNULL
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.PIPE,
                env={**os.environ, **(env or {})},
                cwd=directory,
            )
            if stdout_log:
                out.close()  # type: ignore[union-attr]
            deadline = time.monotonic() + START_SECONDS
            while process.poll() is None and not _answers(port):
                if time.monotonic() > deadline:
                    _stop(process)
                    raise AssertionError(f"{name} did not start listening")
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.02)
            if process.poll() is None:
                break
            assert process.stderr is not None
            errors = process.stderr.read().decode(errors="replace")
        else:
            raise AssertionError(f"{name} would not start: {errors}")
        try:
            yield Proxy(port, log, process)
        finally:
            _stop(process)
            if process.stderr is not None:
                process.stderr.close()


@contextmanager
def running_haproxy(
    directory: Path, log_option: str = "option httplog", timezone: str = "UTC"
) -> Iterator[Proxy]:
    """HAProxy with `log_option` ("option httplog", "option httpslog", "option httplog clf"),
    its accept date in `timezone` (HAProxy writes local time, without an offset)."""
    binary = program("haproxy")
    log = directory / "haproxy.log"

    def config(port: int, upstream: int) -> list[str]:
        cfg = directory / "haproxy.cfg"
        cfg.write_text(
            f"""global
    log stdout format raw local0
    pidfile {directory}/haproxy.pid
defaults
    mode http
    log global
    {log_option}
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server app1 127.0.0.1:{upstream}
"""
        )
        return [binary, "-db", "-f", str(cfg)]

    with _running(directory, "haproxy", config, log, stdout_log=True, env={"TZ": timezone}) as p:
        yield p


@contextmanager
def running_caddy(directory: Path, encoder: str = "json") -> Iterator[Proxy]:
    """Caddy with an access log through `format <encoder>` (e.g. "json { time_format wall }")."""
    binary = program("caddy")
    log = directory / "caddy-access.log"

    def config(port: int, upstream: int) -> list[str]:
        cfg = directory / "Caddyfile"
        cfg.write_text(
            f"""{{
    admin off
    auto_https off
    storage file_system {directory}/caddy-data
}}
http://127.0.0.1:{port} {{
    log {{
        output file {log}
        format {encoder}
    }}
    reverse_proxy 127.0.0.1:{upstream}
}}
"""
        )
        return [binary, "run", "--config", str(cfg), "--adapter", "caddyfile"]

    env = {
        "HOME": str(directory),
        "XDG_DATA_HOME": str(directory),
        "XDG_CONFIG_HOME": str(directory),
    }
    with _running(directory, "caddy", config, log, env=env) as proxy:
        yield proxy


# Apache's `combined`, as Debian's apache2.conf defines it (quotes escaped for the config).
COMBINED = '%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"'


@contextmanager
def running_apache(directory: Path, log_format: str = "", timezone: str = "UTC") -> Iterator[Proxy]:
    """Apache httpd in the foreground (-X, one process) proxying to the status upstream, its
    access log through `CustomLog ... combined` with the LogFormat Debian's apache2.conf has.
    `HttpProtocolOptions Unsafe` lets a raw '"' or '\\' through to the log, escaped by Apache.
    `log_format` replaces the combined LogFormat string; Apache writes local time in `timezone`."""
    binary = program("apache2")
    log = directory / "apache-access.log"
    modules = "/usr/lib/apache2/modules"

    def config(port: int, upstream: int) -> list[str]:
        cfg = directory / "apache2.conf"
        cfg.write_text(
            f"""ServerRoot "{directory}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {directory}/apache2.pid
ErrorLog {directory}/apache-error.log
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
HttpProtocolOptions Unsafe
LogFormat "{log_format or COMBINED}" combined
CustomLog {log} combined
ProxyPass "/" "http://127.0.0.1:{upstream}/"
"""
        )
        return [binary, "-X", "-d", str(directory), "-f", str(cfg)]

    with _running(directory, "apache2", config, log, env={"TZ": timezone}) as proxy:
        yield proxy


def wait_for_lines(log: Path, count: int, seconds: float = 10.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)
