"""Where the PostgreSQL store is and how to reach it: the URL from the config (never with a
password in it), the password from the environment or a file the config names, TLS options."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from cockpit.incident.store.errors import StoreError

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT = 3  # seconds: an unreachable database says so quickly, it never hangs a call
# Dead peers are noticed by the kernel within about this many seconds (a held lock is then
# released by the server, a listener reconnects).
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}
# Query parameters that would carry a secret: refused like a password in the URL.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def is_pg_url(value: str) -> bool:
    return urlsplit(value).scheme in SCHEMES


def url_problem(value: str) -> str:
    """Why `value` is not a store URL this cockpit takes, or ""."""
    parts = urlsplit(value)
    if parts.scheme not in SCHEMES:
        return 'a PostgreSQL URL ("postgresql://host:5432/dbname"), or unset for SQLite'
    if parts.password is not None or any(
        k.lower() in _SECRET_PARAMS for k, _ in parse_qsl(parts.query)
    ):
        return (
            "credentials are not written in the config, not even in a URL; give the password "
            "in store_password_env or store_password_file"
        )
    if not parts.hostname and "host=" not in parts.query:
        return "the URL names no host"
    return ""


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL database to keep the store in. `password` is the revealed secret."""

    url: str
    password: str | None = None
    sslmode: str | None = None
    sslrootcert: str | None = None

    @property
    def display(self) -> str:
        """host:port/dbname: what the screen and doctor say (no user, no secret)."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql {parts.hostname or 'localhost'}{port}{parts.path or '/'}"

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, **KEEPALIVE}
        if self.password is not None:
            extra["password"] = self.password
        if self.sslmode:
            extra["sslmode"] = self.sslmode
        if self.sslrootcert:
            extra["sslrootcert"] = self.sslrootcert
        extra["application_name"] = "oncall-cockpit"
        return extra

    def connect(self) -> psycopg.Connection[Any]:
        """An autocommit connection (transactions are explicit), or StoreError saying why."""
        try:
            import psycopg
        except ImportError:
            reason = "psycopg is not installed (pip install 'oncall-cockpit[postgresql]')"
            raise StoreError(f"incident store {self.display}: {reason}", reason) from None
        try:
            return psycopg.connect(self.url, autocommit=True, **self.kwargs())
        except psycopg.Error as exc:
            raise offline(self, exc) from None


def pg_reason(exc: BaseException) -> str:
    """The gist of a PostgreSQL failure, in a few words (first line of the server's words)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "connection refused" in lowered or "could not connect" in lowered:
        return "unreachable (connection refused)"
    if "timeout" in lowered or "timed out" in lowered:
        return "unreachable (timed out)"
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return "password refused"
    if "terminating connection" in lowered or "server closed the connection" in lowered:
        return "connection lost (server restarting?)"
    if "consuming input failed" in lowered or "connection is closed" in lowered:
        return "connection lost"
    return text


def offline(target: PgTarget, exc: BaseException) -> StoreError:
    """A failure to reach the database: the store is offline, writes wait on local disk."""
    import psycopg

    reason = pg_reason(exc)
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        reason = f"offline: {reason}"
    return StoreError(f"incident store {target.display}: {reason}", reason)


def close_quietly(conn: psycopg.Connection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
