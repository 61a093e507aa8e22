"""HTTP replies as messages, shared by the sources that speak HTTP and the HTTP revert executor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from cockpit.term.textsafe import one_line


def host_of(url: str) -> str:
    """host[:port] of a URL: what messages name, never the path or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def transport_reason(exc: httpx.HTTPError, host: str) -> str:
    """A request that got no HTTP answer, in plain words ("connection refused by ...")."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {host} in time"
    cause: BaseException | None = exc
    for _ in range(8):
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
        cause = cause.__cause__ or cause.__context__
    text = one_line(str(exc), 100).lower()
    if "refused" in text or "all connection attempts failed" in text:
        return f"connection refused by {host}"
    if "certificate" in text:
        return f"TLS certificate of {host} rejected"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{host} closed the connection without an answer"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {host}"
    return f"request to {host} failed: {type(exc).__name__}"


def json_message(body: Any) -> str:
    """The "message" an API error body carries (GitHub, most JSON APIs), inert; else ""."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return one_line(body["message"], 200)
    return ""
