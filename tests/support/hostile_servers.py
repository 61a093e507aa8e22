"""Hostile servers on 127.0.0.1 and a cockpit config pointing at them, for issue 15's tests.

- `HostileHttp`: a raw-socket HTTP server (http.server will not send these): every answer is
  `HTTP/1.1 500 <reason>` with escape sequences in the reason phrase (OSC 52 clipboard, clear
  screen, cursor home, window title), and a body that echoes the request line and its
  Authorization header back, as careless servers do. It plays the deploy API (revert), the
  notification webhook and an HTTP probe's target.
- `EchoFtp`: pyftpdlib whose 530 says "you sent <password>", with escape sequences.
- `hostile_sentry`: the Sentry stand-in of tests/fixtures/sentry (every answer validated against
  the official schema), serving issue titles and an error event full of markup and escapes.
- `hostile_config`: a cockpit config on all of them, secrets in the environment.

Every injected sequence is distinctive (nothing Textual itself writes), so the tests can look
for them in the bytes written to the terminal.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fixtures.sentry.fake_sentry import FakeSentry, fixture_issues, load
from servers import serving

# What must never reach the terminal, the clipboard, the store or an export.
OSC52 = "\x1b]52;c;SElKQUNLRUQ=\x07"  # sets the clipboard to "HIJACKED"
TITLE = "\x1b]0;TITLE-PWN\x07"
CLEAR = "\x1b[2J\x1b[H"
LEAVE_ALT = "\x1b[?1049l"
DSR = "\x1b[6n"
CSI8 = "\x9b2J"
DCS = "\x1bP+q544e\x1b\\"
BIDI = "\u202e"
ZW = "\u200b\ufeff\u2066"
INJECTED = OSC52 + TITLE + CLEAR + LEAVE_ALT + DSR
# Substrings whose presence in terminal output, clipboard or files means a leak.
FORBIDDEN_OUTPUT = (
    "\x1b]52",
    "SElKQUNLRUQ",
    "\x1b]0;",
    "TITLE-PWN",
    "\x1b[?1049l",
    "\x1b[6n",
    "\x9b",
    "\x1bP+q",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\u2066",
)
MARKUP = "[/] [bold red]red[/bold red] [link=http://evil]x[/link] $error"

# Secrets: given to the cockpit through the environment, echoed back by the servers.
FTP_PASSWORD = "ftp-Pa55w0rd-9f3e"
DEPLOY_TOKEN = "deploy-tok-7c1a2b3d4e"
SENTRY_TOKEN = "sntrys_hostileTestTokenValue1234567890"
WEBHOOK_SECRET = "hookSecret4d5e6f7a8b9c"
SECRETS = (FTP_PASSWORD, DEPLOY_TOKEN, SENTRY_TOKEN, WEBHOOK_SECRET)


def leaks(text: str) -> list[str]:
    """What of the injected sequences and the secrets `text` holds."""
    found = [seq for seq in FORBIDDEN_OUTPUT if seq in text]
    return found + [f"secret {s[:6]}..." for s in SECRETS if s in text]


# -- HTTP ------------------------------------------------------------------------------------------


@dataclass
class Seen:
    request_line: str
    authorization: str | None


@dataclass
class HostileHttp:
    """Answers every request `500 <hostile reason>`; the body echoes what was sent."""

    reason: bytes = (
        b"Internal " + (OSC52 + CLEAR + TITLE + LEAVE_ALT + DSR).encode() + b"\x9b2J Error"
    )
    status: int = 500
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.answered = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            lines = head.split("\r\n")
            auth = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in lines
                    if line.lower().startswith("authorization:")
                ),
                None,
            )
            self.seen.append(Seen(lines[0] if lines else "", auth))
            body = (
                f"rollback refused {MARKUP} {INJECTED}{BIDI}{ZW}\n"
                f"you sent: {lines[0] if lines else ''} with {auth}\n"
            ).encode()
            answer = (
                f"HTTP/1.1 {self.status} ".encode()
                + self.reason
                + f"\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            with contextlib.suppress(OSError):
                conn.sendall(answer)
            self.answered.set()

    def __enter__(self) -> HostileHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)


# -- FTP -------------------------------------------------------------------------------------------


class EchoFtp:
    """pyftpdlib refusing every login with the password it was sent, and escapes."""

    def __init__(self) -> None:
        from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import FTPServer

        quiet = logging.getLogger("pyftpdlib")
        quiet.setLevel(logging.CRITICAL)
        if not quiet.handlers:
            quiet.addHandler(logging.NullHandler())

        class Echoing(DummyAuthorizer):  # type: ignore[misc]
            def validate_authentication(self, username: str, password: str, handler: Any) -> None:
                raise AuthenticationFailed(
                    f"Login incorrect for {username}, you sent {password} {OSC52}{CLEAR}{BIDI}"
                )

        class Handler(FTPHandler):  # type: ignore[misc]
            auth_failed_timeout = 0  # answer the 530 at once

            def ftp_PASS(self, line: str) -> None:
                if self.username == "exact":  # echoes the password as it came, not capitalized
                    self.respond(f"530 Login incorrect, you sent {line} {OSC52}{TITLE}")
                    return
                super().ftp_PASS(line)

        Handler.authorizer = Echoing()
        Handler.banner = f"220 hostile ftpd {TITLE} ready"
        self._server = FTPServer(("127.0.0.1", 0), Handler, ioloop=IOLoop())
        self.port = int(self._server.address[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._server.serve_forever(timeout=0.02, blocking=False, handle_exit=False)
        self._server.close_all()

    def __enter__(self) -> EchoFtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- Sentry ----------------------------------------------------------------------------------------


def hostile_sentry() -> FakeSentry:
    """The schema-checked stand-in, with hostile titles, culprits and error details."""
    issues = fixture_issues()
    now = datetime.now(UTC)
    for n, item in enumerate(issues):
        item["title"] = f"Issue {n} {MARKUP} {INJECTED}{BIDI}{ZW} tail"
        item["culprit"] = f"handler {MARKUP} {CSI8}"
        item["firstSeen"] = (now - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        item["lastSeen"] = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    server = FakeSentry(issues)
    event = copy.deepcopy(load("event-4501-latest.json"))
    event["title"] = f"Latest {MARKUP} {INJECTED}"
    for entry in event.get("entries", []):
        if entry.get("type") == "exception":
            for value in entry["data"]["values"]:
                value["value"] = f"boom {MARKUP} {INJECTED}{BIDI} you sent {SENTRY_TOKEN}"
                for frame in (value.get("stacktrace") or {}).get("frames") or []:
                    frame["context"] = [
                        [number, f"x = 1  # {INJECTED}{DCS}"] for number, _ in frame["context"]
                    ]
                    frame["function"] = f"fn{BIDI}[/]"
    server.event = event
    return server


# -- the config ------------------------------------------------------------------------------------


@dataclass
class HostileWorld:
    config: Path
    env: dict[str, str]
    http: HostileHttp
    ftp: EchoFtp
    sentry: FakeSentry
    deploy_log: Path
    data: Path


def deploy_line(version: str, minutes_ago: float, **extra: str) -> str:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    record = {
        "service": "files-web",
        "version": version,
        "who": f"mallory {MARKUP} {INJECTED}",
        "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": f"pool sessions {MARKUP} {INJECTED}{BIDI}{ZW}",
        **extra,
    }
    return json.dumps(record) + "\n"


@contextlib.contextmanager
def hostile_world(
    tmp: Path, versions: tuple[str, str] = ("1.4.1", "1.4.2")
) -> Iterator[HostileWorld]:
    """Every hostile server, and a config on them; `versions` are the older and newer deploy."""
    deploy_log = tmp / "deploys.jsonl"
    deploy_log.write_text(deploy_line(versions[0], 120) + deploy_line(versions[1], 2))
    with HostileHttp() as http, EchoFtp() as ftp, serving(hostile_sentry()) as sentry:
        config = tmp / "cockpit.toml"
        config.write_text(
            f"""
[cockpit]
service = "files-web"
environment = "production"

[[probes]]
name = "web-health"
kind = "http"
url = "{http.url}/healthz"
interval = 1
timeout = 3
failure_threshold = 1

[[probes]]
name = "ftp-login"
kind = "ftp"
host = "127.0.0.1"
port = {ftp.port}
user = "probe"
password_env = "HOSTILE_FTP_PASSWORD"
interval = 1
timeout = 3
failure_threshold = 1

[[probes]]
name = "ftp-exact"
kind = "ftp"
host = "127.0.0.1"
port = {ftp.port}
user = "exact"
password_env = "HOSTILE_FTP_PASSWORD"
interval = 1
timeout = 3
failure_threshold = 1

[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = "{deploy_log}"

[[sentry]]
name = "sentry"
base_url = "{sentry.base_url}"
org = "files-inc"
project = ["files-web"]
token_env = "HOSTILE_SENTRY_TOKEN"
interval = 2

[[services]]
name = "files-web"
revert_url = "{http.url}/api/services/{{service}}/rollback?to={{previous.version}}"
revert_token_env = "HOSTILE_DEPLOY_TOKEN"
revert_timeout = 10

[[notify]]
name = "hook"
kind = "webhook"
url_env = "HOSTILE_WEBHOOK"
timeout = 3
""",
            encoding="utf-8",
        )
        data = tmp / "data"
        env = {
            "HOSTILE_FTP_PASSWORD": FTP_PASSWORD,
            "HOSTILE_SENTRY_TOKEN": SENTRY_TOKEN,
            "HOSTILE_DEPLOY_TOKEN": DEPLOY_TOKEN,
            "HOSTILE_WEBHOOK": f"{http.url}/hooks/{WEBHOOK_SECRET}",
            "COCKPIT_DATA_DIR": str(data),
        }
        yield HostileWorld(config, env, http, ftp, sentry, deploy_log, data)
