"""The running world's control door: how `deployctl failover` reaches it from another process.

The world listens on 127.0.0.1 (a free port) for `POST /faults/<name>` with a bearer token, and
applies the fault before it answers, so the caller knows it took effect. Where and how to
knock is in `<world dir>/control.json` (mode 0600: only the world's owner may pull levers).

This module imports only the standard library, so deployctl stays quick to start.
"""

from __future__ import annotations

import hmac
import http.client
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

CONTROL_FILE = "control.json"
_TIMEOUT = 10.0


class ControlError(Exception):
    """The world could not be told; the message is meant for the operator."""


class UnknownFault(ValueError):
    pass


class FaultNotApplicable(ValueError):
    """The fault is known but cannot happen now; the message says why (answered 409)."""


def send_fault(
    directory: Path, fault: str, *, timeout: float = _TIMEOUT, strict: bool = False
) -> None:
    """Ask the world running in `directory` to apply `fault`; returns once it has. `strict`:
    a fault that would change nothing now is refused, with the world's reason, instead of
    being taken as done (someone injecting it by hand wants to know)."""
    path = directory / CONTROL_FILE
    try:
        door = json.loads(path.read_text(encoding="utf-8"))
        url, token = str(door["url"]), str(door["token"])
    except FileNotFoundError:
        raise ControlError(f"no drill world runs in {directory} (no {CONTROL_FILE})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ControlError(f"cannot read {path}: {exc}") from None
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise ControlError(f"{path} does not point at a local world")
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=timeout)
    try:
        path_asked = f"/faults/{fault}" + ("?strict=1" if strict else "")
        connection.request("POST", path_asked, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ControlError(f"the world in {directory} does not answer ({exc})") from None
    finally:
        connection.close()
    if response.status != 200:
        try:
            detail = str(json.loads(body)["error"])
        except (ValueError, KeyError, TypeError):
            detail = f"HTTP {response.status}"
        raise ControlError(f"the world refused {fault!r}: {detail}")


class ControlServer:
    """Calls `apply(fault)` for each authorised request; UnknownFault answers 404."""

    def __init__(self, apply: Callable[[str, bool], None]):
        from cockpit.world.servers.loopback import LoopbackServer, QuietHandler

        token = secrets.token_urlsafe(24)

        class Handler(QuietHandler):
            server_version = "world-control/1.0"

            def do_POST(self) -> None:
                given = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if not hmac.compare_digest(given.encode(), token.encode()):
                    self.send_json(401, {"error": "bad or missing token"}, close=True)
                    return
                path, _, query = self.path.partition("?")
                fault = path.removeprefix("/faults/")
                if not path.startswith("/faults/") or not fault:
                    self.send_json(404, {"error": "not found"}, close=True)
                    return
                try:
                    apply(fault, query == "strict=1")
                except UnknownFault as exc:
                    self.send_json(404, {"error": str(exc)}, close=True)
                    return
                except FaultNotApplicable as exc:
                    self.send_json(409, {"error": str(exc)}, close=True)
                    return
                self.send_json(200, {"applied": fault}, close=True)

        self.token = token
        self._server = LoopbackServer(Handler, "control")

    @property
    def url(self) -> str:
        return self._server.base_url

    def start(self, directory: Path) -> None:
        from cockpit.host.files import write_file

        self._server.start()
        door = json.dumps({"url": self.url, "token": self.token})
        write_file(directory / CONTROL_FILE, door + "\n", mode=0o600, parents=True)

    def stop(self) -> None:
        self._server.stop()
