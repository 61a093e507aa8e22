"""The cockpit reports its own errors to Sentry, when it was given a DSN to report to.

The DSN comes from `[cockpit] self_report_dsn`, else SENTRY_DSN. Without one nothing is sent and
sentry_sdk is not even imported. Every event and breadcrumb passes `scrub_event` first: a cockpit
holds tokens for Sentry, deploy tools and notifiers, and none of them may leave in a crash report.
Local variables are not captured at all, for the same reason.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cockpit import __version__
from cockpit.config.base import Secret
from cockpit.sources.base import SourceError

FILTERED = "[Filtered]"
RELEASE = f"oncall-cockpit@{__version__}"
_MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words

# Keys whose values are credentials wherever they appear (headers, extra, contexts, data).
_SENSITIVE_KEY = re.compile(
    r"authorization|token|secret|passw(or)?d|cookie|api[-_]?key|private[-_]?key|credential"
    r"|x-sentry-auth|session[-_]?id|signature",
    re.IGNORECASE,
)
# "Bearer <token>", "Basic <base64>" and whatever follows "Authorization:" in free text. A Basic
# credential has a digit or a symbol or mixes cases, so "Basic information" stays readable.
_CREDENTIAL = r"[\w.~+/=-]"
_LOOKS_ENCODED = (
    rf"(?-i:(?={_CREDENTIAL}*(?:[0-9.~+/=-]|[A-Z]{_CREDENTIAL}*[a-z]|[a-z]{_CREDENTIAL}*[A-Z])))"
)
_SCHEME_AUTH = re.compile(
    rf"\b(Bearer)\s+{_CREDENTIAL}+"
    rf"|\b(Basic)\s+{_LOOKS_ENCODED}{_CREDENTIAL}{{6,}}"
    r"|\b(Authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;}]+(?:\s+[^\"'\s,;}]+)?",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@", re.IGNORECASE)
_QUERY_SECRET = re.compile(
    r"([?&;](?:[a-z0-9_.-]*(?:token|secret|passw(?:or)?d|api[-_]?key|signature|sig|auth|key)"
    r"[a-z0-9_.-]*)=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
# Sentry's own token formats (org tokens, user tokens), found even when not registered.
_SENTRY_TOKEN = re.compile(r"\bsntry[su]_[A-Za-z0-9_+/=-]{8,}")

_secrets: set[str] = set()
_active = False


def chosen_dsn(dsn: str | None, env: Mapping[str, str]) -> str | None:
    """The configured DSN, else SENTRY_DSN; None when neither is set."""
    for candidate in (dsn, env.get("SENTRY_DSN")):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def remember_secret(value: str) -> None:
    """Blank out this value wherever it shows up in a report."""
    if len(value) >= _MIN_SECRET:
        _secrets.add(value)


def secrets_in(config: Any) -> list[str]:
    """The values of every Secret in a loaded config (any nesting of dataclasses and tuples)."""
    found: list[str] = []

    def walk(value: Any, depth: int) -> None:
        if depth > 8:
            return
        if isinstance(value, Secret):
            if value.is_set:
                found.append(value.reveal())
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name), depth + 1)
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item, depth + 1)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, depth + 1)

    walk(config, 0)
    return found


def scrub_text(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, FILTERED)
    text = _SCHEME_AUTH.sub(_auth_filtered, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{FILTERED}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{FILTERED}", text)
    return _SENTRY_TOKEN.sub(FILTERED, text)


def _auth_filtered(match: re.Match[str]) -> str:
    scheme, header = match.group(1) or match.group(2), match.group(3)
    return f"{scheme} {FILTERED}" if scheme else f"{header}{FILTERED}"


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 40:
        return FILTERED  # deeper than any real event: not worth the risk
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            sensitive = isinstance(key, str) and _SENSITIVE_KEY.search(key)
            if sensitive and not isinstance(item, dict | list | tuple):
                out[key] = FILTERED if item not in (None, "", True, False) else item
            else:
                out[key] = _scrub(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        # Header lists come as [name, value] pairs.
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], str)
            and _SENSITIVE_KEY.search(value[0])
        ):
            return [value[0], FILTERED]
        return [_scrub(item, depth + 1) for item in value]
    return value


def scrub_event(event: Any, hint: Any = None) -> Any:
    """sentry-sdk's before_send: the same event with credentials replaced by [Filtered]."""
    return _scrub(event)


def scrub_breadcrumb(crumb: Any, hint: Any = None) -> Any:
    return _scrub(crumb)


def init_self_report(
    dsn: str | None,
    env: Mapping[str, str] = os.environ,
    *,
    secrets: Iterable[str] = (),
    environment: str | None = None,
) -> bool:
    """Start reporting the cockpit's own errors; False (and nothing imported) without a DSN.

    Call it from inside the running event loop, so errors in asyncio tasks are caught too.
    """
    global _active
    target = chosen_dsn(dsn, env)
    if target is None:
        return False
    for secret in secrets:
        remember_secret(secret)
    import sentry_sdk
    from sentry_sdk.integrations.asyncio import AsyncioIntegration

    sentry_sdk.init(
        dsn=target,
        release=RELEASE,
        environment=environment,
        integrations=[AsyncioIntegration()],
        # The standard set (logging, excepthook, atexit flush, dedupe, threading, stdlib) but
        # nothing activated just because some library happens to be importable.
        default_integrations=True,
        auto_enabling_integrations=False,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=None,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        shutdown_timeout=2,
    )
    _active = True
    return True


def report_exception(exc: BaseException) -> bool:
    """Send an error the cockpit caught (a panel's code raising). A SourceError is a source
    failing for a reason shown on its panel, not a cockpit bug: it is not sent."""
    if not _active or isinstance(exc, SourceError):
        return False
    import sentry_sdk

    return sentry_sdk.capture_exception(exc) is not None


def shutdown_self_report(timeout: float = 2.0) -> None:
    """Send what is queued (waiting at most `timeout`) and stop reporting."""
    global _active
    if not _active:
        return
    import sentry_sdk

    client = sentry_sdk.get_client()
    client.flush(timeout=timeout)
    client.close(timeout=timeout)
    _active = False
