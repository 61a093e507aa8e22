"""Who is acting, and from where: recorded as commander, lock holder and in the audit log."""

from __future__ import annotations

import getpass
import os
import socket


def current_user() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, as in some containers
        return f"uid{os.getuid()}"


def host_name() -> str:
    return socket.gethostname()
