"""The cockpit's one way to talk to Sentry's web API: auth, errors, rate limits, pagination.

Every path lives under {base_url}/api/0/ on sentry.io, its regional hosts (us., de.) and
self-hosted Sentry alike. Reading issues and events needs a token with scope event:read, sent as
`Authorization: Bearer`. The token appears in no message: every error text is built here from
the status and the host, and anything the server echoes back is scrubbed of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from cockpit.config.base import Secret
from cockpit.config.sentry import SentryConfig
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line, redact_url
from cockpit.timeutil import local_hms, utcnow

DEFAULT_BACKOFF = timedelta(seconds=60)  # a 429 that names no time to wait
MAX_BACKOFF = timedelta(hours=1)  # a garbage reset header must not silence the panel for days
# A page of 100 issues is a few hundred KB; an event with a long stack trace a few MB. Anything
# larger is refused rather than held in memory.
MAX_LIST_BYTES = 8 * 1024 * 1024
MAX_EVENT_BYTES = 16 * 1024 * 1024
MAX_PROJECT_PAGES = 10
# Larger answers are decoded on a worker thread: the screen shares this event loop, and an
# event with a long stack trace takes tens of milliseconds to decode.
DECODE_OFF_LOOP_BYTES = 256 * 1024
SCOPE = "event:read"

Params = list[tuple[str, str]]
Links = dict[str | None, dict[str, str]]  # httpx.Response.links


class SentryApiError(SourceError):
    """A request failed; the message is short, inert and free of the token."""


class RateLimited(SentryApiError):
    """Sentry asked not to be called before `until` (or did, and that time has not come)."""

    def __init__(self, until: datetime):
        super().__init__(f"rate limited until {local_hms(until)}")
        self.until = until


class NotFound(SentryApiError):
    """404: the caller knows what was looked for and says so."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]  # the JSON array, at most `keep` items of it
    next_cursor: str | None  # None when the server says there is nothing more
    hits: int | None  # X-Hits: how many items match over every page, when the server says


class SentryClient:
    """One httpx client per Sentry source; remembers when the server asked to be left alone."""

    def __init__(
        self,
        base_url: str,
        org: str,
        token: Secret,
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.base_url = base_url.rstrip("/")
        self.org = org
        self._org_path = quote(org, safe="")
        self._token = token
        self._timeout = timeout
        self._clock = clock
        parts = urlsplit(self.base_url)
        self.host = parts.netloc.rpartition("@")[2] or self.base_url
        self._shown_org = one_line(org, 80)
        self._blocked_until: datetime | None = None
        self._project_ids: dict[str, str] | None = None
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_config(
        cls, cfg: SentryConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> SentryClient:
        return cls(cfg.base_url, cfg.org, cfg.token, timeout=cfg.timeout, clock=clock)

    # -- urls ----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/0/{path}"

    @property
    def org_issues_url(self) -> str:
        return self.url(f"organizations/{self._org_path}/issues/")

    def project_issues_url(self, project: str) -> str:
        return self.url(f"projects/{self._org_path}/{quote(project, safe='')}/issues/")

    def shown(self, url: str) -> str:
        return redact_url(url)

    # -- rate limits ---------------------------------------------------------------------------

    @property
    def blocked_until(self) -> datetime | None:
        """While rate limited, when asking again is allowed; None otherwise."""
        if self._blocked_until is not None and self._clock() >= self._blocked_until:
            self._blocked_until = None
        return self._blocked_until

    def _back_off(self, response: httpx.Response) -> datetime:
        """Remember until when not to ask again, from the rate-limit headers."""
        now = self._clock()
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

    # -- requests ------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                headers={
                    "Authorization": f"Bearer {self._token.reveal()}",
                    "Accept": "application/json",
                    "User-Agent": "oncall-cockpit",
                },
                # A redirect to another host must not carry the token along.
                follow_redirects=False,
            )
        return self._client

    async def get(
        self, url: str, params: Params | None = None, *, max_bytes: int | None = None
    ) -> tuple[Any, httpx.Headers, Links]:
        """GET a JSON document: (body, headers, links). Raises SentryApiError, never leaks."""
        try:
            return await self._get(url, params, max_bytes or MAX_LIST_BYTES)
        except SentryApiError as exc:
            # Belt and braces: whatever the server echoed back, the token is not shown.
            raise _same_kind(exc, self.scrub(str(exc))) from None

    async def _get(
        self, url: str, params: Params | None, max_bytes: int
    ) -> tuple[Any, httpx.Headers, Links]:
        blocked = self.blocked_until
        if blocked is not None:
            raise RateLimited(blocked)
        try:
            query = httpx.QueryParams(tuple(params)) if params else None
            async with self._http().stream("GET", url, params=query) as response:
                if response.status_code == 429:
                    raise RateLimited(self._back_off(response))
                if response.headers.get("X-Sentry-Rate-Limit-Remaining", "").strip() == "0":
                    # This answer is good, the next one would be refused.
                    self._back_off(response)
                body = await self._read(response, max_bytes)
        except httpx.TimeoutException:
            raise SentryApiError(self.no_answer()) from None
        except httpx.HTTPError as exc:
            raise SentryApiError(self._transport_reason(exc)) from None
        self._check_status(response.status_code, body)
        try:
            if len(body) > DECODE_OFF_LOOP_BYTES:
                document = await asyncio.to_thread(json.loads, body)
            else:
                document = json.loads(body)
        except ValueError:
            raise SentryApiError(f"malformed JSON from {self.host}") from None
        return document, response.headers, response.links

    async def _read(self, response: httpx.Response, max_bytes: int) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise SentryApiError(f"answer from {self.host} too large ({int(declared)} bytes)")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise SentryApiError(f"answer from {self.host} too large (over {max_bytes} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_status(self, status: int, body: bytes) -> None:
        if status == 200:
            return
        if status == 401:
            raise SentryApiError("401 Unauthorized: the token was rejected (expired or revoked?)")
        if status == 403:
            raise SentryApiError(f"403 Forbidden: the token lacks scope {SCOPE}")
        if status == 404:
            raise NotFound(f"404 Not Found at {self.host}")
        detail = _detail(body) if 400 <= status < 500 else ""
        raise SentryApiError(f"HTTP {status} from {self.host}" + (f": {detail}" if detail else ""))

    def no_answer(self) -> str:
        return f"no answer from {self.host} within {self._timeout:g}s"

    def _transport_reason(self, exc: httpx.HTTPError) -> str:
        cause: BaseException | None = exc
        for _ in range(8):
            if cause is None:
                break
            if isinstance(cause, ConnectionRefusedError):
                return f"connection refused by {self.host}"
            cause = cause.__cause__ or cause.__context__
        text = one_line(str(exc), 100).lower()
        if "refused" in text or "all connection attempts failed" in text:
            return f"connection refused by {self.host}"
        if "certificate" in text:
            return f"TLS certificate of {self.host} rejected"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"{self.host} closed the connection without an answer"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {self.host}"
        return f"request to {self.host} failed: {type(exc).__name__}"

    def scrub(self, message: str) -> str:
        token = self._token.reveal()
        return message.replace(token, "***") if token else message

    # -- endpoints -----------------------------------------------------------------------------

    async def page(self, url: str, params: Params, cursor: str | None, *, keep: int) -> Page:
        """One page of a list endpoint; at most `keep` items of it are kept."""
        query = [*params, ("cursor", cursor)] if cursor else params
        body, headers, links = await self.get(url, query)
        if not isinstance(body, list):
            raise SentryApiError(f"unexpected answer from {self.host}: not a list")
        return Page(body[:keep], next_cursor(links), _hits(headers.get("X-Hits")))

    async def project_ids(self, refs: tuple[str, ...]) -> tuple[str, ...]:
        """Project ids for ids or slugs: the organization issues endpoint takes ids only."""
        if all(ref.isdigit() for ref in refs):
            return refs
        known = await self._projects()
        out = []
        for ref in refs:
            if ref.isdigit():
                out.append(ref)
            elif ref in known:
                out.append(known[ref])
            else:
                raise NotFound(
                    f"404: project {one_line(ref, 60)!r} not found in "
                    f"organization {self._shown_org!r}"
                )
        return tuple(out)

    async def _projects(self) -> dict[str, str]:
        """slug -> id of the organization's projects, read once."""
        if self._project_ids is not None:
            return self._project_ids
        url = self.url(f"organizations/{self._org_path}/projects/")
        found: dict[str, str] = {}
        cursor: str | None = None
        try:
            for _ in range(MAX_PROJECT_PAGES):
                page = await self.page(url, [], cursor, keep=1000)
                for item in page.items:
                    if isinstance(item, dict) and isinstance(item.get("slug"), str):
                        found[item["slug"]] = str(item.get("id", ""))
                cursor = page.next_cursor
                if cursor is None:
                    break
        except NotFound:
            raise NotFound(self.org_not_found()) from None
        except RateLimited:
            raise
        except SentryApiError as exc:
            if str(exc).startswith("403"):
                raise SentryApiError(
                    "403 Forbidden: cannot list projects to turn slugs into ids "
                    "(scope project:read); give project ids instead"
                ) from None
            raise
        self._project_ids = found
        return found

    async def explain_not_found(self, project: str | None) -> str:
        """Which of organization and project is wrong, asked of the projects list."""
        try:
            known = await self._projects()
        except NotFound as exc:
            return str(exc)
        except SentryApiError:
            which = f" or project {one_line(project, 60)!r}" if project else ""
            return f"404: organization {self._shown_org!r}{which} not found"
        if project and project not in known and project not in known.values():
            return (
                f"404: project {one_line(project, 60)!r} not found in "
                f"organization {self._shown_org!r}"
            )
        return f"404: {self.host} has no such endpoint for organization {self._shown_org!r}"

    def org_not_found(self) -> str:
        return f"404: organization {self._shown_org!r} not found at {self.host}"

    async def issue(self, issue_id: str) -> dict[str, Any]:
        """Issue detail; older servers serve it only at /api/0/issues/{id}/."""
        quoted = quote(issue_id, safe="")
        return await self._object(
            f"organizations/{self._org_path}/issues/{quoted}/",
            f"issues/{quoted}/",
            issue_id,
            None,
        )

    async def latest_event(self, issue_id: str) -> dict[str, Any]:
        quoted = quote(issue_id, safe="")
        return await self._object(
            f"organizations/{self._org_path}/issues/{quoted}/events/latest/",
            f"issues/{quoted}/events/latest/",
            issue_id,
            MAX_EVENT_BYTES,
        )

    async def _object(
        self, path: str, legacy: str, issue_id: str, max_bytes: int | None
    ) -> dict[str, Any]:
        try:
            body, _, _ = await self.get(self.url(path), max_bytes=max_bytes)
        except NotFound:
            try:
                body, _, _ = await self.get(self.url(legacy), max_bytes=max_bytes)
            except NotFound:
                raise NotFound(
                    f"404: issue {one_line(issue_id, 40)} not found in "
                    f"organization {self._shown_org!r}"
                ) from None
        if not isinstance(body, dict):
            raise SentryApiError(f"unexpected answer from {self.host}: not an object")
        return body

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def next_cursor(links: Links) -> str | None:
    """The cursor of rel="next" while it says results="true"; None when there is no more."""
    link = links.get("next")
    if not link or link.get("results", "").lower() != "true":
        return None
    cursor = link.get("cursor")
    if not cursor:
        # Only the cursor is taken, never the URL: the token goes to the configured host only.
        values = parse_qs(urlsplit(link.get("url", "")).query).get("cursor")
        cursor = values[0] if values else None
    return cursor or None


def _hits(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


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


def _detail(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    detail = document.get("detail") if isinstance(document, dict) else None
    return one_line(detail, 120) if isinstance(detail, str) else ""


def _same_kind(exc: SentryApiError, message: str) -> SentryApiError:
    if isinstance(exc, RateLimited):
        return exc
    return type(exc)(message)
