"""Stand-ins for Slack, PagerDuty and a webhook on 127.0.0.1: every POST is recorded and
checked by the tests against the documented payload shapes."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_TOKEN = "xoxb-SLACKTOKEN-4242"
PD_KEY = "R0UTINGKEY0123456789abcdef012345"
HOOK_TOKEN = "hook-secret-7777"

# PagerDuty Events API v2, as documented: trigger needs payload.summary/source/severity.
PAGERDUTY_V2 = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"required": ["dedup_key"]},
}

# Slack incoming webhook: text (fallback) and Block Kit blocks.
SLACK_MESSAGE = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": ["header", "section", "context", "divider"]}},
            },
        },
    },
}


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]


class Recorder(ThreadingHTTPServer):
    """Records every POST; answers from a per-path queue of statuses, else 2xx. Requests to
    /hang wait until `release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cond = threading.Condition()
        self.received: list[Received] = []
        self.statuses: dict[str, list[int]] = {}
        self.release = threading.Event()
        self.hanging = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def fail_next(self, prefix: str, *statuses: int) -> None:
        with self.cond:
            self.statuses[prefix] = list(statuses)

    def bodies(self, prefix: str) -> list[dict[str, Any]]:
        with self.cond:
            return [r.body for r in self.received if r.path.startswith(prefix)]

    def wait_hanging(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.hanging >= count, timeout=10)


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        server = self.server
        with server.cond:
            server.received.append(Received(self.path, body))
            queue = next((q for p, q in server.statuses.items() if self.path.startswith(p)), [])
            status = queue.pop(0) if queue else (202 if self.path.startswith("/pd") else 200)
            if self.path.startswith("/hang"):
                server.hanging += 1
            server.cond.notify_all()
        if self.path.startswith("/hang"):
            server.release.wait(timeout=30)
        # A careless server echoes the request line, secret path and all.
        reply = (
            json.dumps({"status": "success", "dedup_key": body.get("dedup_key")})
            if status < 300
            else f"error for POST {self.path}\x1b[31m!"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/refused"


def notify_config(
    rec: Recorder,
    *,
    drill: bool = False,
    policy: str = "mark",
    hook_url: str | None = None,
    timeout: float = 5.0,
) -> str:
    return f"""
[cockpit]
service = "files-web"
environment = "production"
drill = {str(drill).lower()}
drill_notifications = "{policy}"

[[notify]]
kind = "slack"
name = "oncall-slack"
url_env = "SLACK_URL"
timeout = {timeout}

[[notify]]
kind = "pagerduty"
name = "pd-primary"
routing_key_env = "PD_KEY"
url = "{rec.url("/pd/v2/enqueue")}"
timeout = {timeout}

[[notify]]
kind = "webhook"
name = "status-hook"
url_env = "HOOK_URL"
timeout = {timeout}
"""


def env_for(rec: Recorder, hook_url: str | None = None) -> dict[str, str]:
    return {
        "SLACK_URL": rec.url(f"/slack/services/T0/B0/{SLACK_TOKEN}"),
        "PD_KEY": PD_KEY,
        "HOOK_URL": hook_url or rec.url(f"/hook?token={HOOK_TOKEN}"),
    }
