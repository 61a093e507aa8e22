"""Make untrusted text (issue titles, log lines, command output) inert before display or export."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# CSI, OSC (terminated by BEL or ST), other two-byte escapes, then any remaining C0/C1 controls
# except tab and newline. Order matters: whole sequences first, so no fragment survives.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_controls(text: str) -> str:
    """Remove terminal control sequences and control characters; keep tabs and newlines."""
    return _ESCAPES.sub("", text)


def one_line(text: str, limit: int = 500) -> str:
    """Inert single-line text: controls stripped, whitespace runs folded, length bounded."""
    flat = " ".join(strip_controls(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def redact_url(url: str) -> str:
    """The URL without user:password, so it can be shown and logged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
