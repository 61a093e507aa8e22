"""The JSON shapes of Sentry's API (issue list items, issue detail, events), from IssueViews.

Field names, types and required keys follow Sentry's published OpenAPI document: `count` is a
string, `userCount` an integer, times are ISO-8601 UTC, stack frames use camelCase keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cockpit.world.sentry.issues import IssueView, Project, exception_values, frames_of

# Issues are routed to the service's on-call team by an ownership rule.
TEAM_ID = "1"

_PRIORITY = {"fatal": "high", "error": "high", "warning": "medium"}
_NEW_FOR = timedelta(days=7)


def sentry_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def team_name(project: Project) -> str:
    return f"{project.slug}-oncall"


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "slug": project.slug,
        "platform": project.platform,
    }


def permalink(base_url: str, org: str, issue_id: str) -> str:
    return f"{base_url}/organizations/{org}/issues/{issue_id}/"


def _stats_24h(view: IssueView, now: datetime) -> list[list[int]]:
    """24 hourly buckets ending with the current hour: [[epoch seconds, events], ...]."""
    this_hour = int(now.timestamp()) // 3600 * 3600
    counts = dict(view.hourly)
    hours = range(this_hour - 23 * 3600, this_hour + 1, 3600)
    return [[hour, counts.get(hour, 0)] for hour in hours]


def issue_json(view: IssueView, *, base_url: str, org: str, now: datetime) -> dict[str, Any]:
    first_seen = sentry_time(view.first_seen)
    last_seen = sentry_time(view.last_seen)
    count = str(view.count)
    return {
        "id": view.id,
        "shareId": hashlib.sha256(f"share:{org}:{view.id}".encode()).hexdigest()[:32],
        "shortId": view.short_id,
        "title": view.title,
        "culprit": view.culprit,
        "permalink": permalink(base_url, org, view.id),
        "logger": view.logger,
        "level": view.level,
        "status": "unresolved",
        "statusDetails": {},
        "substatus": "new" if now - view.first_seen < _NEW_FOR else "ongoing",
        "isPublic": False,
        "platform": view.project.platform,
        "priority": _PRIORITY.get(view.level, "low"),
        "priorityLockedAt": None,
        "seerFixabilityScore": None,
        "seerAutofixLastTriggered": None,
        "project": project_json(view.project),
        "type": view.type,
        "issueType": "error",
        "issueCategory": "error",
        "metadata": view.metadata,
        "numComments": 0,
        "assignedTo": {"type": "team", "id": TEAM_ID, "name": team_name(view.project)},
        "isBookmarked": False,
        "isSubscribed": False,
        "subscriptionDetails": None,
        "hasSeen": False,
        "annotations": [],
        "isUnhandled": view.unhandled,
        "count": count,
        "userCount": view.user_count,
        "firstSeen": first_seen,
        "lastSeen": last_seen,
        "stats": {"24h": _stats_24h(view, now)},
        "lifetime": {
            "count": count,
            "userCount": view.user_count,
            "firstSeen": first_seen,
            "lastSeen": last_seen,
            "stats": None,
        },
        "filtered": None,
        "sessionCount": 0,
        "inbox": {"reason": 0, "reason_details": None, "date_added": first_seen},
        "owners": {
            "type": "ownershipRule",
            "owner": f"team:{TEAM_ID}",
            "date_added": first_seen,
        },
        "pluginActions": [],
        "pluginIssues": [],
        "integrationIssues": [],
        "sentryAppIssues": [],
        "latestEventHasAttachments": False,
    }


def issue_detail_json(view: IssueView, *, base_url: str, org: str, now: datetime) -> dict[str, Any]:
    detail = issue_json(view, base_url=base_url, org=org, now=now)
    detail.update(
        {
            "activity": [],
            "participants": [],
            "seenBy": [],
            "pluginContexts": [],
            "tags": [],
            "userReportCount": 0,
            "firstRelease": {"version": view.first_release} if view.first_release else None,
            "lastRelease": {"version": view.last_release} if view.last_release else None,
        }
    )
    return detail


# ---------------------------------------------------------------------------------------------
# Events


def _frame_json(frame: dict[str, Any]) -> dict[str, Any]:
    line = frame.get("lineno")
    context: list[list[Any]] = []
    if isinstance(line, int):
        pre = [s for s in frame.get("pre_context") or [] if isinstance(s, str)]
        post = [s for s in frame.get("post_context") or [] if isinstance(s, str)]
        current = frame.get("context_line")
        lines = [*pre, current if isinstance(current, str) else "", *post]
        start = line - len(pre)
        context = [[start + i, text] for i, text in enumerate(lines)]
    return {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": frame.get("package"),
        "platform": frame.get("platform"),
        "instructionAddr": None,
        "symbolAddr": None,
        "function": frame.get("function"),
        "rawFunction": None,
        "symbol": None,
        "context": context,
        "lineNo": line if isinstance(line, int) else None,
        "colNo": frame.get("colno") if isinstance(frame.get("colno"), int) else None,
        "inApp": bool(frame.get("in_app")),
        "trust": None,
        "errors": None,
        "vars": frame.get("vars") if isinstance(frame.get("vars"), dict) else None,
    }


def _exception_entry(event: dict[str, Any]) -> dict[str, Any] | None:
    values = []
    any_system = False
    for value in exception_values(event):
        frames = [_frame_json(f) for f in frames_of(value)]
        has_system = any(not f["inApp"] for f in frames)
        any_system = any_system or has_system
        mechanism = value.get("mechanism")
        values.append(
            {
                "type": value.get("type"),
                "value": value.get("value"),
                "module": value.get("module"),
                "mechanism": mechanism if isinstance(mechanism, dict) else None,
                "threadId": None,
                "stacktrace": {
                    "frames": frames,
                    "framesOmitted": None,
                    "registers": None,
                    "hasSystemFrames": has_system,
                }
                if frames
                else None,
                "rawStacktrace": None,
            }
        )
    if not values:
        return None
    return {
        "type": "exception",
        "data": {"values": values, "excOmitted": None, "hasSystemFrames": any_system},
    }


def _breadcrumbs_entry(event: dict[str, Any]) -> dict[str, Any] | None:
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if not isinstance(values, list) or not values:
        return None
    out = []
    for crumb in values:
        if isinstance(crumb, dict):
            out.append(
                {
                    "type": crumb.get("type", "default"),
                    "category": crumb.get("category"),
                    "level": crumb.get("level", "info"),
                    "message": crumb.get("message"),
                    "timestamp": crumb.get("timestamp"),
                    "data": crumb.get("data"),
                    "event_id": None,
                }
            )
    return {"type": "breadcrumbs", "data": {"values": out}}


def _request_entry(event: dict[str, Any]) -> dict[str, Any] | None:
    """The SDK's `request` as the API's request entry: query and headers as pairs."""
    request = event.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        return None
    query = request.get("query_string")
    if isinstance(query, dict):
        pairs = [[str(k), str(v)] for k, v in query.items()]
    else:
        pairs = [[k, v] for k, v in parse_qsl(query if isinstance(query, str) else "")]
    headers = request.get("headers")
    method = request.get("method")
    return {
        "type": "request",
        "data": {
            "fragment": None,
            "cookies": [],
            "inferredContentType": None,
            "env": request.get("env") if isinstance(request.get("env"), dict) else None,
            "headers": [[str(k), str(v)] for k, v in headers.items()]
            if isinstance(headers, dict)
            else [],
            "url": request["url"],
            "query": pairs,
            "data": None,
            "method": method if isinstance(method, str) else None,
        },
    }


def _url_tag(event: dict[str, Any]) -> str | None:
    """Sentry tags an event with its request's URL, without query string or fragment."""
    request = event.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _tags(event: dict[str, Any], view: IssueView) -> list[dict[str, str]]:
    tags: dict[str, str] = {}
    raw = event.get("tags")
    pairs = raw.items() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    for pair in pairs:
        if isinstance(pair, tuple | list) and len(pair) == 2:
            tags[str(pair[0])] = str(pair[1])
    tags.setdefault("level", view.level)
    if isinstance(event.get("environment"), str):
        tags.setdefault("environment", event["environment"])
    if isinstance(event.get("release"), str):
        tags.setdefault("release", event["release"])
    if isinstance(event.get("transaction"), str):
        tags.setdefault("transaction", event["transaction"])
    url = _url_tag(event)
    if url:
        tags.setdefault("url", url)
    if view.type == "error":
        tags.setdefault("handled", "no" if view.unhandled else "yes")
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def _user(event: dict[str, Any]) -> dict[str, Any] | None:
    user = event.get("user")
    if not isinstance(user, dict):
        return None

    def text(key: str) -> str | None:
        value = user.get(key)
        return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None

    return {
        "id": text("id"),
        "email": text("email"),
        "username": text("username"),
        "ip_address": text("ip_address"),
        "name": text("name"),
        "geo": None,
        "data": None,
    }


def event_json(view: IssueView, *, event_id: str | None = None) -> dict[str, Any]:
    """The issue's latest event as Sentry's event endpoints return it."""
    event = view.latest_event
    eid = event_id or str(event.get("event_id") or "")
    entries = [
        entry
        for entry in (_exception_entry(event), _breadcrumbs_entry(event), _request_entry(event))
        if entry is not None
    ]
    message = ""
    if view.type == "default":
        message = view.metadata.get("title", "")
        entries.insert(0, {"type": "message", "data": {"formatted": message}})
    sdk = event.get("sdk")
    sdk_json = (
        {k: v for k, v in sdk.items() if k in ("name", "version") and isinstance(v, str)}
        if isinstance(sdk, dict)
        else {}
    )
    contexts = event.get("contexts")
    extra = event.get("extra")
    modules = event.get("modules")
    release = event.get("release")
    dist = event.get("dist")
    return {
        "id": eid,
        "eventID": eid,
        "groupID": view.id,
        "projectID": view.project.id,
        "message": message,
        "title": view.title,
        "location": view.metadata.get("filename") or None,
        "culprit": view.culprit,
        "user": _user(event),
        "tags": _tags(event, view),
        "platform": event.get("platform") if isinstance(event.get("platform"), str) else "python",
        "dateReceived": sentry_time(view.latest_received),
        "dateCreated": sentry_time(view.last_seen),
        "contexts": contexts if isinstance(contexts, dict) else {},
        "context": extra if isinstance(extra, dict) else {},
        "size": len(json.dumps(event, default=str)),
        "entries": entries,
        "dist": dist if isinstance(dist, str) else None,
        "sdk": sdk_json,
        "packages": modules if isinstance(modules, dict) else {},
        "type": view.type,
        "metadata": view.metadata,
        "errors": [],
        "occurrence": None,
        "_meta": {},
        "crashFile": None,
        "fingerprints": [hashlib.md5(view.id.encode(), usedforsecurity=False).hexdigest()],
        "groupingConfig": {"id": "newstyle:2023-01-11", "enhancements": ""},
        "release": {"version": release} if isinstance(release, str) else None,
        "userReport": None,
        "sdkUpdates": [],
        "resolvedWith": [],
        "nextEventID": None,
        "previousEventID": None,
    }
