"""Blind spots: what fails (routes with 5xx, probes, alerts) with no Sentry issue that came
with the failure naming it. Also the Sentry issues as the detector follows them: new ones as
timeline events, each one's count poll by poll to tell whether it rose."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cockpit.alerts.signals import AlertSignals
from cockpit.detect.probes import ProbeView
from cockpit.detect.routes import RouteShare, route_text
from cockpit.model import ErrorSeries, Route, SentryIssue, TimelineEvent
from cockpit.sentry.rank import is_rising
from cockpit.timeutil import iso_utc, local_hms

ISSUE_SAMPLES = 200  # counts kept per Sentry issue
RISE_FACTOR, RISE_FLOOR = 2.0, 3  # an issue rose: this many times its rate, and events


class IssueHistory:
    """The Sentry issues seen so far. Each issue's event count as seen poll by poll: "rose
    since the failure began" is judged against its own rate before then when the cockpit
    watched it."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._counts: dict[str, deque[tuple[datetime, int]]] = {}

    def new_issue_events(
        self, issues: Iterable[SentryIssue], now: datetime, out: list[TimelineEvent]
    ) -> None:
        recent = now - timedelta(hours=1)
        for issue in issues:
            if issue.id in self._seen:
                continue
            self._seen.add(issue.id)
            if issue.first_seen is not None and issue.first_seen >= recent:
                out.append(
                    TimelineEvent(
                        issue.first_seen,
                        "sentry.new",
                        f"Sentry issue {issue.short_id} first seen: {issue.title}",
                        "sentry",
                        f"sentry:{issue.id}",
                    )
                )

    def count(self, issues: Iterable[SentryIssue], now: datetime) -> None:
        """Note the counts of a fresh reading (a stale one repeats old counts)."""
        for issue in issues:
            seen = self._counts.setdefault(issue.id, deque(maxlen=ISSUE_SAMPLES))
            if not seen or seen[-1][1] != issue.count:
                seen.append((now, issue.count))

    def rose_since(self, issue: SentryIssue, start: datetime) -> bool:
        """Whether an issue's events came faster since `start` than in its own history before
        it. An issue whose whole history lies after `start`'s bucket cannot be shown to have
        risen by its trend (a young issue is not a rising one)."""
        seen: deque[tuple[datetime, int]] = self._counts.get(issue.id) or deque()
        before = [(at, n) for at, n in seen if at < start]
        if before and issue.first_seen is not None and issue.first_seen < before[-1][0]:
            (t0, c0), (t1, c1) = before[-1], seen[-1]
            life, span = (t0 - issue.first_seen).total_seconds(), (t1 - t0).total_seconds()
            if span <= 0 or c1 - c0 < RISE_FLOOR:
                return False
            return (c1 - c0) / span >= RISE_FACTOR * c0 / max(life, 1.0)
        return _trend_rose(issue, start)


@dataclass(frozen=True, slots=True)
class BlindSpot:
    text: str
    routes: tuple[RouteShare, ...] = ()  # failing routes no issue names, most 5xx first
    probes: tuple[str, ...] = ()  # failing probes no issue names


def find_blind_spot(
    issues: Iterable[SentryIssue],
    history: IssueHistory,
    start: datetime,
    since: datetime,
    spiking: Iterable[ErrorSeries],
    down: Iterable[ProbeView],
    alerts: AlertSignals,
    span: str,
) -> BlindSpot | None:
    """What fails since `start` with no Sentry issue naming it. Issues first seen from `since`
    on, or risen since `start`, came with the failure; `spiking` is the latest series of each
    source in a spike; `span` the failure's start in words."""
    fresh = [
        i
        for i in issues
        if (i.first_seen is not None and i.first_seen >= since)
        or (i.last_seen is not None and i.last_seen >= start and history.rose_since(i, start))
    ]
    spiking = list(spiking)
    parts: list[str] = []
    routes: tuple[RouteShare, ...] = ()
    if spiking:
        failing, known = failing_routes(spiking, start)
        if known:
            routes = tuple(r for r in failing if not any(_names_route(i, r.route) for i in fresh))
            if routes:
                shown = ", ".join(
                    f"{route_text(r.route)} ({r.share:.0%} of 5xx)" for r in routes[:3]
                )
                more = f" and {len(routes) - 3} more" if len(routes) > 3 else ""
                parts.append(f"5xx on {shown}{more}")
        elif not fresh:
            parts.append("5xx spike (judged by timing only: the 5xx source tells no routes)")
    probes = tuple(v.name for v in down if not any(_names_probe(i, v) for i in fresh))
    if probes:
        parts.append("probes " + ", ".join(probes))
    parts += alerts.blind_parts(len(fresh))
    if not parts:
        return None
    text = (
        f"{'; '.join(parts)} since {span} with no matching Sentry issue: "
        "the failing code path may not report errors"
    )
    return BlindSpot(text + _fallback_note(fresh), routes, probes)


def _fallback_note(fresh: Iterable[SentryIssue]) -> str:
    """Issues that came with the failure but were matched without their latest event (not
    read yet, or the read failed): what they name may be missing, so say which and why."""
    missing = [i for i in fresh if i.event is None and i.event_missing]
    if not missing:
        return ""
    names = ", ".join(str(i.short_id or i.id) for i in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return f" ({names}{more} judged by culprit and title only: {missing[0].event_missing})"


def blind_spot_event(spot: BlindSpot, start: datetime, now: datetime) -> TimelineEvent:
    return TimelineEvent(now, "blind_spot", spot.text, "detect", f"blind_spot:{iso_utc(start)}")


def failing_routes(
    spiking: Iterable[ErrorSeries], start: datetime
) -> tuple[list[RouteShare], bool]:
    """The routes whose 5xx rose since `start` (against their own rate before it) over these
    series, most first, with their share of the 5xx since then; and whether any of these
    sources tells routes at all."""
    after: dict[Route, int] = {}
    before: dict[Route, int] = {}
    spans = [0.0, 0.0]  # seconds of data before and since start
    known = False
    total = 0
    for series in spiking:
        known = known or series.routes_known
        step = timedelta(seconds=series.bucket_seconds)
        for bucket in series.buckets:
            since = bucket.start + step > start
            spans[since] += series.bucket_seconds
            counts = after if since else before
            total += bucket.errors_5xx if since else 0
            for r in bucket.routes_5xx:
                counts[r.route] = counts.get(r.route, 0) + r.count
    rose = [
        (route, n)
        for route, n in after.items()
        if n >= RISE_FLOOR
        and n / max(spans[1], 1.0) >= RISE_FACTOR * before.get(route, 0) / max(spans[0], 1.0)
    ]
    rose.sort(key=lambda kv: -kv[1])
    return [RouteShare(route, n, n / total if total else 0.0) for route, n in rose], known


def blind_spot_summary(
    start: datetime, now: datetime, ended_spikes: Iterable[tuple[datetime, datetime]]
) -> TimelineEvent:
    """When the failure is over: what Sentry never saw, as a closed range."""
    spans = list(ended_spikes)
    if spans:
        first, last = min(a for a, _ in spans), max(b for _, b in spans)
        what = f"5xx spike {local_hms(first)}-{local_hms(last)}"
    else:
        what = f"probe failures {local_hms(start)}-{local_hms(now)}"
    return TimelineEvent(
        now,
        "blind_spot",
        f"{what} with no matching Sentry issue",
        "detect",
        f"blind_spot:{iso_utc(start)}:closed",
    )


def _trend_rose(issue: SentryIssue, start: datetime) -> bool:
    """From the issue's trend alone: its buckets from the one holding `start` on, against the
    buckets before, which must hold some of its history (else nothing shows it rose)."""
    trend, step, first = issue.trend, issue.trend_seconds, issue.trend_from
    if step <= 0 or first is None:
        # No bucket times: the trend's latest part against the rest, for an issue known
        # from before that part only.
        recent = max(1, len(trend) // 12)
        older_than = issue.last_seen or start
        span = timedelta(hours=24) * recent / max(1, len(trend))
        young = issue.first_seen is None or issue.first_seen >= older_than - span
        return not young and is_rising(trend, RISE_FACTOR, RISE_FLOOR)
    index = int((start - first).total_seconds() // step)
    if index <= 0 or index >= len(trend):
        return False
    before, after = trend[:index], trend[index:]
    if issue.first_seen is None or issue.first_seen >= first + timedelta(seconds=step * index):
        return False  # all of its history lies after the start's bucket began
    rate_before = sum(before) / len(before)
    return sum(after) >= RISE_FLOOR and sum(after) / len(after) >= RISE_FACTOR * rate_before


_PATH_IN_TEXT = re.compile(r"(?:^|[\s'\"(=])(/[^\s'\"()?#]*)")
_PLACEHOLDER = re.compile(r"^(?:\{[^}]*\}|<[^>]*>|:\w+|\*)$")


def _paths_in(texts: Iterable[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        found.extend(m.group(1).rstrip("/") for m in _PATH_IN_TEXT.finditer(text))
    return [p for p in found if p]


def _paths_named(issue: SentryIssue, method: str = "") -> list[str]:
    """Request paths an issue names: its culprit (the transaction, e.g. "/files/{id}" or
    "GET /files/{id}"), its title and metadata; and its latest event's request URL,
    transaction and URL tags, unless that event was a request of another method than
    `method` (a failing GET is not explained by an issue of POSTs to the same path)."""
    found = _paths_in((str(issue.culprit), str(issue.title), str(issue.metadata)))
    event = issue.event
    if event is not None and not (method and event.method and event.method != method.upper()):
        urls = [str(u) for u in (event.url, *event.tag_urls) if u]
        found += _paths_in(urlsplit(u).path if "://" in u else u for u in urls)
        found += _paths_in([str(event.transaction)])
    return found


def _event_words(issue: SentryIssue) -> str:
    event = issue.event
    return f" {event.transaction} {event.url}" if event is not None else ""


def _same_path(named: str, path: str) -> bool:
    """`/files` names `/files/{id}`; segments that are placeholders match any segment."""
    a, b = named.strip("/").split("/"), path.rstrip("/").strip("/").split("/")
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return all(
        x == y or _PLACEHOLDER.match(x) or _PLACEHOLDER.match(y)
        for x, y in zip(short, long, strict=False)
    )


def _names_route(issue: SentryIssue, route: Route) -> bool:
    path = str(route.path)
    return bool(path) and any(
        _same_path(p, path) for p in _paths_named(issue, str(route.method or ""))
    )


def _names_probe(issue: SentryIssue, probe: ProbeView) -> bool:
    """An issue names a probe by its name, its protocol (ftp, sftp, webdav: not http, which
    every URL says) or the path it requests."""
    text = f"{issue.culprit} {issue.title} {issue.metadata}{_event_words(issue)}".lower()
    words = set(re.findall(r"[a-z0-9_.-]+", text))
    if str(probe.name).lower() in words:
        return True
    kind = str(probe.kind).lower()
    if kind not in ("http", "https", "tcp", "tls") and kind in words:
        return True
    path = urlsplit(str(probe.target)).path.rstrip("/")
    return bool(path) and any(_same_path(p, path) for p in _paths_named(issue))
