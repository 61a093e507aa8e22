"""Judgement from history: what the sources read back at start is judged as if the cockpit had
watched all along (true start, baseline from before, the change just before), and twins are
twins by endpoint whatever the account."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.config import parse
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Detector
from cockpit.detect.probes import concurrency_twins
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Deploy,
    Deploys,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    IssueEvent,
    ProbeResult,
    Reading,
    Route,
    RouteErrors,
    SentryIssue,
    SentryIssues,
    SourceStatus,
)
from cockpit.timeutil import local_hms

OPEN = datetime(2024, 8, 2, 14, 30, tzinfo=UTC)  # when the cockpit starts
BUCKET = 5
WINDOW = 600  # what the world's access log reads back: 10 minutes
CONFIG = parse(
    """
[[probes]]
name = "ftp-login"
kind = "ftp"
host = "127.0.0.1"
port = 2121
user = "monitor-ftp"
[[probes]]
name = "ftp-login-x4"
kind = "ftp"
host = "127.0.0.1"
port = 2121
user = "monitor-ftp-x4"
concurrency = 4
""",
    None,
    env={},
)
_CATEGORY = {
    ProbeResult: Category.PROBE,
    Deploys: Category.DEPLOYS,
    ErrorSeries: Category.ERRORS,
    SentryIssues: Category.SENTRY,
}


def snapshot(at: datetime, readings: dict[str, Reading], version: int = 1) -> Snapshot:
    statuses = {
        name: SourceStatus(name, "k", _CATEGORY[type(r)], Freshness.FRESH, updated_at=at)
        for name, r in readings.items()
    }
    return Snapshot(at, version, statuses, readings)


def history(
    now: datetime,
    spike_from: datetime | None,
    *,
    window: int = WINDOW,
    spike_ratio: float = 0.4,
    quiet_errors: int = 0,
    spike_until: datetime | None = None,
) -> ErrorSeries:
    """A recorded access log, bucketed as the source does: 20 requests per bucket, the last
    bucket (holding now) still filling."""
    newest = now - timedelta(seconds=now.timestamp() % BUCKET)
    count = window // BUCKET
    buckets = []
    for i in range(count):
        start = newest - timedelta(seconds=BUCKET * (count - 1 - i))
        hot = spike_from is not None and start >= spike_from
        hot = hot and (spike_until is None or start < spike_until)
        errors = round(20 * spike_ratio) if hot else quiet_errors if i % 6 == 0 else 0
        buckets.append(ErrorBucket(start, 20 if start < newest else 3, errors))
    return ErrorSeries("edge", BUCKET, tuple(buckets))


def deploy(version: str, at: datetime, service: str = "files-web") -> Deploy:
    return Deploy(service, version, "alice", at, f"change {version}", "log")


def open_on(series: ErrorSeries, deploys: tuple[Deploy, ...] = ()):
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    readings: dict[str, Reading] = {"edge": series}
    if deploys:
        readings["log"] = Deploys("log", deploys)
    return detector, detector.observe(snapshot(OPEN, readings))


@pytest.mark.parametrize("minutes", [5, 9])
def test_a_spike_under_way_at_start_is_dated_by_its_first_bucket(minutes: int) -> None:
    began = OPEN - timedelta(minutes=minutes)
    before = deploy("v41", began - timedelta(seconds=40))
    during = deploy("v42", began + timedelta(minutes=2))  # made while it already failed
    older = deploy("v40", began - timedelta(hours=3))
    _, a = open_on(history(OPEN, began, quiet_errors=1), (during, before, older))
    assert a.degraded and a.found_on_open
    (spike,) = a.spikes
    assert spike.start == began and spike.start_known
    assert spike.baseline < 0.02  # from the buckets before it, not from the spike itself
    assert a.suspect == before
    assert a.first_failure_at == began
    start = next(e for e in a.events if e.kind == "spike.start")
    assert start.at == began and "(found on open)" in start.text
    assert f"since {local_hms(began)}" in start.text
    suspect = next(e for e in a.events if e.kind == "suspect")
    assert "v41" in suspect.text and "found on open" in suspect.text


@pytest.mark.parametrize("minutes", [10, 15])
def test_a_spike_older_than_the_read_back_says_it_began_before_the_data(minutes: int) -> None:
    began = OPEN - timedelta(minutes=minutes)
    before = deploy("v41", began - timedelta(seconds=40))
    during = deploy("v42", OPEN - timedelta(minutes=4))
    detector, a = open_on(history(OPEN, began), (during, before))
    assert a.degraded and a.found_on_open
    (spike,) = a.spikes
    first_bucket = history(OPEN, began).buckets[0].start
    assert spike.start == first_bucket and not spike.start_known
    assert not a.first_failure_known
    assert a.suspect == before  # never the deploy made during the spike
    start = next(e for e in a.events if e.kind == "spike.start")
    assert f"since before {local_hms(first_bucket)}" in start.text
    assert "no baseline in view" in start.text
    assert detector.failure_span() == f"before {local_hms(first_bucket)}"


def test_a_spike_read_back_and_judged_later_keeps_its_start() -> None:
    began = OPEN - timedelta(minutes=5)
    detector, _ = open_on(history(OPEN, began))
    later = OPEN + timedelta(seconds=30)
    b = detector.observe(snapshot(later, {"edge": history(later, began)}, 2))
    assert b.spikes[0].start == began and not b.events


def test_a_spike_over_before_start_is_history_not_an_incident() -> None:
    began = OPEN - timedelta(minutes=8)
    series = history(OPEN, began, spike_until=began + timedelta(minutes=2))
    _, a = open_on(series)
    assert not a.degraded and not a.spikes
    kinds = [e.kind for e in a.events]
    assert kinds == ["spike.start", "spike.peak", "spike.end"]
    assert a.events[0].at == began
    assert "recovered" not in kinds


def test_a_second_regression_after_a_first_is_caught_like_the_first() -> None:
    # The first spike's buckets must not make the second one's bar: 30% after a 40% spike
    # that is over is a new spike, not "base 25%".
    first = OPEN - timedelta(minutes=8)
    second = OPEN - timedelta(minutes=1)
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    seen = []
    at = first - timedelta(minutes=1)
    version = 0
    while at <= OPEN:
        version += 1
        full = history(at, first, spike_until=first + timedelta(minutes=4), quiet_errors=1)
        buckets = [
            ErrorBucket(b.start, b.requests, 6 if b.start >= second else b.errors_5xx)
            for b in full.buckets
        ]
        series = ErrorSeries("edge", BUCKET, tuple(buckets))
        a = detector.observe(snapshot(at, {"edge": series}, version))
        seen.extend(a.events)
        at += timedelta(seconds=10)
    starts = [e.at for e in seen if e.kind == "spike.start"]
    assert starts == [first, second]
    assert a.degraded and a.spikes[0].baseline < 0.02


def test_a_deploy_inside_the_first_bucket_bounds_the_start() -> None:
    began = OPEN - timedelta(minutes=3)
    inside = deploy("v43", began + timedelta(seconds=2))
    detector, a = open_on(history(OPEN, began), (inside,))
    assert a.suspect == inside
    # Never before the change that caused it; where the data cannot tell, a range.
    assert a.first_failure_at == inside.at
    assert a.first_failure_by == began + timedelta(seconds=BUCKET)
    span = detector.failure_span()
    assert span == f"between {local_hms(inside.at)} and {local_hms(a.first_failure_by)}"
    suspect = next(e for e in a.events if e.kind == "suspect")
    assert span in suspect.text


def ftp(name: str, user: str, at: datetime, ok: bool, n: int = 1) -> ProbeResult:
    good = n if ok else 1
    error = "" if ok else f"{n - good}/{n} sessions failed: 421 too many sessions"
    return ProbeResult(name, "ftp", f"ftp://{user}@127.0.0.1:2121", n, good, ok, 9.0, error, at)


def test_twins_by_endpoint_whatever_the_account() -> None:
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    for i in range(3):
        at = OPEN + timedelta(seconds=2 * i)
        a = detector.observe(
            snapshot(
                at,
                {
                    "ftp-login": ftp("ftp-login", "monitor-ftp", at, True),
                    "ftp-login-x4": ftp("ftp-login-x4", "monitor-ftp-x4", at, i == 0, 4),
                },
                i + 1,
            )
        )
    x4 = next(p for p in a.probes if p.name == "ftp-login-x4")
    assert x4.only_under_concurrency
    assert any(e.kind == "concurrency" for e in a.events)
    one_round = [
        ftp("ftp-login", "monitor-ftp", OPEN, True),
        ftp("ftp-login-x4", "monitor-ftp-x4", OPEN, False, 4),
    ]
    assert concurrency_twins(one_round) == {"ftp-login-x4": "ftp-login"}
    other_port = ProbeResult(
        "ftp-b", "ftp", "ftp://monitor-ftp@127.0.0.1:2122", 1, 1, True, 9.0, "", OPEN
    )
    assert concurrency_twins([other_port, one_round[1]]) == {}


def test_a_probe_failing_at_the_first_round_is_found_on_open() -> None:
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    before = deploy("v41", OPEN - timedelta(minutes=6))
    for i in range(2):
        at = OPEN + timedelta(seconds=2 * i)
        a = detector.observe(
            snapshot(
                at,
                {
                    "ftp-login": ftp("ftp-login", "monitor-ftp", at, True),
                    "ftp-login-x4": ftp("ftp-login-x4", "monitor-ftp-x4", at, False, 4),
                    "log": Deploys("log", (before,)),
                },
                i + 1,
            )
        )
    assert a.degraded and a.found_on_open and a.suspect == before
    down = next(e for e in a.events if e.kind == "probe.down")
    assert down.at == OPEN and "found on open" in down.text


SESSION = Route("GET", "/session")
REPORT = Route("GET", "/report")
FILES = Route("GET", "/files/{id}")


def by_route(began: datetime, *, routes: bool = True) -> ErrorSeries:
    """The demo's shape: /report fails now and then all along (the unrelated bug Sentry
    knows), then /session fails with 503 from `began` (nothing reports it), some /files too."""
    newest = OPEN - timedelta(seconds=OPEN.timestamp() % BUCKET)
    count = WINDOW // BUCKET
    buckets = []
    for i in range(count):
        start = newest - timedelta(seconds=BUCKET * (count - 1 - i))
        failing = [RouteErrors(REPORT, 500, 1)] if i % 4 == 0 else []
        if start >= began:
            failing = [RouteErrors(SESSION, 503, 9), RouteErrors(FILES, 502, 1), *failing]
        errors = sum(r.count for r in failing)
        buckets.append(
            ErrorBucket(
                start, 40 if start < newest else 3, errors, tuple(failing) if routes else ()
            )
        )
    return ErrorSeries("edge", BUCKET, tuple(buckets), routes_known=routes)


BEGAN = OPEN - timedelta(minutes=4)
BAD = deploy("v42", BEGAN - timedelta(seconds=30))
HOUR = 3600
TREND_FROM = OPEN.replace(minute=0, second=0) - timedelta(hours=23)
# Young: first seen a minute before the bad deploy, every event of its life since.
YOUNG = SentryIssue(
    "1",
    "FILES-1",
    "ValueError: end before start",
    "error",
    90,
    3,
    BAD.at - timedelta(minutes=1),
    OPEN,
    culprit="/report",
    trend=(0,) * 23 + (90,),
    trend_from=TREND_FROM,
    trend_seconds=HOUR,
)
# Busy and old: steady for days, nothing to do with the failure.
BUSY = SentryIssue(
    "2",
    "FILES-2",
    "TimeoutError: thumbnailer",
    "error",
    9000,
    400,
    OPEN - timedelta(days=9),
    OPEN,
    culprit="thumbs.render in resize",
    trend=(30,) * 24,
    trend_from=TREND_FROM,
    trend_seconds=HOUR,
)
# Names the failing route and is new since the failure began.
MATCHING = SentryIssue(
    "3",
    "FILES-3",
    "SessionConflict: handle reused",
    "error",
    40,
    9,
    BEGAN + timedelta(seconds=20),
    OPEN,
    culprit="GET /session",
)


def judged(series: ErrorSeries, *issues: SentryIssue):
    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    readings: dict[str, Reading] = {
        "edge": series,
        "log": Deploys("log", (BAD,)),
        "sentry": SentryIssues("sentry", issues),
    }
    return detector.observe(snapshot(OPEN, readings))


def test_an_unrelated_young_or_busy_issue_does_not_cancel_the_blind_spot() -> None:
    a = judged(by_route(BEGAN), YOUNG, BUSY)
    assert a.degraded and a.suspect == BAD and a.blind_spot is not None
    assert [r.route for r in a.blind_routes] == [SESSION, FILES]
    assert a.blind_routes[0].share == pytest.approx(0.9, abs=0.05)
    assert "GET /session (" in a.blind_spot and "% of 5xx)" in a.blind_spot
    assert "/report" not in a.blind_spot  # Sentry knows that one


def test_an_issue_naming_the_failing_route_covers_it() -> None:
    a = judged(by_route(BEGAN), YOUNG, MATCHING)
    assert a.blind_spot is not None
    assert [r.route for r in a.blind_routes] == [FILES]  # /session is reported, /files not
    files_issue = SentryIssue(
        "4",
        "FILES-4",
        "BadGateway",
        "error",
        8,
        2,
        BEGAN + timedelta(seconds=30),
        OPEN,
        culprit="/files",
    )
    assert judged(by_route(BEGAN), YOUNG, MATCHING, files_issue).blind_spot is None


def test_a_busy_issue_that_rose_since_the_failure_covers_what_it_names() -> None:
    rising = SentryIssue(
        "5",
        "FILES-5",
        "SessionConflict",
        "error",
        9000,
        400,
        OPEN - timedelta(days=9),
        OPEN,
        culprit="/session",
        trend=(3,) * 23 + (80,),
        trend_from=TREND_FROM,
        trend_seconds=HOUR,
    )
    a = judged(by_route(BEGAN), rising)
    assert [r.route for r in a.blind_routes] == [FILES]


def test_without_route_information_the_blind_spot_is_judged_by_timing_and_says_so() -> None:
    a = judged(by_route(BEGAN, routes=False), YOUNG, BUSY)
    assert a.blind_spot is not None and "judged by timing only" in a.blind_spot
    assert a.blind_routes == ()
    # By timing, an issue new since the failure explains it, whatever it names.
    assert judged(by_route(BEGAN, routes=False), YOUNG, MATCHING).blind_spot is None


def test_a_failure_without_a_spike_stays_out_of_the_baseline() -> None:
    # 10 min normal (one stray 5xx in 120 requests), then 20 min where ftp-login-x4 fails and
    # the proxy's 5xx sit at 5%, under the bar; it recovers, and 2 min later a regression
    # at 10%: caught against the normal baseline, not against the broken half hour.
    start = OPEN - timedelta(minutes=40)
    broken_from, broken_until = start + timedelta(minutes=10), start + timedelta(minutes=30)
    regression = broken_until + timedelta(minutes=2)

    def errors(bucket: datetime, index: int) -> int:
        if bucket >= regression:
            return 2
        if broken_from <= bucket < broken_until:
            return 1
        return 1 if index % 6 == 0 else 0

    detector = Detector(CONFIG, DetectSettings(blind_spot_grace=0))
    seen = []
    at, version = start, 0
    while at <= regression + timedelta(minutes=1):
        version += 1
        newest = at - timedelta(seconds=at.timestamp() % BUCKET)
        count = WINDOW // BUCKET
        buckets = []
        for i in range(count):
            b = newest - timedelta(seconds=BUCKET * (count - 1 - i))
            n = int(b.timestamp()) // BUCKET
            buckets.append(ErrorBucket(b, 20 if b < newest else 3, errors(b, n)))
        broken = broken_from <= at < broken_until
        readings: dict[str, Reading] = {
            "edge": ErrorSeries("edge", BUCKET, tuple(buckets)),
            "ftp-login": ftp("ftp-login", "monitor-ftp", at, True),
            "ftp-login-x4": ftp("ftp-login-x4", "monitor-ftp-x4", at, not broken, 4),
        }
        a = detector.observe(snapshot(at, readings, version))
        seen.extend(a.events)
        at += timedelta(seconds=10)
    assert [e.kind for e in seen].count("recovered") == 1
    assert [e.at for e in seen if e.kind == "spike.start"] == [regression]
    assert a.degraded and a.spikes[0].baseline < 0.02


async def test_the_blind_spot_names_the_route_read_from_the_log(tmp_path: Path) -> None:
    """End to end with the detector: the demo's failure written as nginx writes it."""
    from cockpit.config.errors import AccessLogConfig
    from cockpit.sources.logs.access_log import AccessLogTail
    from cockpit.world.accesslog import combined_line

    lines = []
    for second in range(-590, 0):
        when = OPEN + timedelta(seconds=second)
        failing = when >= BEGAN
        for path, status in (
            (f"/files/{second + 1000}", 200),
            ("/session?token=abc" if failing else "/session", 503 if failing else 200),
            ("/report", 500 if second % 20 == 0 else 200),
        ):
            lines.append(
                combined_line(
                    remote_addr="203.0.113.9",
                    when=when,
                    request_line=f"GET {path} HTTP/1.1",
                    status=status,
                    body_bytes=10,
                    user_agent="curl/8.5.0",
                )
            )
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    cfg = AccessLogConfig(name="edge", path=log, bucket_seconds=5, window=600, read_back=600)
    source = AccessLogTail(cfg, clock=lambda: OPEN)
    try:
        series = await source.poll()
    finally:
        await source.aclose()
    assert series.routes_known and series.unparsed_lines == 0
    a = judged(series, YOUNG, BUSY)
    assert a.blind_spot is not None and [r.route for r in a.blind_routes] == [SESSION]
    assert "GET /session (" in a.blind_spot


# What an issue's latest event names (request URL, method, transaction, url tags) counts as
# much as its culprit and title: a culprit that names a module and function only.
QUIET_CULPRIT = {
    "short_id": "FILES-7",
    "title": "SessionConflict: handle reused",
    "culprit": "files.sessions in acquire",
}


def named_by_event(event: IssueEvent | None, missing: str = "") -> SentryIssue:
    return SentryIssue(
        "7",
        QUIET_CULPRIT["short_id"],
        QUIET_CULPRIT["title"],
        "error",
        40,
        9,
        BEGAN + timedelta(seconds=20),
        OPEN,
        culprit=QUIET_CULPRIT["culprit"],
        event=event,
        event_missing=missing,
    )


def test_an_issue_naming_the_route_only_by_its_request_covers_it() -> None:
    assert [r.route for r in judged(by_route(BEGAN), named_by_event(None)).blind_routes] == [
        SESSION,
        FILES,
    ]
    by_url = IssueEvent("e1", url="https://files.example/session?user=alice", method="GET")
    assert [r.route for r in judged(by_route(BEGAN), named_by_event(by_url)).blind_routes] == [
        FILES
    ]
    # The tags alone: `transaction` or `url` as the event's tags say them.
    for event in (
        IssueEvent("e2", transaction="GET /session"),
        IssueEvent("e3", tag_urls=("https://files.example/session",)),
        IssueEvent("e4", url="/session", method="GET"),
    ):
        a = judged(by_route(BEGAN), YOUNG, BUSY, named_by_event(event))
        assert [r.route for r in a.blind_routes] == [FILES], event
    # Requests of another method to the same path do not explain the failing GETs.
    post = IssueEvent("e5", url="https://files.example/session", method="POST")
    assert [r.route for r in judged(by_route(BEGAN), named_by_event(post)).blind_routes] == [
        SESSION,
        FILES,
    ]


def test_unrelated_issues_do_not_cover_a_route_their_events_name() -> None:
    # The young issue's requests went to /report; the busy old one's to /session, but it did
    # not rise since the failure began: neither cancels the blind spot on /session.
    young = replace(YOUNG, event=IssueEvent("y", url="https://files.example/report"))
    busy = replace(BUSY, event=IssueEvent("b", url="https://files.example/session"))
    a = judged(by_route(BEGAN), young, busy)
    assert [r.route for r in a.blind_routes] == [SESSION, FILES]


def test_an_issue_without_its_latest_event_is_matched_as_before_and_says_so() -> None:
    issue = named_by_event(None, "latest event not read: HTTP 500 from sentry.example")
    a = judged(by_route(BEGAN), YOUNG, issue)
    assert [r.route for r in a.blind_routes] == [SESSION, FILES]
    assert a.blind_spot is not None and a.blind_spot.endswith(
        "(FILES-7 judged by culprit and title only: "
        "latest event not read: HTTP 500 from sentry.example)"
    )
    # Unrelated issues without their events change nothing and are not named.
    quiet = judged(by_route(BEGAN), replace(YOUNG, event_missing="latest event not read yet"))
    assert quiet.blind_spot is not None and "judged by culprit" not in quiet.blind_spot
