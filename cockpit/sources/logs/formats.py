"""Access-log formats: how to find the time and the status class in each line.

Every format answers the same question the same way, so one tail serves them all: `scan(text)`
takes whole lines preceded by one b"\\n" and returns a (stamp, status class) pair per line it
understands; `epoch(stamp)` turns a stamp into epoch seconds (None when it is not a time).
The tail counts pairs with a Counter, so each distinct stamp is parsed once, not each line.

Built-in formats are one bytes regex run by `findall` over the whole chunk (C speed). Each
match starts at the newline before its line, so no line counts twice, even one whose user agent
or path is crafted to look like a second entry. The stamp captured leaves out sub-second digits
wherever it can: lines of the same second then share a stamp and the stamp cache stays small.
The status class is one byte: b"1".."5", or b"0"/b"-" for a request that got no response
(Envoy's 0, HAProxy's -1), which counts as a request but not as a 5xx.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cockpit.model import Route
from cockpit.sources.logs import routes


class Scan(Protocol):
    """`Pattern.findall`'s shape: lines of text[pos:endpos] -> (stamp, status class) pairs."""

    def __call__(
        self, text: bytes, pos: int = 0, endpos: int = sys.maxsize, /
    ) -> list[tuple[bytes, bytes]]: ...


Stamp = Callable[[bytes], int | None]
# One line (no newline) -> (stamp as `scan` gives it, exact status, route); None if not a 5xx.
RouteOf = Callable[[bytes], "tuple[bytes, int, Route] | None"]
RouteAt = Callable[[bytes, int, int], "tuple[bytes, int, Route] | None"]

_MONTHS = {
    name.encode(): number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_CLF = re.compile(rb"(\d\d)/([A-Z][a-z][a-z])/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-])(\d\d)(\d\d))?")
_EPOCH = re.compile(rb"\d{9,19}")
_LARGEST_SECONDS = 10**11  # more digits than this are milli-, micro- or nanoseconds


@dataclass(frozen=True, slots=True)
class LogFormat:
    name: str
    scan: Scan
    epoch: Stamp
    # False for a custom regex without a time group: its lines are counted at the time read.
    timed: bool = True
    # Where a 5xx line may be (a fast search over the chunk; each hit is checked by
    # `route_of` on its whole line), and the line's route. None: the format tells no route.
    five: re.Pattern[bytes] | None = None
    route_of: RouteOf | None = None
    # The same, for the line after the newline at text[start] (before stop), read in place.
    route_at: RouteAt | None = None


# -- times ------------------------------------------------------------------------------------


def zone(name: str) -> tzinfo | None:
    """A zone name from the config ("UTC", "Europe/Paris"); None for "local", the host's zone
    (a naive datetime's timestamp() follows the host's rules, daylight saving included)."""
    if name == "local":
        return None
    if name.upper() in ("UTC", "Z"):
        return UTC
    return ZoneInfo(name)


def valid_zone(name: str) -> bool:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _seconds(when: datetime) -> int | None:
    try:
        return int(when.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def parse_clf(stamp: bytes, default_zone: tzinfo | None = UTC) -> int | None:
    """Common-log time ("21/Nov/2026:08:15:02 +0000", nginx $time_local) -> epoch seconds.
    Without an offset (HAProxy's accept date) the time is read in `default_zone`."""
    match = _CLF.fullmatch(stamp)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, sign, off_h, off_m = match.groups()
    month = _MONTHS.get(month_name)
    if month is None:
        return None
    where = default_zone
    if sign is not None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        where = timezone(-offset if sign == b"-" else offset)
    try:
        when = datetime(
            int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=where
        )
    except ValueError:
        return None
    return _seconds(when)


def parse_time_local(stamp: bytes) -> int | None:
    """nginx $time_local ("21/Nov/2026:08:15:02 +0000") -> epoch seconds, None if invalid.
    The offset is required: nginx always writes one."""
    return parse_clf(stamp) if len(stamp) == 26 else None


def parse_iso(stamp: bytes, default_zone: tzinfo | None = UTC) -> int | None:
    """ISO 8601 / RFC 3339 ("2026-11-21T08:15:02+00:00", "...02.123Z") -> epoch seconds."""
    try:
        when = datetime.fromisoformat(stamp.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if when.tzinfo is None and default_zone is not None:
        when = when.replace(tzinfo=default_zone)
    return _seconds(when)


def parse_any(stamp: bytes, default_zone: tzinfo | None = UTC) -> int | None:
    """Whatever a JSON log or a custom pattern gives: epoch seconds (or ms, us, ns: nginx $msec,
    Caddy's ts), common-log time, or ISO 8601."""
    if _EPOCH.fullmatch(stamp):
        value = int(stamp)
        while value >= _LARGEST_SECONDS:
            value //= 1000
        return value
    if stamp[2:3] == b"/":
        return parse_clf(stamp, default_zone)
    if stamp[4:5] == b"/":  # Caddy's `wall`, `wall_milli`, `wall_nano`: 2026/12/03 07:52:10.1
        stamp = stamp.replace(b"/", b"-", 2)
    return parse_iso(stamp, default_zone)


def strptime_parser(time_format: str, default_zone: tzinfo | None) -> Stamp:
    """A stamp parser for a custom `time_format` (strptime directives)."""

    def parse(stamp: bytes) -> int | None:
        try:
            when = datetime.strptime(stamp.decode("utf-8"), time_format)
        except (UnicodeDecodeError, ValueError):
            return None
        if when.tzinfo is None and default_zone is not None:
            when = when.replace(tzinfo=default_zone)
        return _seconds(when)

    return parse


# -- built-in formats ---------------------------------------------------------------------------

# nginx `combined` (and the common log format it extends). nginx writes '"' inside a field as
# \x22 (`escape=default`) or \" (`escape=json`), Apache's %r as \": the request ends at the
# first '"' not escaped by a backslash, so it cannot hide a quote. The time is `[` + a stamp +
# `] "`: $remote_user (any client's Basic auth) may hold `[` or spaces, never '"'.
#
# Speed: the engine runs a one-byte exclusion ([^"]) many times faster than a set ([^"\n]),
# so each part has a fast first alternative of that kind and a strict one the engine falls
# back to. The fast ones may run past a newline only into a line that completes the match:
# then the line before had no `[` (it stays counted unparsed, as lines - matches), or its
# stamp holds a newline and does not read as a time.
_TIME_FIELD = rb"(?:[^\[]*|[^\n]*?)\[([^\]]*)\] "
_REQUEST = rb'"(?:[^"]*(?<!\\)|[^"\\\n]*(?:\\.[^"\\\n]*)*)"'
_REQUEST_GROUP = rb'"((?:[^"]*(?<!\\)|[^"\\\n]*(?:\\.[^"\\\n]*)*))"'
NGINX_COMBINED = re.compile(rb"\n" + _TIME_FIELD + _REQUEST + rb" ([1-5])\d\d(?=[ \n])")
_COMBINED_ROUTE = re.compile(rb"\n" + _TIME_FIELD + _REQUEST_GROUP + rb" (5\d\d)(?=[ \n]|$)")
# A 5xx status right after a quoted field: where a combined or Envoy 5xx line may be.
_FIVE_AFTER_QUOTE = re.compile(rb'" 5\d\d(?=[ \n])')


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _combined_route_at(text: bytes, start: int, stop: int) -> tuple[bytes, int, Route] | None:
    """The line starting after the newline at text[start], read where it is (no copy)."""
    match = _COMBINED_ROUTE.match(text, start, stop)
    if match is None:
        return None
    stamp, request, status = match.groups()
    where = _REQUEST_ROUTES.get(request)
    if where is None:
        if len(_REQUEST_ROUTES) >= 8192:
            _REQUEST_ROUTES.clear()
        where = _REQUEST_ROUTES[request] = routes.from_request(_text(request))
    return stamp, int(status), where


def _combined_route(line: bytes) -> tuple[bytes, int, Route] | None:
    text = b"\n" + line
    return _combined_route_at(text, 0, len(text))


_REQUEST_ROUTES: dict[bytes, Route] = {}


# HAProxy `option httplog`, with or without a syslog header in front:
#   haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1
#   10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
# Captured headers and the request come after the status, so they cannot fake one.
HAPROXY_HTTPLOG = re.compile(
    rb"\n(?:[^\n]*? )?[^\s\[]+ \[(\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d)(?:\.\d+)?\] "
    rb"\S+ \S+ -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ (?=-1 |[1-5]\d\d )(-|\d)"
)
# The same line with the backend and the request: HAProxy writes '"' in the request and in
# captured headers as #22, so the first quoted field after the status is the request.
_HAPROXY_ROUTE = re.compile(
    rb"\n(?:[^\n]*? )?[^\s\[]+ \[(\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d)(?:\.\d+)?\] "
    rb'\S+ ([^\s/]+)/\S+ -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ (5\d\d) [^\n"]*"([^"\n]*)"'
)
_FIVE_AFTER_TIMERS = re.compile(rb"/\+?-?\d+ 5\d\d ")

# HAProxy `option httplog clf`: the common log form, with the offset (%trg):
#   127.0.0.1 - - [03/Dec/2026:07:52:10 +0000] "GET /x HTTP/1.1" 503 217 "" "" 47376 306
#   "web" "app" "app1" 0 0 1 2 3 ---- 1 1 0 0 0 0 0 "" ""
# HAProxy writes '"' inside the request as #22, so the request is the first quoted field.
HAPROXY_CLF = re.compile(
    rb"\n(?:[^\n]*? )?\S+ \S+ \S+ \[(\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    rb'"[^"\n]*" (?=-1 |[1-5]\d\d )(-|\d)'
)
_HAPROXY_CLF_ROUTE = re.compile(
    rb"\n(?:[^\n]*? )?\S+ \S+ \S+ \[(\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    rb'"([^"\n]*)" (5\d\d) [^"\n]*"[^"\n]*" "[^"\n]*" \d+ \d+ "[^"\n]*" "([^"\n]*)"'
)
_HAPROXY_FIVE = re.compile(rb'/\+?-?\d+ 5\d\d |" 5\d\d ')


def _haproxy_scan(
    text: bytes, pos: int = 0, endpos: int = sys.maxsize
) -> list[tuple[bytes, bytes]]:
    """`httplog` / `httpslog` lines, or `httplog clf` ones: a chunk whose lines the first form
    does not all read is read in the other too, and the form that reads more counts."""
    found = HAPROXY_HTTPLOG.findall(text, pos, endpos)
    if len(found) < text.count(b"\n", pos, endpos) - 1:
        clf = HAPROXY_CLF.findall(text, pos, endpos)
        if len(clf) > len(found):
            return clf
    return found


def _haproxy_route(line: bytes) -> tuple[bytes, int, Route] | None:
    match = _HAPROXY_ROUTE.match(b"\n" + line)
    if match is None:
        clf = _HAPROXY_CLF_ROUTE.match(b"\n" + line)
        if clf is None:
            return None
        stamp, request, status, backend = clf.groups()
        return stamp, int(status), routes.from_request(_text(request), upstream=_text(backend))
    stamp, backend, status, request = match.groups()
    return stamp, int(status), routes.from_request(_text(request), upstream=_text(backend))


# Envoy's default access log format (START_TIME is UTC):
#   [2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28"
#   "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"
ENVOY_DEFAULT = re.compile(
    rb'\n\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z\] "[^"\n]*" (?=0 |[1-5]\d\d )(\d)'
)
# ... with the request, and the :authority (the fourth quoted field after the numbers).
_ENVOY_ROUTE = re.compile(
    rb'\n\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z\] "([^"\n]*)" (5\d\d) '
    rb'[^"\n]*(?:"[^"\n]*" ){3}"([^"\n]*)"'
)


def _envoy_route(line: bytes) -> tuple[bytes, int, Route] | None:
    match = _ENVOY_ROUTE.match(b"\n" + line)
    if match is None:
        return None
    stamp, request, status, authority = match.groups()
    return stamp, int(status), routes.from_request(_text(request), host=_text(authority))


# A JSON value that is a time: ISO 8601, Caddy's `wall` times (2026/12/03 07:52:10[.123]),
# common-log time, or epoch digits (the fraction of $msec or Caddy's float `ts` is left out of
# the stamp on purpose).
_JSON_TIME = rb'"?(\d{4}[-/]\d\d[-/]\d\d[T ][^"\n]*|\d\d/[A-Z][a-z][a-z]/[^"\n]*|\d+)'
# A JSON status, quoted or not; only its first digit is captured.
_JSON_STATUS = rb'"?(?=[1-5]\d\d\b)(\d)'
_JSON_STATUS_OR_0 = rb'"?(?=[1-5]\d\d\b|0\b)(\d)'


def _json_key(key: str) -> bytes:
    # Inside a JSON string every '"' is escaped, so `"key":` outside a string is the key itself.
    return rb'[^\n]*?"' + re.escape(key.encode()) + rb'"[ \t]*:[ \t]*'


def json_line(
    time_key: str, status_key: str, must_have: bytes = b"", aborted: bool = False
) -> re.Pattern[bytes]:
    """A JSON object per line, keys in any order: one lookahead per key from the line start.
    With `aborted`, status 0 (a request given up before any response) reads as class b"0"."""
    status = _JSON_STATUS_OR_0 if aborted else _JSON_STATUS
    return re.compile(
        rb"\n"
        + (rb"(?=" + must_have + rb")" if must_have else b"")
        + rb"(?="
        + _json_key(time_key)
        + _JSON_TIME
        + rb")(?="
        + _json_key(status_key)
        + status
        + rb")"
    )


# Caddy's access logger (`log` directive, JSON encoder): entries of logger http.log.access[.x]
# with `ts` (float seconds, or whatever time_format the encoder was given) and `status`, 0 for
# a request the client gave up on before a response (a request, not a 5xx).
CADDY_ACCESS = json_line(
    "ts", "status", rb'[^\n]*?"logger"[ \t]*:[ \t]*"http\.log\.access[".]', aborted=True
)


def _json_five(status_key: str) -> re.Pattern[bytes]:
    return re.compile(rb'"' + re.escape(status_key.encode()) + rb'"[ \t]*:[ \t]*"?5\d\d\b')


def _field(obj: dict[str, object], *keys: str) -> str:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value not in ("", "-"):
            return value
    return ""


# nginx without `escape=json` (the default) writes '"', '\\' and bytes outside printable
# ASCII as \xHH inside the JSON-shaped line, which is not JSON; \u00HH is the same character.
_NGINX_HEX_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\x([0-9A-Fa-f]{2})")


def _json_object(line: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError:
        obj = json.loads(_NGINX_HEX_ESCAPE.sub(rb"\1\\u00\2", line))
    if not isinstance(obj, dict):
        raise TypeError("not a JSON object")
    return obj


def json_route(scan: Scan, status_key: str, caddy_shape: bool = False) -> RouteOf:
    """A 5xx JSON line's route: nginx's `request` or `request_method` + `request_uri`/`uri`,
    `host`/`http_host`/`server_name`, `upstream`/`upstream_name`; Caddy's `request` object."""

    def route_of(line: bytes) -> tuple[bytes, int, Route] | None:
        found = scan(b"\n" + line + b"\n")
        if not found or found[0][1] != b"5":
            return None
        try:
            obj = _json_object(line)
            status = int(obj[status_key])
        except (ValueError, KeyError, TypeError):
            return None
        request = obj.get("request")
        if caddy_shape and isinstance(request, dict):
            where = routes.route(
                _field(request, "method"), _field(request, "uri"), _field(request, "host")
            )
        elif isinstance(request, str) and request not in ("", "-"):
            where = routes.from_request(
                request,
                host=_field(obj, "host", "http_host", "server_name"),
                upstream=_field(obj, "upstream_name", "upstream"),
            )
        else:
            where = routes.route(
                _field(obj, "request_method", "method"),
                _field(obj, "request_uri", "uri", "path"),
                _field(obj, "host", "http_host", "server_name"),
                _field(obj, "upstream_name", "upstream"),
            )
        return found[0][0], status, where

    return route_of


def nginx_combined(timezone_name: str = "UTC") -> LogFormat:
    where = zone(timezone_name)
    return LogFormat(
        "nginx_combined",
        NGINX_COMBINED.findall,
        parse_clf if where is UTC else (lambda stamp: parse_clf(stamp, where)),
        five=_FIVE_AFTER_QUOTE,
        route_of=_combined_route,
        route_at=_combined_route_at,
    )


def nginx_json(time_key: str = "time_iso8601", status_key: str = "status") -> LogFormat:
    scan = json_line(time_key, status_key).findall
    return LogFormat(
        "nginx_json",
        scan,
        parse_any,
        five=_json_five(status_key),
        route_of=json_route(scan, status_key),
    )


def haproxy(timezone_name: str = "UTC") -> LogFormat:
    where = zone(timezone_name)
    return LogFormat(
        "haproxy",
        _haproxy_scan,
        lambda stamp: parse_clf(stamp, where),
        five=_HAPROXY_FIVE,
        route_of=_haproxy_route,
    )


def caddy() -> LogFormat:
    scan = CADDY_ACCESS.findall
    return LogFormat(
        "caddy",
        scan,
        # `wall` times carry no zone: Caddy wrote them in its host's local time.
        lambda stamp: parse_any(stamp, None),
        five=_json_five("status"),
        route_of=json_route(scan, "status", caddy_shape=True),
    )


def envoy() -> LogFormat:
    return LogFormat(
        "envoy", ENVOY_DEFAULT.findall, parse_iso, five=_FIVE_AFTER_QUOTE, route_of=_envoy_route
    )


# -- custom regex ---------------------------------------------------------------------------------


def compile_custom(pattern: str) -> re.Pattern[bytes]:
    """The user's pattern, run on each line's bytes. Raises ValueError with a reason."""
    try:
        compiled = re.compile(pattern.encode("utf-8"))
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if "status" not in compiled.groupindex:
        raise ValueError("needs a named group (?P<status>...) for the HTTP status")
    return compiled


def custom(pattern: str, time_format: str = "", timezone_name: str = "UTC") -> LogFormat:
    """`regex` kind: a named `status` group (three digits), an optional `time` group read with
    `time_format` (strptime) or, without one, as epoch / common-log / ISO 8601 time. Matched
    line by line (re.search), so `^`, `$` and `.` mean what they mean for one line."""
    compiled = compile_custom(pattern)
    where = zone(timezone_name)
    timed = "time" in compiled.groupindex
    search = compiled.search

    def scan(text: bytes, pos: int = 0, endpos: int = sys.maxsize) -> list[tuple[bytes, bytes]]:
        found = []
        for line in text[pos:endpos].split(b"\n")[1:-1]:
            match = search(line)
            if match is None:
                continue
            status = match.group("status")
            if status is None or len(status) != 3 or not status.isdigit():
                continue
            if not b"1" <= status[:1] <= b"5":
                continue
            stamp = (match.group("time") or b"") if timed else b""
            found.append((stamp, status[:1]))
        return found

    if time_format:
        parse = strptime_parser(time_format, where)
    else:

        def parse(stamp: bytes) -> int | None:
            return parse_any(stamp, where)

    groups = compiled.groupindex
    if not {"request", "path"} & groups.keys():
        return LogFormat("regex", scan, parse, timed=timed)

    def group(match: re.Match[bytes], name: str) -> str:
        value = match.group(name) if name in groups else None
        return _text(value) if value else ""

    def route_of(line: bytes) -> tuple[bytes, int, Route] | None:
        match = search(line)
        if match is None:
            return None
        status = match.group("status") or b""
        if len(status) != 3 or not status.isdigit() or status[:1] != b"5":
            return None
        stamp = (match.group("time") or b"") if timed else b""
        host, upstream = group(match, "host"), group(match, "upstream")
        request = group(match, "request")
        if request:
            where = routes.from_request(request, host, upstream)
        else:
            where = routes.route(group(match, "method"), group(match, "path"), host, upstream)
        return stamp, int(status), where

    return LogFormat(
        "regex", scan, parse, timed=timed, five=re.compile(rb"5\d\d"), route_of=route_of
    )
