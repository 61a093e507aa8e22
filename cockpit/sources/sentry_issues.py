"""Open Sentry issues from the organization issues API.

GET {base_url}/api/0/organizations/{org}/issues/ with a Bearer token (scope event:read), paged by
the Link header. The same paths serve sentry.io, its regional hosts and self-hosted Sentry.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from cockpit.config import SentryConfig
from cockpit.model import Category, SentryIssue, SentryIssues
from cockpit.sources.base import SourceError
from cockpit.textsafe import one_line, redact_url
from cockpit.timeutil import local_hms, parse_iso, utcnow

# Finish (or fail with a reason) before the hub's own timeout cancels the poll.
_ROUND_SHARE = 0.9
DEFAULT_BACKOFF = timedelta(seconds=60)  # a 429 that names no time to wait
MAX_BACKOFF = timedelta(hours=1)  # a garbage reset header must not silence the panel for days
_AUTH_HINT = "token rejected or missing scope event:read"


def parse_issue(item: Any) -> SentryIssue | None:
    """One element of the issues list -> SentryIssue; None if it is not an issue at all."""
    if not isinstance(item, dict):
        return None
    issue_id = item.get("id")
    if not isinstance(issue_id, str | int) or isinstance(issue_id, bool) or issue_id == "":
        return None
    return SentryIssue(
        id=one_line(str(issue_id), 40),
        short_id=_text(item.get("shortId"), 60),
        title=_text(item.get("title"), 300),
        level=_text(item.get("level"), 20),
        count=_count(item.get("count")),  # a string in Sentry's schema ("150")
        user_count=_count(item.get("userCount")),
        first_seen=_when(item.get("firstSeen")),
        last_seen=_when(item.get("lastSeen")),
        permalink=_text(item.get("permalink"), 300),
        culprit=_text(item.get("culprit"), 200),
    )


def _text(value: Any, limit: int) -> str:
    return one_line(value, limit) if isinstance(value, str) else ""


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str):
        try:
            return max(0, int(value.strip()))
        except ValueError:
            return 0
    return 0


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


class SentryIssuesSource:
    kind = "sentry"
    category = Category.SENTRY

    def __init__(self, cfg: SentryConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        base = cfg.base_url.rstrip("/")
        self._url = f"{base}/api/0/organizations/{quote(cfg.org, safe='')}/issues/"
        self._shown_url = redact_url(self._url)
        parts = urlsplit(base)
        self._host = parts.netloc.rpartition("@")[2] or base
        self._org = one_line(cfg.org, 80)
        self._blocked_until: datetime | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def target(self) -> str:
        return self._shown_url

    @property
    def blocked_until(self) -> datetime | None:
        """While rate limited, when asking again is allowed; None otherwise."""
        return self._blocked_until

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.cfg.timeout),
                headers={
                    "Authorization": f"Bearer {self.cfg.token.reveal()}",
                    "Accept": "application/json",
                    "User-Agent": "oncall-cockpit",
                },
                # A redirect to another host must not carry the token along.
                follow_redirects=False,
            )
        return self._client

    async def poll(self) -> SentryIssues:
        try:
            now = utcnow()
            if self._blocked_until is not None:
                if now < self._blocked_until:
                    raise SourceError(f"rate limited until {local_hms(self._blocked_until)}")
                self._blocked_until = None
            try:
                async with asyncio.timeout(self.cfg.timeout * _ROUND_SHARE):
                    return await self._fetch()
            except TimeoutError:
                raise SourceError(self._no_answer()) from None
        except SourceError as exc:
            # Belt and braces: whatever the server echoed back, the token is not shown.
            raise SourceError(self._scrub(str(exc))) from None

    async def _fetch(self) -> SentryIssues:
        client = self._http()
        issues: list[SentryIssue] = []
        seen: set[str] = set()
        pages = 0
        cursor: str | None = None
        rate_limited = False
        while pages < self.cfg.max_pages:
            response = await self._get(client, cursor)
            if response.status_code == 429:
                until = self._back_off(response)
                if pages == 0:
                    raise SourceError(f"rate limited until {local_hms(until)}")
                rate_limited = True
                break
            self._check_status(response)
            for issue in self._issues(response):
                if issue.id not in seen:  # a moving cursor can repeat an issue
                    seen.add(issue.id)
                    issues.append(issue)
            pages += 1
            cursor = _next_cursor(response)
            if cursor is None:
                break
            if response.headers.get("X-Sentry-Rate-Limit-Remaining", "").strip() == "0":
                # The next page would be refused: stop here and wait for the window to reset.
                self._back_off(response)
                rate_limited = True
                break
        return SentryIssues(
            source=self.name, issues=tuple(issues), pages=pages, rate_limited=rate_limited
        )

    async def _get(self, client: httpx.AsyncClient, cursor: str | None) -> httpx.Response:
        cfg = self.cfg
        params: list[tuple[str, str | int | float | bool | None]]
        params = [("project", p) for p in cfg.project]
        if cfg.environment:
            params.append(("environment", cfg.environment))
        params += [
            ("query", cfg.query),
            ("statsPeriod", cfg.stats_period),
            ("sort", cfg.sort),
            ("limit", str(cfg.limit)),
        ]
        if cursor:
            params.append(("cursor", cursor))
        try:
            return await client.get(self._url, params=params)
        except httpx.TimeoutException:
            raise SourceError(self._no_answer()) from None
        except httpx.HTTPError as exc:
            raise SourceError(self._transport_reason(exc)) from None

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 401:
            raise SourceError(f"401 Unauthorized: {_AUTH_HINT}")
        if status == 403:
            raise SourceError(f"403 Forbidden: {_AUTH_HINT}")
        if status == 404:
            raise SourceError(f"404: organization or project not found (org={self._org})")
        detail = ""
        if 400 <= status < 500:
            detail = _detail(response)
        raise SourceError(f"HTTP {status} from {self._host}" + (f": {detail}" if detail else ""))

    def _issues(self, response: httpx.Response) -> list[SentryIssue]:
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"malformed JSON from {self._host}") from None
        if not isinstance(body, list):
            raise SourceError(f"unexpected answer from {self._host}: not a list of issues")
        return [issue for issue in map(parse_issue, body) if issue is not None]

    def _back_off(self, response: httpx.Response) -> datetime:
        """Remember until when not to ask again, from the rate-limit headers."""
        now = utcnow()
        candidates: list[datetime] = []
        reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
        if reset:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                candidates.append(datetime.fromtimestamp(float(reset), UTC))
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            candidates.extend(_retry_after(retry_after, now))
        until = max(candidates) if candidates else now + DEFAULT_BACKOFF
        # At least a second (a reset already past by our clock), at most MAX_BACKOFF.
        self._blocked_until = min(max(until, now + timedelta(seconds=1)), now + MAX_BACKOFF)
        return self._blocked_until

    def _no_answer(self) -> str:
        return f"no answer from {self._host} within {self.cfg.timeout:g}s"

    def _transport_reason(self, exc: httpx.HTTPError) -> str:
        cause: BaseException | None = exc
        for _ in range(8):
            if cause is None:
                break
            if isinstance(cause, ConnectionRefusedError):
                return f"connection refused by {self._host}"
            cause = cause.__cause__ or cause.__context__
        text = one_line(str(exc), 100).lower()
        if "refused" in text or "all connection attempts failed" in text:
            return f"connection refused by {self._host}"
        if "certificate" in text:
            return f"TLS certificate of {self._host} rejected"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"{self._host} closed the connection without an answer"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {self._host}"
        return f"request to {self._host} failed: {type(exc).__name__}"

    def _scrub(self, message: str) -> str:
        token = self.cfg.token.reveal()
        return message.replace(token, "***") if token else message

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _next_cursor(response: httpx.Response) -> str | None:
    """The cursor of rel="next" while it says results="true"; None when there is no more."""
    link = response.links.get("next")
    if not link or link.get("results", "").lower() != "true":
        return None
    cursor = link.get("cursor")
    if not cursor:
        # Only the cursor is taken, never the URL: the token goes to the configured host only.
        values = parse_qs(urlsplit(link.get("url", "")).query).get("cursor")
        cursor = values[0] if values else None
    return cursor or None


def _retry_after(value: str, now: datetime) -> list[datetime]:
    value = value.strip()
    try:
        return [now + timedelta(seconds=max(0.0, float(value)))]
    except (ValueError, OverflowError):
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return []
    return [when if when.tzinfo else when.replace(tzinfo=UTC)]


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return one_line(detail, 120) if isinstance(detail, str) else ""
