"""Detector: thresholds, suspect deploy, spikes, blind spots, concurrency-only, recovery."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cockpit.config import parse
from cockpit.config.sections import DetectSettings
from cockpit.detect.detector import Detector
from cockpit.detect.probes import ProbeState
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Deploy,
    Deploys,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    ProbeResult,
    Reading,
    SentryIssue,
    SentryIssues,
    SourceStatus,
)
from cockpit.sentry.rank import is_rising

T0 = datetime(2024, 8, 2, 13, 50, tzinfo=UTC)
CONFIG = parse(
    """
[[probes]]
name = "session"
kind = "http"
url = "http://127.0.0.1:1/session"
[[probes]]
name = "session-x4"
kind = "http"
url = "http://127.0.0.1:1/session"
concurrency = 4
""",
    None,
    env={},
)
GOOD = Deploy("files-web", "v1", "bob", T0 - timedelta(hours=2), "ok change", "log")
BAD = Deploy("files-web", "v2", "alice", T0 + timedelta(minutes=2), "pooled sessions", "log")
OLD_ISSUE = SentryIssue("1", "FILES-1", "ValueError: report", "error", 5, 1, T0, T0)


class World:
    """Builds snapshots minute by minute."""

    def __init__(self, settings: DetectSettings | None = None) -> None:
        self.version = 0
        self.detector = Detector(CONFIG, settings or DetectSettings(blind_spot_grace=90))

    def snap(self, minute: int, readings: dict[str, Reading]) -> Snapshot:
        self.version += 1
        at = T0 + timedelta(minutes=minute)
        cats = {
            ProbeResult: Category.PROBE,
            Deploys: Category.DEPLOYS,
            ErrorSeries: Category.ERRORS,
            SentryIssues: Category.SENTRY,
        }
        statuses = {
            name: SourceStatus(name, "k", cats[type(r)], Freshness.FRESH, updated_at=at)
            for name, r in readings.items()
        }
        return Snapshot(at, self.version, statuses, readings)

    def observe(self, minute: int, **readings: Reading):
        return self.detector.observe(self.snap(minute, dict(readings)))


def probe(name: str, minute: int, ok: bool, n: int = 1, sessions: int | None = None) -> ProbeResult:
    at = T0 + timedelta(minutes=minute)
    good = n if ok else (sessions if sessions is not None else 0)
    return ProbeResult(
        name,
        "http",
        "http://127.0.0.1:1/session",
        n,
        good,
        ok,
        12.0,
        "" if ok else f"{n - good}/{n} sessions failed: HTTP 503",
        at,
    )


def readings(minute: int, ok4: bool, issues=(OLD_ISSUE,), deploys=(BAD, GOOD)) -> dict:
    return {
        "session": probe("session", minute, True),
        "session-x4": probe("session-x4", minute, ok4, n=4, sessions=1),
        "deploy-log": Deploys("deploy-log", tuple(deploys)),
        "sentry": SentryIssues("sentry", tuple(issues)),
    }


def test_files_com_sequence() -> None:
    w = World()
    a = w.observe(0, **readings(0, True))
    kinds = [e.kind for e in a.events]
    assert kinds.count("deploy") == 2 and "sentry.new" in kinds
    assert not a.degraded and all(p.state is ProbeState.UP for p in a.probes)

    a = w.observe(3, **readings(3, False))  # first failure: below the threshold of 2
    assert not a.degraded and not a.events
    a = w.observe(4, **readings(4, False))
    assert a.degraded
    down = {e.kind: e for e in a.events}
    assert down["probe.down"].at == T0 + timedelta(minutes=3)  # the first failing result's time
    assert "1/4 sessions" in down["probe.down"].text
    assert a.suspect == BAD
    assert "deployed" in down["suspect"].text and "first failure" in down["suspect"].text
    assert "concurrency" in down
    assert next(p for p in a.probes if p.name == "session-x4").only_under_concurrency
    assert a.blind_spot is None  # Sentry gets a grace period

    a = w.observe(5, **readings(5, False))
    assert a.blind_spot is not None and "no matching Sentry issue" in a.blind_spot
    assert [e.kind for e in a.events] == ["blind_spot"]

    a = w.observe(6, **readings(6, False))
    assert not a.events  # nothing repeats

    a = w.observe(9, **readings(9, True))
    kinds = [e.kind for e in a.events]
    assert kinds == ["probe.up", "blind_spot", "recovered"]
    closed = next(e for e in a.events if e.kind == "blind_spot")
    assert closed.text.startswith("probe failures ") and "no matching Sentry issue" in closed.text
    assert not a.degraded and a.blind_spot is None


def test_a_sentry_issue_after_the_deploy_is_no_blind_spot() -> None:
    w = World()
    new = SentryIssue(
        "2",
        "FILES-2",
        "SessionError",
        "error",
        40,
        9,
        T0 + timedelta(minutes=3),
        T0 + timedelta(minutes=5),
        culprit="/session",  # the transaction that fails
    )
    for minute in range(6):
        a = w.observe(minute, **readings(minute, minute < 3, issues=(OLD_ISSUE, new)))
    assert a.degraded and a.blind_spot is None


def test_an_older_issue_spiking_since_the_failure_is_no_blind_spot() -> None:
    w = World()
    spiking = replace(
        OLD_ISSUE,
        id="3",
        short_id="FILES-3",
        first_seen=T0 - timedelta(days=3),
        last_seen=T0 + timedelta(minutes=5),
        trend=(1, 0, 1, 1, 0, 1, 9, 14),
        culprit="GET /session",
    )
    quiet = replace(spiking, id="4", short_id="FILES-4", trend=(1, 0, 1, 1, 0, 1, 1, 0))
    assert is_rising(spiking.trend) and not is_rising(quiet.trend)
    for minute in range(6):
        # Watched: a handful of events over three days, then ten a minute since the failure.
        now = replace(spiking, count=5 + 10 * max(0, minute - 2))
        a = w.observe(minute, **readings(minute, minute < 3, issues=(now,)))
    assert a.degraded and a.blind_spot is None

    # Opened after the failure began: its hourly trend, against its own history before.
    w = World()
    for minute in range(3, 6):
        a = w.observe(minute, **readings(minute, False, issues=(spiking,)))
    assert a.degraded and a.blind_spot is None

    w = World()
    for minute in range(6):
        a = w.observe(minute, **readings(minute, minute < 3, issues=(quiet,)))
    assert a.blind_spot is not None


def test_spike_opens_peaks_and_closes() -> None:
    w = World()

    def series(minute: int, errors: list[int]) -> ErrorSeries:
        start = T0 + timedelta(minutes=minute) - timedelta(seconds=10 * len(errors))
        buckets = tuple(
            ErrorBucket(start + timedelta(seconds=10 * i), 100, e) for i, e in enumerate(errors)
        )
        return ErrorSeries("edge", 10, buckets)

    quiet = [0] * 10
    a = w.observe(0, edge=series(0, quiet))
    assert not a.spikes
    a = w.observe(1, edge=series(1, [*quiet, 20, 30, 0]))
    assert [e.kind for e in a.events] == ["spike.start"] and a.degraded
    a = w.observe(2, edge=series(2, [*quiet, 20, 30, 60, 0]))
    assert a.spikes[0].peak_ratio == 0.45
    a = w.observe(3, edge=series(3, [*quiet, 20, 30, 60, 0, 0, 0]))
    events = {e.kind: e for e in a.events}
    assert sorted(events) == ["recovered", "spike.end", "spike.peak"]
    assert "peak 45%" in events["spike.end"].text
    assert events["spike.peak"].at == a.events[0].at and "45%" in events["spike.peak"].text


def test_deploy_inside_the_first_spike_bucket_is_the_suspect() -> None:
    w = World()
    start = T0 + timedelta(minutes=10)
    inside = Deploy("files-web", "v3", "carol", start + timedelta(seconds=4), "bad", "log")
    buckets = tuple(
        ErrorBucket(start + timedelta(seconds=10 * (i - 10)), 100, 0) for i in range(10)
    )
    hot = (
        ErrorBucket(start, 100, 30),
        ErrorBucket(start + timedelta(seconds=10), 100, 40),
        ErrorBucket(start + timedelta(seconds=20), 10, 4),
    )
    a = w.observe(
        11,
        edge=ErrorSeries("edge", 10, buckets + hot),
        log=Deploys("log", (inside, GOOD)),
    )
    assert a.spikes and a.spikes[0].start == start
    assert a.suspect == inside


def test_a_long_spike_stays_open_while_errors_last() -> None:
    w = World()
    start = T0 + timedelta(minutes=20)

    def series(hot_buckets: int, tail: list[int]) -> ErrorSeries:
        errors = [0] * 20 + [40] * hot_buckets + tail + [0]
        buckets = tuple(
            ErrorBucket(start + timedelta(seconds=10 * i), 100, e) for i, e in enumerate(errors)
        )
        return ErrorSeries("edge", 10, buckets)

    w.observe(0, edge=series(0, []))
    a = w.observe(1, edge=series(2, []))
    assert [e.kind for e in a.events] == ["spike.start"]
    # The spike's own buckets become "older" history; they must not raise the bar.
    for n in range(3, 40, 5):
        a = w.observe(1 + n, edge=series(n, []))
        assert a.spikes and not a.events, n
    a = w.observe(50, edge=series(40, [1, 0]))
    assert sorted(e.kind for e in a.events) == ["recovered", "spike.end", "spike.peak"]


def test_the_usual_trickle_of_errors_before_a_spike_is_not_its_start() -> None:
    w = World()
    start = T0 + timedelta(minutes=30)
    quiet = [ErrorBucket(start + timedelta(seconds=10 * i), 100, 0) for i in range(10)]
    trickle = ErrorBucket(start + timedelta(seconds=100), 8, 1)  # one stray 500, thin traffic
    hot = ErrorBucket(start + timedelta(seconds=110), 100, 40)
    filling = ErrorBucket(start + timedelta(seconds=120), 3, 1)
    deploy = Deploy("files-web", "v9", "dave", hot.start + timedelta(seconds=2), "bad", "log")
    a = w.observe(
        33,
        edge=ErrorSeries("edge", 10, (*quiet, trickle, hot, filling)),
        log=Deploys("log", (deploy, GOOD)),
    )
    assert a.spikes[0].start == hot.start
    assert a.suspect == deploy


def test_a_deploy_reported_by_two_sources_is_listed_once() -> None:
    w = World()
    from_releases = replace(BAD, source="releases", who="", summary="")
    a = w.observe(
        3, log=Deploys("log", (BAD, GOOD)), releases=Deploys("releases", (from_releases,))
    )
    assert a.deploys == (BAD, GOOD)
    assert [e.kind for e in a.events].count("deploy") == 2


def test_a_rate_limited_sentry_is_no_proof_of_silence() -> None:
    w = World()
    limited = SentryIssues(
        "sentry", (OLD_ISSUE,), rate_limited=True, rate_limited_until=T0 + timedelta(hours=1)
    )
    for minute in range(6):
        a = w.observe(minute, **{**readings(minute, minute < 3), "sentry": limited})
    assert a.degraded and a.blind_spot is None


def test_a_deploy_long_before_the_failure_is_not_the_suspect() -> None:
    # GOOD went out two hours before the failure: listed in the deploys, not blamed for it.
    w = World()
    w.observe(0, **readings(0, True, deploys=(GOOD,)))
    w.observe(3, **readings(3, False, deploys=(GOOD,)))
    a = w.observe(4, **readings(4, False, deploys=(GOOD,)))
    assert a.degraded and a.suspect is None
    assert "suspect" not in [e.kind for e in a.events]

    wide = World(DetectSettings(suspect_minutes=180))
    wide.observe(0, **readings(0, True, deploys=(GOOD,)))
    wide.observe(3, **readings(3, False, deploys=(GOOD,)))
    assert wide.observe(4, **readings(4, False, deploys=(GOOD,))).suspect == GOOD
