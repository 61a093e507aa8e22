"""A real nginx on 127.0.0.1 in front of a small upstream that answers the status it is asked
for (`GET /status/503`), with its own prefix, config, logs and pid file under a test directory.

nginx is required, not optional: a missing binary fails the test (CI installs it, see .ci/run).
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from programs import program
from servers import serving

START_SECONDS = 10.0

# The combined format is built in; this is the JSON one the docs suggest, escape=json.
JSON_FORMAT = (
    "log_format cockpit_json escape=json '{"
    '"time_iso8601":"$time_iso8601",'
    '"msec":"$msec",'
    '"remote_addr":"$remote_addr",'
    '"request":"$request",'
    '"status":$status,'
    '"body_bytes_sent":$body_bytes_sent,'
    '"http_user_agent":"$http_user_agent"'
    "}';"
)


def nginx_binary() -> str:
    # Debian puts it in sbin, which a user's PATH may not hold.
    sbin = (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK))
    return next(sbin, None) or program("nginx", "nginx-light")


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    """`/status/NNN...` -> status NNN with a short body; `/slow/S` -> 200 after S seconds;
    anything else -> 200."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = self.path.split("/")
        if len(parts) > 2 and parts[1] == "slow":  # `/slow/1.5`: answers after 1.5 s
            time.sleep(float(parts[2]))
        status = int(parts[2]) if len(parts) > 2 and parts[1] == "status" else 200
        body = f"status {status}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (/slow)
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Upstream(http.server.ThreadingHTTPServer):
    daemon_threads = True


@dataclass
class Nginx:
    prefix: Path
    conf: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    @property
    def json_log(self) -> Path:
        return self.prefix / "logs" / "access.json"

    def reopen(self) -> None:
        """`nginx -s reopen`, as logrotate's postrotate runs it."""
        subprocess.run(
            [nginx_binary(), "-p", str(self.prefix), "-c", str(self.conf), "-s", "reopen"],
            check=True,
            capture_output=True,
            timeout=10,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proxy_server(prefix: Path, port: int, upstream: int) -> str:
    """The default server block: everything proxied to the status upstream."""
    return f"""server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
        }}
    }}"""


ServerBlock = Callable[[Path, int, int], str]  # (prefix, port, upstream port) -> http{} text


def _config(prefix: Path, port: int, upstream: int, server: ServerBlock, main: str) -> str:
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers as root: tmp is 0700
    temp = prefix / "tmp"
    return f"""{user}daemon off;
{main}
worker_processes 1;
error_log {prefix}/logs/error.log info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {JSON_FORMAT}
    access_log {prefix}/logs/access.log combined;
    access_log {prefix}/logs/access.json cockpit_json;
    {server(prefix, port, upstream)}
}}
"""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_nginx(
    directory: Path, server: ServerBlock = proxy_server, main: str = ""
) -> Iterator[Nginx]:
    """nginx and its upstream for the length of a `with` block; stopped and reaped after.
    `server` writes the server block(s), `main` more main-context lines (load_module ...)."""
    binary = nginx_binary()
    with ExitStack() as stack:
        upstream = stack.enter_context(serving(_Upstream(("127.0.0.1", 0), _StatusHandler)))
        prefix = directory / "nginx"
        (prefix / "logs").mkdir(parents=True)
        (prefix / "tmp").mkdir()
        conf = prefix / "nginx.conf"
        errors: list[str] = []
        for _ in range(5):  # another process may take the free port before nginx binds it
            port = _free_port()
            conf.write_text(_config(prefix, port, upstream.server_address[1], server, main))
            process = subprocess.Popen(
                [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + START_SECONDS
            while process.poll() is None and not _answers(port):
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise AssertionError("nginx did not start listening")
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.02)  # wakes at once if it exits
            if process.poll() is None:
                break
            assert process.stderr is not None
            errors.append(process.stderr.read().decode(errors="replace"))
        else:
            raise AssertionError(f"nginx would not start: {errors[-1]}")
        nginx = Nginx(prefix, conf, port, process)
        try:
            yield nginx
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()


def logged_lines(*paths: Path) -> list[str]:
    lines: list[str] = []
    for path in paths:
        if path.exists():
            lines.extend(path.read_text(encoding="utf-8").splitlines())
    return lines


def wait_for_lines(count: int, *paths: Path, seconds: float = 10.0) -> list[str]:
    """nginx writes a request's log line after the client has its answer: wait for it."""
    deadline = time.monotonic() + seconds
    while True:
        lines = logged_lines(*paths)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)
