"""[[probes]]: one dataclass per kind; `PROBE_KINDS` maps the `kind` key to it.

Every kind holds `concurrency` sessions open at the same moment (see
cockpit.sources.probes.sessions) and may add `conditions` (see cockpit.config.conditions) over
the placeholders it can supply."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from cockpit.config.base import FieldError, Secret
from cockpit.config.conditions import (
    BODY,
    CERTIFICATE_EXPIRATION,
    CONNECTED,
    RESPONSE_TIME,
    STATUS,
    ConditionError,
    parse_condition,
)
from cockpit.config.prometheus import PrometheusProbesConfig

MAX_CONCURRENCY = 64
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_ALWAYS = frozenset({CONNECTED, RESPONSE_TIME})


@dataclass(frozen=True)
class ProbeBase:
    name: str
    interval: float = 10.0
    timeout: float = 5.0
    concurrency: int = 1
    failure_threshold: int = 2
    success_threshold: int = 1
    conditions: tuple[str, ...] = ()

    def placeholders(self) -> frozenset[str]:
        """What this probe's sessions observe, i.e. what its conditions may name."""
        return _ALWAYS

    def uses(self, placeholder: str) -> bool:
        """Whether a condition names the placeholder (e.g. [STATUS] replaces expect_status)."""
        return any(placeholder in parse_condition(c).placeholders for c in self.conditions)

    def check(self) -> None:
        if self.concurrency > MAX_CONCURRENCY:
            raise FieldError("concurrency", f"at most {MAX_CONCURRENCY} sessions")
        supplied = self.placeholders()
        kind = getattr(type(self), "kind", "this")
        for i, text in enumerate(self.conditions):
            try:
                condition = parse_condition(text)
            except ConditionError as exc:
                raise FieldError(("conditions", i), str(exc)) from None
            missing = sorted(condition.placeholders - supplied)
            if missing:
                offered = ", ".join(f"[{p}]" for p in sorted(supplied))
                raise FieldError(
                    ("conditions", i),
                    f"a {kind} probe cannot supply [{missing[0]}] here; it supplies {offered}",
                )


def _check_host_port(host: str, port: int) -> None:
    if not host:
        raise FieldError("host", "missing required key")
    if not 1 <= port <= 65535:
        raise FieldError("port", "expected a port between 1 and 65535")


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise FieldError(name, "must be at least 1")


@dataclass(frozen=True)
class HttpProbeConfig(ProbeBase):
    """A request per session. A condition naming [STATUS] replaces the expect_status check."""

    kind: ClassVar[str] = "http"
    source: ClassVar[str] = "cockpit.sources.probes.http:HttpProbe"
    url: str = ""
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    body_contains: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    max_body_bytes: int = 1_048_576
    # Credentials, never in the URL or the headers: Basic (user and password) or Bearer.
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None

    def placeholders(self) -> frozenset[str]:
        tls = {CERTIFICATE_EXPIRATION} if self.url.startswith("https://") else set()
        return _ALWAYS | {STATUS, BODY} | tls

    def check(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise FieldError("url", "expected an http:// or https:// URL")
        _check_positive("max_body_bytes", self.max_body_bytes)
        for name in self.headers:
            if name.lower() in CREDENTIAL_HEADERS:
                raise FieldError(
                    ("headers", name),
                    "credentials go in user + password_env / password_file, or token_env / "
                    "token_file, not the config",
                )
        if self.password is not None and not self.user:
            raise FieldError("user", "a password needs a user")
        if self.token is not None and self.user:
            raise FieldError("token_env", "give a user and password, or a token, not both")
        super().check()


@dataclass(frozen=True)
class TcpProbeConfig(ProbeBase):
    """Connect; optionally send `send`, then read until `expect` shows up (bounded).

    [BODY] is what was read: up to `expect`, or else the first read after connecting.
    """

    kind: ClassVar[str] = "tcp"
    source: ClassVar[str] = "cockpit.sources.probes.tcp:TcpProbe"
    host: str = ""
    port: int = 0
    send: str | None = None
    expect: str | None = None
    max_bytes: int = 65_536

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {BODY}

    def check(self) -> None:
        _check_host_port(self.host, self.port)
        _check_positive("max_bytes", self.max_bytes)
        if self.expect == "":
            raise FieldError("expect", "expected a non-empty banner substring")
        super().check()


@dataclass(frozen=True)
class TlsProbeConfig(ProbeBase):
    """TLS handshake and the certificate's remaining validity. An expired certificate fails the
    probe even with verify_tls = false (a self-signed certificate still expires)."""

    kind: ClassVar[str] = "tls"
    source: ClassVar[str] = "cockpit.sources.probes.tls:TlsProbe"
    host: str = ""
    port: int = 443
    server_name: str | None = None  # SNI and the name checked; the host when unset
    verify_tls: bool = True
    ca_file: Path | None = None

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {CERTIFICATE_EXPIRATION}

    def check(self) -> None:
        _check_host_port(self.host, self.port)
        super().check()


@dataclass(frozen=True)
class FtpProbeConfig(ProbeBase):
    """Log in, then LIST `list_path` and/or RETR `retrieve_path` (bounded), else NOOP.

    [STATUS] is the last reply code (226 after a transfer, 200 after NOOP); [BODY] is the file
    retrieved, else the listing.
    """

    kind: ClassVar[str] = "ftp"
    source: ClassVar[str] = "cockpit.sources.probes.ftp:FtpProbe"
    host: str = ""
    port: int = 21
    user: str = "anonymous"
    password: Secret | None = None
    list_path: str | None = None
    retrieve_path: str | None = None
    passive: bool = True
    max_bytes: int = 1_048_576

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {STATUS, BODY}

    def check(self) -> None:
        _check_host_port(self.host, self.port)
        _check_positive("max_bytes", self.max_bytes)
        if not self.user:
            raise FieldError("user", "expected a user name")
        super().check()


@dataclass(frozen=True)
class FtpsProbeConfig(FtpProbeConfig):
    """Explicit FTPS (AUTH TLS on the control connection, PROT P for data)."""

    kind: ClassVar[str] = "ftps"
    source: ClassVar[str] = "cockpit.sources.probes.ftp:FtpsProbe"
    verify_tls: bool = True
    ca_file: Path | None = None

    def placeholders(self) -> frozenset[str]:
        return super().placeholders() | {CERTIFICATE_EXPIRATION}


@dataclass(frozen=True)
class SftpProbeConfig(ProbeBase):
    """SSH login and an SFTP channel per session, then stat / list / read (bounded).

    Host keys are checked against `known_hosts` (~/.ssh/known_hosts when unset); only
    `insecure_skip_host_key_check = true` turns that off. [BODY] is the file read, else the
    names listed, one per line.
    """

    kind: ClassVar[str] = "sftp"
    source: ClassVar[str] = "cockpit.sources.probes.sftp:SftpProbe"
    host: str = ""
    port: int = 22
    user: str = ""
    password: Secret | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None
    insecure_skip_host_key_check: bool = False
    stat_path: str | None = None
    list_path: str | None = None
    read_path: str | None = None
    max_bytes: int = 1_048_576

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {BODY}

    def check(self) -> None:
        _check_host_port(self.host, self.port)
        _check_positive("max_bytes", self.max_bytes)
        if not self.user:
            raise FieldError("user", "missing required key")
        super().check()


@dataclass(frozen=True)
class WebdavProbeConfig(ProbeBase):
    """PROPFIND `url` (expects 207 unless a condition names [STATUS]), then GET `get_path`
    (bounded) on the same connection. [BODY] is the file when get_path is set, else the
    PROPFIND reply."""

    kind: ClassVar[str] = "webdav"
    source: ClassVar[str] = "cockpit.sources.probes.webdav:WebdavProbe"
    url: str = ""
    user: str | None = None
    password: Secret | None = None
    depth: int = 1
    get_path: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    max_body_bytes: int = 1_048_576

    def placeholders(self) -> frozenset[str]:
        tls = {CERTIFICATE_EXPIRATION} if self.url.startswith("https://") else set()
        return _ALWAYS | {STATUS, BODY} | tls

    def check(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise FieldError("url", "expected an http:// or https:// URL")
        if self.depth not in (0, 1):
            raise FieldError("depth", "expected 0 or 1")
        if self.get_path is not None and ("://" in self.get_path or not self.get_path):
            raise FieldError("get_path", "expected a path on the same server")
        if self.password is not None and not self.user:
            raise FieldError("user", "a password needs a user")
        _check_positive("max_body_bytes", self.max_body_bytes)
        super().check()


ProbeConfig = (
    HttpProbeConfig
    | TcpProbeConfig
    | TlsProbeConfig
    | FtpProbeConfig
    | FtpsProbeConfig
    | SftpProbeConfig
    | WebdavProbeConfig
    | PrometheusProbesConfig
)

PROBE_KINDS: dict[str, type] = {
    "http": HttpProbeConfig,
    "tcp": TcpProbeConfig,
    "tls": TlsProbeConfig,
    "ftp": FtpProbeConfig,
    "ftps": FtpsProbeConfig,
    "sftp": SftpProbeConfig,
    "webdav": WebdavProbeConfig,
    "prometheus": PrometheusProbesConfig,
}
