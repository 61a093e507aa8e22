"""[[errors]]: 5xx sources; `ERROR_KINDS` maps `kind` to the dataclass.

Access logs have one kind per format (the kind says how to read a line; each kind takes only the
options that make sense for it); they share the tail and its options. `kind` may be left out for
nginx `combined`, the first and most common one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cockpit.config.base import FieldError
from cockpit.config.prometheus import PrometheusErrorsConfig
from cockpit.config.schema import Count, Name, NonNegative, Rule, Seconds

# A key of the JSON object each line is: written as is, so no quotes or backslashes.
JsonKey = Annotated[
    str, Rule(pattern=r'[^"\\]+', expected="a JSON key without quotes or backslashes")
]


def _check_zone(key: str, name: str) -> None:
    if name == "local" or name.upper() in ("UTC", "Z"):
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = '(e.g. "UTC", "Europe/Paris", "local")'
        raise FieldError(key, f"unknown time zone {name!r} {hint}") from None


@dataclass(frozen=True)
class AccessLogBase:
    """An access log followed like `tail -F`: rename and copytruncate rotation survive."""

    kind: ClassVar[str]
    source: ClassVar[str] = "cockpit.sources.logs.access_log:AccessLogTail"
    name: Name
    path: Path
    interval: Seconds = 2.0
    timeout: Seconds = 5.0
    bucket_seconds: Count = 10
    window: Count = 1800  # seconds kept and shown
    read_back: NonNegative = 0  # seconds of existing log to read at start; 0 = start at the end


@dataclass(frozen=True)
class AccessLogConfig(AccessLogBase):
    """nginx `combined` (and Apache's, and the common log). A time written without an offset
    (a custom `%{...}t` in Apache, say) is read in `timezone`."""

    kind: ClassVar[str] = "nginx_combined"
    timezone: str = "UTC"

    def check(self) -> None:
        _check_zone("timezone", self.timezone)


@dataclass(frozen=True)
class NginxJsonLogConfig(AccessLogBase):
    """nginx `log_format ... escape=json '{...}'`: one JSON object per line, keys in any order.
    The time may be $time_iso8601, $msec or $time_local; the status quoted or not."""

    kind: ClassVar[str] = "nginx_json"
    time_key: JsonKey = "time_iso8601"
    status_key: JsonKey = "status"


@dataclass(frozen=True)
class HaproxyLogConfig(AccessLogBase):
    """HAProxy `option httplog`, as syslog writes it or raw. HAProxy writes its accept date
    without an offset, in the host's zone: name that zone here."""

    kind: ClassVar[str] = "haproxy"
    timezone: str = "UTC"

    def check(self) -> None:
        _check_zone("timezone", self.timezone)


@dataclass(frozen=True)
class CaddyLogConfig(AccessLogBase):
    """Caddy's JSON access log (logger http.log.access): `ts` and `status`."""

    kind: ClassVar[str] = "caddy"


@dataclass(frozen=True)
class EnvoyLogConfig(AccessLogBase):
    """Envoy's default access log format ([START_TIME] "REQUEST" RESPONSE_CODE ...)."""

    kind: ClassVar[str] = "envoy"


@dataclass(frozen=True, kw_only=True)
class RegexLogConfig(AccessLogBase):
    """Any other format: a regular expression matched against each line (Python syntax) with a
    named group `status` (three digits) and, optionally, `time`. Without `time_format` the time
    may be epoch seconds (or ms), common-log time or ISO 8601; without a `time` group lines are
    counted at the moment they are read."""

    kind: ClassVar[str] = "regex"
    pattern: str
    time_format: str = ""  # strptime directives, e.g. "%Y-%m-%d %H:%M:%S"
    timezone: str = "UTC"  # for times written without an offset

    def check(self) -> None:
        try:
            compiled = re.compile(self.pattern.encode("utf-8"))
        except re.error as exc:
            raise FieldError("pattern", f"not a valid regular expression: {exc}") from None
        if "status" not in compiled.groupindex:
            raise FieldError("pattern", "needs a named group (?P<status>...) for the HTTP status")
        timed = "time" in compiled.groupindex
        if self.time_format and not timed:
            raise FieldError("time_format", "the pattern has no (?P<time>...) group")
        if self.read_back and not timed:
            raise FieldError("read_back", "needs a (?P<time>...) group in the pattern")
        _check_zone("timezone", self.timezone)


AccessLogKind = (
    AccessLogConfig
    | NginxJsonLogConfig
    | HaproxyLogConfig
    | CaddyLogConfig
    | EnvoyLogConfig
    | RegexLogConfig
)
ErrorSourceConfig = AccessLogKind | PrometheusErrorsConfig

ERROR_KINDS: dict[str, type] = {
    "nginx_combined": AccessLogConfig,
    "nginx_json": NginxJsonLogConfig,
    "haproxy": HaproxyLogConfig,
    "caddy": CaddyLogConfig,
    "envoy": EnvoyLogConfig,
    "regex": RegexLogConfig,
    "prometheus": PrometheusErrorsConfig,
}
DEFAULT_ERROR_KIND = "nginx_combined"
