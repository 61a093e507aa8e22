"""A Sentry-compatible server on loopback: SDK ingest plus the read API the cockpit polls.

POST /api/<project_id>/envelope/                         what sentry-sdk sends
POST /api/<project_id>/store/                            the older single-event endpoint
GET  /api/0/organizations/<org>/issues/                  Bearer token; Link pagination
GET  /api/0/organizations/<org>/issues/<id>/
GET  /api/0/organizations/<org>/issues/<id>/events/latest/
GET  /api/0/projects/<org>/<project>/issues/             the older, still served list
GET  /api/0/projects/<org>/<project>/events/<event_id>/   one event by its id
GET  /api/0/issues/<id>/ and /api/0/issues/<id>/events/latest/   the older issue paths
GET  /api/0/organizations/<org>/projects/
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cockpit.timeutil import utcnow
from cockpit.world.sentry import query as sentry_query
from cockpit.world.sentry.ingest import (
    MAX_BODY_BYTES,
    IngestError,
    decode_body,
    events_in,
    parse_envelope,
    public_key,
)
from cockpit.world.sentry.issues import IssueStore, IssueView, Project
from cockpit.world.sentry.json import event_json, issue_detail_json, issue_json, project_json
from cockpit.world.servers.loopback import LoopbackServer, QuietHandler

_INGEST = re.compile(r"^/api/(\d+)/(envelope|store)/?$")
_ORG_ISSUES = re.compile(r"^/api/0/organizations/([^/]+)/issues/$")
_ORG_ISSUE = re.compile(r"^/api/0/organizations/([^/]+)/issues/(\d+)/$")
_ORG_ISSUE_EVENT = re.compile(r"^/api/0/organizations/([^/]+)/issues/(\d+)/events/([^/]+)/$")
_PROJECT_ISSUES = re.compile(r"^/api/0/projects/([^/]+)/([^/]+)/issues/$")
_ORG_PROJECTS = re.compile(r"^/api/0/organizations/([^/]+)/projects/$")
_PROJECT_EVENT = re.compile(r"^/api/0/projects/([^/]+)/([^/]+)/events/([0-9a-fA-F-]+)/$")
_LEGACY_ISSUE = re.compile(r"^/api/0/issues/(\d+)/$")
_LEGACY_ISSUE_EVENT = re.compile(r"^/api/0/issues/(\d+)/events/([^/]+)/$")

_NOT_FOUND = "The requested resource does not exist"


@dataclass
class _RateWindow:
    """Sentry-style rate limit bookkeeping: requests per fixed one-second window."""

    limit: int
    concurrent_limit: int
    window_start: float = 0.0
    used: int = 0
    in_flight: int = 0


class SentryServer:
    """The drill world's Sentry: one organization, one project, one read token."""

    def __init__(
        self, *, org: str, project: Project, public_key: str, token: str, rate_limit: int = 40
    ):
        self.org = org
        self.project = project
        self.public_key = public_key
        self._token = token
        self.store = IssueStore([project])
        self.events_received = 0
        self._lock = threading.Lock()
        self._rate = _RateWindow(limit=rate_limit, concurrent_limit=25)
        handler = type("SentryHandler", (_SentryHandler,), {"app": self})
        self._server = LoopbackServer(handler, "sentry")

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def dsn(self) -> str:
        return f"http://{self.public_key}@127.0.0.1:{self._server.port}/{self.project.id}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def token_ok(self, header: str | None) -> bool | None:
        """None: no credentials; False: wrong ones; True: the world's token."""
        if not header or not header.lower().startswith("bearer "):
            return None
        return hmac.compare_digest(header[7:].strip().encode(), self._token.encode())

    def accept_events(self, events: list[dict[str, Any]]) -> None:
        received = utcnow()
        for event in events:
            self.store.ingest(self.project.id, event, received)
        with self._lock:
            self.events_received += len(events)

    def enter_rate_window(self) -> tuple[bool, dict[str, str]]:
        """Count one API request; returns (allowed, the X-Sentry-Rate-Limit-* headers)."""
        now = time.time()
        with self._lock:
            rate = self._rate
            if now - rate.window_start >= 1.0:
                rate.window_start, rate.used = now, 0
            allowed = rate.used < rate.limit and rate.in_flight < rate.concurrent_limit
            if allowed:
                rate.used += 1
                rate.in_flight += 1
            headers = {
                "X-Sentry-Rate-Limit-Limit": str(rate.limit),
                "X-Sentry-Rate-Limit-Remaining": str(max(0, rate.limit - rate.used)),
                "X-Sentry-Rate-Limit-Reset": str(int(rate.window_start) + 1),
                "X-Sentry-Rate-Limit-ConcurrentLimit": str(rate.concurrent_limit),
                "X-Sentry-Rate-Limit-ConcurrentRemaining": str(
                    max(0, rate.concurrent_limit - rate.in_flight)
                ),
            }
        return allowed, headers

    def leave_rate_window(self) -> None:
        with self._lock:
            self._rate.in_flight -= 1


class _SentryHandler(QuietHandler):
    app: ClassVar[SentryServer]
    server_version = "sentry-drill"

    # -- ingest -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        match = _INGEST.match(url.path)
        if not match:
            self._discard_body()
            self.send_json(404, {"detail": _NOT_FOUND})
            return
        try:
            self._ingest(match.group(1), match.group(2), url.query)
        except IngestError as exc:
            self.send_json(exc.status, {"detail": exc.detail})

    def _discard_body(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY_BYTES:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _ingest(self, project_id: str, endpoint: str, query: str) -> None:
        length = self.headers.get("Content-Length")
        if not length or not length.isdigit():
            self.close_connection = True
            raise IngestError(411, "Content-Length required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise IngestError(413, "envelope exceeded size limits")
        body = self.rfile.read(int(length))
        key = public_key(self.headers.get("X-Sentry-Auth"), query)
        if key is None:
            raise IngestError(401, "missing authorization information")
        if not hmac.compare_digest(key.encode(), self.app.public_key.encode()):
            raise IngestError(401, "invalid api key")
        if project_id != self.app.project.id:
            raise IngestError(403, "project does not exist or the key does not belong to it")
        data = decode_body(body, self.headers.get("Content-Encoding"))
        if endpoint == "envelope":
            envelope = parse_envelope(data)
            events = events_in(envelope)
            event_id = envelope.headers.get("event_id")
        else:
            try:
                event = _event_object(data)
            except ValueError:
                raise IngestError(400, "event is not a JSON object") from None
            events = [event]
            event_id = event.get("event_id")
        self.app.accept_events(events)
        self.send_json(200, {"id": event_id} if event_id else {})

    # -- read API -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if not url.path.startswith("/api/0/"):
            self.send_json(404, {"detail": _NOT_FOUND})
            return
        credentials = self.app.token_ok(self.headers.get("Authorization"))
        if credentials is None:
            self.send_json(401, {"detail": "Authentication credentials were not provided."})
            return
        if not credentials:
            self.send_json(401, {"detail": "Invalid token"})
            return
        allowed, rate_headers = self.app.enter_rate_window()
        if not allowed:
            detail = "You are attempting to use this endpoint too frequently."
            self.send_json(429, {"detail": detail}, rate_headers)
            return
        try:
            self._route(url.path, url.query, rate_headers)
        except sentry_query.QueryError as exc:
            self.send_json(exc.status, {"detail": exc.detail}, rate_headers)
        finally:
            self.app.leave_rate_window()

    do_HEAD = do_GET

    def _route(self, path: str, query: str, headers: dict[str, str]) -> None:
        app = self.app
        if match := _ORG_ISSUES.match(path):
            if match.group(1) != app.org:
                raise sentry_query.QueryError(404, _NOT_FOUND)
            self._issue_list(path, query, headers, project=None)
        elif match := _PROJECT_ISSUES.match(path):
            if match.group(1) != app.org or match.group(2) not in (
                app.project.slug,
                app.project.id,
            ):
                raise sentry_query.QueryError(404, _NOT_FOUND)
            self._issue_list(path, query, headers, project=app.project.id)
        elif match := _ORG_ISSUE.match(path):
            issue = self._issue(match.group(1), match.group(2))
            body = issue_detail_json(issue, base_url=app.base_url, org=app.org, now=utcnow())
            self.send_json(200, body, headers)
        elif match := _ORG_ISSUE_EVENT.match(path):
            self._issue_event(self._issue(match.group(1), match.group(2)), match.group(3), headers)
        elif match := _LEGACY_ISSUE.match(path):
            issue = self._issue(app.org, match.group(1))
            body = issue_detail_json(issue, base_url=app.base_url, org=app.org, now=utcnow())
            self.send_json(200, body, headers)
        elif match := _LEGACY_ISSUE_EVENT.match(path):
            self._issue_event(self._issue(app.org, match.group(1)), match.group(2), headers)
        elif match := _PROJECT_EVENT.match(path):
            if match.group(1) != app.org or match.group(2) not in (
                app.project.slug,
                app.project.id,
            ):
                raise sentry_query.QueryError(404, _NOT_FOUND)
            wanted = match.group(3).replace("-", "").lower()
            found = next(
                (
                    i
                    for i in app.store.all()
                    if str(i.latest_event.get("event_id") or "").replace("-", "").lower() == wanted
                ),
                None,
            )
            if found is None:
                raise sentry_query.QueryError(404, "Event not found")
            self.send_json(200, event_json(found, event_id=wanted), headers)
        elif match := _ORG_PROJECTS.match(path):
            if match.group(1) != app.org:
                raise sentry_query.QueryError(404, _NOT_FOUND)
            self.send_json(200, [project_json(app.project)], headers)
        else:
            raise sentry_query.QueryError(404, _NOT_FOUND)

    def _issue_event(self, issue: IssueView, wanted: str, headers: dict[str, str]) -> None:
        latest_id = str(issue.latest_event.get("event_id") or "")
        if wanted not in ("latest", "recommended", "oldest", latest_id):
            # Only the latest event of each issue is kept.
            raise sentry_query.QueryError(404, "Event not found")
        self.send_json(200, event_json(issue, event_id=latest_id or None), headers)

    def _issue(self, org: str, issue_id: str) -> IssueView:
        issue = self.app.store.get(issue_id) if org == self.app.org else None
        if issue is None:
            raise sentry_query.QueryError(404, _NOT_FOUND)
        return issue

    def _issue_list(
        self, path: str, query_string: str, headers: dict[str, str], *, project: str | None
    ) -> None:
        app = self.app
        now = utcnow()
        query = sentry_query.parse(query_string, app.store.projects, now)
        if project is not None:
            query = replace(query, projects=frozenset({project}))
        matching = sentry_query.select(app.store.all(), query)
        page = matching[query.offset : query.offset + query.limit]
        body = [issue_json(i, base_url=app.base_url, org=app.org, now=now) for i in page]
        link = sentry_query.link_header(app.base_url + path, query_string, query, len(matching))
        self.send_json(
            200,
            body,
            {**headers, "Link": link, "X-Hits": str(len(matching)), "X-Max-Hits": "1000"},
        )


def _event_object(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value
