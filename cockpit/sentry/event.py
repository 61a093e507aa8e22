"""An issue's latest event, reduced to what someone on call reads first: the exception, the stack
trace with the code around each line, and the link to Sentry.

Sentry's event endpoint nests the trace at entries[type="exception"].data.values[].stacktrace
.frames[] with camelCase keys, and gives the code around a line as `context` = [[lineno, text],
...]. Events straight from an SDK spell the same as pre_context / context_line / post_context;
both are read. Every string is made inert here, and everything is bounded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cockpit.config.sentry import SentryConfig
from cockpit.model import IssueEvent, SentryIssue
from cockpit.sentry.api import SentryApiError, SentryClient
from cockpit.term.textsafe import one_line, strip_controls
from cockpit.timeutil import parse_iso

MAX_FRAMES = 200  # per exception; the innermost are kept
MAX_CHAIN = 10  # chained exceptions kept, the raised one included
MAX_CONTEXT = 12  # lines each side of a frame's line
MAX_CODE_LINE = 400
MAX_VALUE = 2000
MAX_URL = 500
# Tags that name where an event happened, besides `transaction`: Sentry derives `url` from the
# request; SDKs and users set the others.
URL_TAGS = ("url", "http.url", "http.route", "route", "http.target")
METHOD_TAGS = ("http.method", "http.request.method", "method")


@dataclass(frozen=True, slots=True)
class SentryFrame:
    filename: str
    function: str
    module: str
    lineno: int | None
    colno: int | None
    in_app: bool
    pre_context: tuple[str, ...] = ()
    context_line: str | None = None
    post_context: tuple[str, ...] = ()
    platform: str = ""

    @property
    def where(self) -> str:
        """The file (or module) the frame is in, for a heading."""
        return self.filename or self.module or "?"


@dataclass(frozen=True, slots=True)
class SentryException:
    type: str
    value: str
    module: str
    frames: tuple[SentryFrame, ...]  # oldest call first, as Sentry sends them
    frames_omitted: int = 0  # outer frames dropped to stay bounded


@dataclass(frozen=True, slots=True)
class SentryEventDetail:
    issue_id: str
    short_id: str
    title: str
    event_id: str
    platform: str
    permalink: str  # an http(s) URL or ""
    exception_type: str  # of the exception that was raised: the last of the chain
    exception_value: str  # may hold newlines; controls stripped
    frames: tuple[SentryFrame, ...]  # its stack trace, oldest call first
    chain: tuple[SentryException, ...] = ()  # every exception, the causes first
    message: str = ""  # what an event without an exception says
    culprit: str = ""
    received_at: datetime | None = None
    release: str = ""
    environment: str = ""
    frames_omitted: int = 0


async def fetch_detail(
    cfg: SentryConfig, issue: SentryIssue, *, client: SentryClient | None = None
) -> SentryEventDetail:
    """The latest event of `issue`. Pass the source's client to share its rate-limit state."""
    own = client is None
    api = client if client is not None else SentryClient.from_config(cfg)
    try:
        async with asyncio.timeout(cfg.timeout):
            event = await api.latest_event(issue.id)
            permalink = issue.permalink
            if not safe_link(permalink):
                permalink = _text(_get(await api.issue(issue.id), "permalink"), 500)
    except TimeoutError:
        raise SentryApiError(api.no_answer()) from None
    finally:
        if own:
            await api.aclose()
    return parse_event(event, issue, permalink=permalink)


def parse_event(
    event: Any, issue: SentryIssue | None = None, *, permalink: str = ""
) -> SentryEventDetail:
    """An event document -> SentryEventDetail; tolerant of missing and odd fields."""
    body = event if isinstance(event, dict) else {}
    platform = _text(body.get("platform"), 40)
    chain = _exceptions(body, platform)
    raised = chain[-1] if chain else None
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    title = _text(body.get("title"), 300) or (issue.title if issue else "")
    tags = _tags(body.get("tags"))
    release = body.get("release")
    return SentryEventDetail(
        issue_id=issue.id if issue else _text(body.get("groupID"), 40),
        short_id=issue.short_id if issue else "",
        title=title,
        event_id=_text(body.get("eventID") or body.get("id") or body.get("event_id"), 64),
        platform=platform,
        permalink=permalink if safe_link(permalink) else "",
        exception_type=raised.type if raised else _text(_get(metadata, "type"), 200),
        exception_value=raised.value if raised else _multiline(_get(metadata, "value")),
        frames=raised.frames if raised else (),
        chain=chain,
        message=_message(body),
        culprit=_text(body.get("culprit"), 200) or (issue.culprit if issue else ""),
        received_at=_when(body.get("dateReceived") or body.get("dateCreated")),
        release=_text(_get(release, "version") if isinstance(release, dict) else release, 120),
        environment=tags.get("environment", "") or _text(body.get("environment"), 80),
        frames_omitted=raised.frames_omitted if raised else 0,
    )


def issue_event(event: Any) -> IssueEvent:
    """What an event names about where it happened: the request's URL and method
    (entries[type="request"].data in the API's shape, `request` in an SDK's) and the tags
    `url`, `transaction`, `http.method` and the like (a list of {key, value} in the API, a
    mapping or pairs from an SDK). Inert and bounded; empty where the event says nothing."""
    body = event if isinstance(event, dict) else {}
    request = _request(body)
    tags = _tags(body.get("tags"), MAX_URL)
    url = _text(_get(request, "url"), MAX_URL)
    method = _text(_get(request, "method"), 16)
    urls = [tags[key] for key in URL_TAGS if tags.get(key)]
    if not url and urls:
        url = urls.pop(0)
    if not method:
        method = next((tags[k] for k in METHOD_TAGS if tags.get(k)), "")
    transaction = tags.get("transaction", "") or _text(body.get("transaction"), MAX_URL)
    return IssueEvent(
        event_id=_text(body.get("eventID") or body.get("id") or body.get("event_id"), 64),
        url=url,
        method=method.upper() if method.isalpha() else "",
        transaction=transaction,
        tag_urls=tuple(u for u in urls if u != url),
    )


def _request(body: dict[str, Any]) -> Any:
    entries = body.get("entries")
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == "request":
                return entry.get("data")
    return body.get("request")


def safe_link(url: str) -> bool:
    """Only a plain web link may be opened: never javascript:, file: or the like."""
    parts = urlsplit(url) if url else None
    return bool(parts and parts.scheme in ("http", "https") and parts.netloc)


# -- pieces ---------------------------------------------------------------------------------------


def _exceptions(body: dict[str, Any], platform: str) -> tuple[SentryException, ...]:
    values: Any = None
    entries = body.get("entries")
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == "exception":
                values = _get(entry.get("data"), "values")
                break
    if values is None:  # an SDK event rather than an API one
        exception = body.get("exception")
        values = _get(exception, "values") if isinstance(exception, dict) else exception
    if not isinstance(values, list):
        return ()
    chain = [_exception(v, platform) for v in values[-MAX_CHAIN:] if isinstance(v, dict)]
    return tuple(chain)


def _exception(value: dict[str, Any], platform: str) -> SentryException:
    stacktrace = value.get("stacktrace")
    raw = _get(stacktrace, "frames")
    frames = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    omitted = max(0, len(frames) - MAX_FRAMES)
    return SentryException(
        type=_text(value.get("type"), 200) or "Error",
        value=_multiline(value.get("value")),
        module=_text(value.get("module"), 200),
        frames=tuple(_frame(f, platform) for f in frames[omitted:]),
        frames_omitted=omitted,
    )


def _frame(frame: dict[str, Any], platform: str) -> SentryFrame:
    lineno = _int(frame.get("lineNo", frame.get("lineno")))
    pre, line, post = _context(frame, lineno)
    in_app = frame.get("inApp", frame.get("in_app"))
    return SentryFrame(
        filename=_text(frame.get("filename") or frame.get("absPath") or frame.get("abs_path"), 300),
        function=_text(frame.get("function"), 200),
        module=_text(frame.get("module"), 200),
        lineno=lineno,
        colno=_int(frame.get("colNo", frame.get("colno"))),
        in_app=in_app is True,
        pre_context=pre,
        context_line=line,
        post_context=post,
        platform=_text(frame.get("platform"), 40) or platform,
    )


def _context(
    frame: dict[str, Any], lineno: int | None
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    pairs = frame.get("context")
    if isinstance(pairs, list) and pairs and lineno is not None:
        pre: list[str] = []
        post: list[str] = []
        line: str | None = None
        for pair in pairs:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                continue
            number, text = _int(pair[0]), _code(pair[1])
            if number is None:
                continue
            if number < lineno:
                pre.append(text)
            elif number == lineno:
                line = text
            else:
                post.append(text)
        return tuple(pre[-MAX_CONTEXT:]), line, tuple(post[:MAX_CONTEXT])
    current = frame.get("context_line")
    return (
        tuple(_code(s) for s in _strings(frame.get("pre_context"))[-MAX_CONTEXT:]),
        _code(current) if isinstance(current, str) else None,
        tuple(_code(s) for s in _strings(frame.get("post_context"))[:MAX_CONTEXT]),
    )


def _message(body: dict[str, Any]) -> str:
    entries = body.get("entries")
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == "message":
                data = entry.get("data")
                text = _get(data, "formatted") or _get(data, "message")
                if isinstance(text, str) and text:
                    return _multiline(text)
    message = body.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    return _multiline(message)


def _tags(raw: Any, limit: int = 120) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        raw = list(raw.items())
    if isinstance(raw, list):
        for tag in raw[:200]:
            if isinstance(tag, dict) and isinstance(tag.get("key"), str):
                out[tag["key"]] = _text(tag.get("value"), limit)
            elif isinstance(tag, list | tuple) and len(tag) == 2 and isinstance(tag[0], str):
                out[tag[0]] = _text(tag[1], limit)
    return out


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _strings(value: Any) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _text(value: Any, limit: int) -> str:
    return one_line(value, limit) if isinstance(value, str) else ""


def _multiline(value: Any) -> str:
    """Inert text that keeps its line breaks (exception messages often have several)."""
    if not isinstance(value, str):
        return ""
    text = strip_controls(value.replace("\r\n", "\n")).strip()
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _code(value: Any) -> str:
    """One line of source code: inert, tabs kept as spaces, no line breaks, bounded."""
    if not isinstance(value, str):
        return ""
    text = strip_controls(value).replace("\t", "    ").replace("\n", " ").rstrip()
    return text if len(text) <= MAX_CODE_LINE else text[: MAX_CODE_LINE - 1] + "…"


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
