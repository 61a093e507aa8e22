"""[[probes]]: one dataclass per kind; `PROBE_KINDS` maps the `kind` key to it.

Every kind holds `concurrency` sessions open at the same moment (see
cockpit.sources.probes.sessions) and may add `conditions` (see cockpit.config.conditions) over
the placeholders it can supply."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

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
from cockpit.config.schema import Count, HeaderName, Name, Port, Rule, Seconds, Text, Url, between

MAX_CONCURRENCY = 64
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_ALWAYS = frozenset({CONNECTED, RESPONSE_TIME})


# Keyword-only, so that a kind's required keys (host, url) need no default after the base's.
@dataclass(frozen=True, kw_only=True)
class ProbeBase:
    name: Name
    interval: Seconds = 10.0
    timeout: Seconds = 5.0
    concurrency: Annotated[int, between(1, MAX_CONCURRENCY)] = 1  # sessions open at once
    failure_threshold: Count = 2
    success_threshold: Count = 1
    conditions: tuple[str, ...] = ()

    def placeholders(self) -> frozenset[str]:
        """What this probe's sessions observe, i.e. what its conditions may name."""
        return _ALWAYS

    def uses(self, placeholder: str) -> bool:
        """Whether a condition names the placeholder (e.g. [STATUS] replaces expect_status)."""
        return any(placeholder in parse_condition(c).placeholders for c in self.conditions)

    def check(self) -> None:
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


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]


@dataclass(frozen=True, kw_only=True)
class HttpProbeConfig(ProbeBase):
    """A request per session. A condition naming [STATUS] replaces the expect_status check."""

    kind: ClassVar[str] = "http"
    source: ClassVar[str] = "cockpit.sources.probes.http:HttpProbe"
    url: Url
    method: HttpMethod = "GET"
    headers: dict[HeaderName, str] = field(default_factory=dict)
    expect_status: Annotated[int, between(100, 599)] = 200
    body_contains: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    max_body_bytes: Count = 1_048_576
    # Credentials, never in the URL or the headers: Basic (user and password) or Bearer.
    user: Text | None = None
    password: Secret | None = None
    token: Secret | None = None

    def placeholders(self) -> frozenset[str]:
        tls = {CERTIFICATE_EXPIRATION} if self.url.startswith("https://") else set()
        return _ALWAYS | {STATUS, BODY} | tls

    def check(self) -> None:
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


@dataclass(frozen=True, kw_only=True)
class TcpProbeConfig(ProbeBase):
    """Connect; optionally send `send`, then read until `expect` shows up (bounded).

    [BODY] is what was read: up to `expect`, or else the first read after connecting.
    """

    kind: ClassVar[str] = "tcp"
    source: ClassVar[str] = "cockpit.sources.probes.tcp:TcpProbe"
    host: Text
    port: Port
    send: str | None = None
    expect: Annotated[str, Rule(ge=1, expected="a non-empty banner substring")] | None = None
    max_bytes: Count = 65_536

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {BODY}


@dataclass(frozen=True, kw_only=True)
class TlsProbeConfig(ProbeBase):
    """TLS handshake and the certificate's remaining validity. An expired certificate fails the
    probe even with verify_tls = false (a self-signed certificate still expires)."""

    kind: ClassVar[str] = "tls"
    source: ClassVar[str] = "cockpit.sources.probes.tls:TlsProbe"
    host: Text
    port: Port = 443
    server_name: Text | None = None  # SNI and the name checked; the host when unset
    verify_tls: bool = True
    ca_file: Path | None = None

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {CERTIFICATE_EXPIRATION}


@dataclass(frozen=True, kw_only=True)
class FtpProbeConfig(ProbeBase):
    """Log in, then LIST `list_path` and/or RETR `retrieve_path` (bounded), else NOOP.

    [STATUS] is the last reply code (226 after a transfer, 200 after NOOP); [BODY] is the file
    retrieved, else the listing.
    """

    kind: ClassVar[str] = "ftp"
    source: ClassVar[str] = "cockpit.sources.probes.ftp:FtpProbe"
    host: Text
    port: Port = 21
    user: Text = "anonymous"
    password: Secret | None = None
    list_path: Text | None = None
    retrieve_path: Text | None = None
    passive: bool = True
    max_bytes: Count = 1_048_576

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {STATUS, BODY}


@dataclass(frozen=True, kw_only=True)
class FtpsProbeConfig(FtpProbeConfig):
    """Explicit FTPS (AUTH TLS on the control connection, PROT P for data)."""

    kind: ClassVar[str] = "ftps"
    source: ClassVar[str] = "cockpit.sources.probes.ftp:FtpsProbe"
    verify_tls: bool = True
    ca_file: Path | None = None

    def placeholders(self) -> frozenset[str]:
        return super().placeholders() | {CERTIFICATE_EXPIRATION}


@dataclass(frozen=True, kw_only=True)
class SftpProbeConfig(ProbeBase):
    """SSH login and an SFTP channel per session, then stat / list / read (bounded).

    Host keys are checked against `known_hosts` (~/.ssh/known_hosts when unset); only
    `insecure_skip_host_key_check = true` turns that off. [BODY] is the file read, else the
    names listed, one per line.
    """

    kind: ClassVar[str] = "sftp"
    source: ClassVar[str] = "cockpit.sources.probes.sftp:SftpProbe"
    host: Text
    port: Port = 22
    user: Text
    password: Secret | None = None
    key_file: Path | None = None
    known_hosts: Path | None = None
    insecure_skip_host_key_check: bool = False
    stat_path: Text | None = None
    list_path: Text | None = None
    read_path: Text | None = None
    max_bytes: Count = 1_048_576

    def placeholders(self) -> frozenset[str]:
        return _ALWAYS | {BODY}


@dataclass(frozen=True, kw_only=True)
class WebdavProbeConfig(ProbeBase):
    """PROPFIND `url` (expects 207 unless a condition names [STATUS]), then GET `get_path`
    (bounded) on the same connection. [BODY] is the file when get_path is set, else the
    PROPFIND reply."""

    kind: ClassVar[str] = "webdav"
    source: ClassVar[str] = "cockpit.sources.probes.webdav:WebdavProbe"
    url: Url
    user: Text | None = None
    password: Secret | None = None
    depth: Literal[0, 1] = 1
    get_path: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    max_body_bytes: Count = 1_048_576

    def placeholders(self) -> frozenset[str]:
        tls = {CERTIFICATE_EXPIRATION} if self.url.startswith("https://") else set()
        return _ALWAYS | {STATUS, BODY} | tls

    def check(self) -> None:
        if self.get_path is not None and ("://" in self.get_path or not self.get_path):
            raise FieldError("get_path", "expected a path on the same server")
        if self.password is not None and not self.user:
            raise FieldError("user", "a password needs a user")
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
