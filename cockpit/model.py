"""Plain immutable data that flows from sources through the hub to the screen and the store.

Every datetime here is timezone-aware UTC; conversion to local time happens only on display.
Text from outside is made Inert (cockpit.term.textsafe) when an object is made, whichever source
made it: what the screen, `check`, the store and the exports read from these objects is already
inert and holds no secret. The exceptions are identities that must stay exact: a deploy's
service, version and reverted version (a revert passes them on as they were deployed), issue
ids, event keys, and an alert's labels and a silence's matchers (a silence matches them
exactly)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The states live in cockpit.states so that the screen can open without this module; they are
# the model's vocabulary too, so they are re-exported here.
from cockpit.states import SEVERITIES as SEVERITIES
from cockpit.states import Category as Category
from cockpit.states import Freshness as Freshness
from cockpit.states import IncidentStatus as IncidentStatus
from cockpit.term.textsafe import Inert, escaped_key, shared_inert


def _inert(obj: object, *names: str) -> None:
    for name in names:
        object.__setattr__(obj, name, shared_inert(getattr(obj, name)))


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    kind: str
    category: Category
    freshness: Freshness
    updated_at: datetime | None = None  # end of the last successful poll
    stale_since: datetime | None = None  # first failed poll of the current failure run
    reason: str = ""  # why it is stale
    failures: int = 0  # consecutive failed polls

    def __post_init__(self) -> None:
        _inert(self, "name", "kind", "reason")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    name: str
    kind: str
    target: str
    concurrency: int
    sessions_ok: int
    ok: bool
    latency_ms: float | None
    error: str
    at: datetime
    detail: str = ""  # what a passing check also learnt, e.g. "certificate valid 41 more days"

    def __post_init__(self) -> None:
        _inert(self, "name", "kind", "target", "error", "detail")


@dataclass(frozen=True, slots=True)
class ProbeResults:
    """Many probes from one source (e.g. blackbox_exporter results read from Prometheus, one per
    target and location). Each result's `name` is unique and shown like a probe of its own."""

    source: str
    results: tuple[ProbeResult, ...]


# A deploy record whose service, version or reverted version is longer than this is not a
# deploy record: sources refuse it (they never cut one).
MAX_IDENTITY = 4096


@dataclass(frozen=True, slots=True)
class Deploy:
    service: str
    version: str
    who: str
    at: datetime
    summary: str
    source: str = ""
    reverts: str | None = None  # the version this deploy rolled back, if it is a rollback

    def __post_init__(self) -> None:
        # service, version and reverts stay exactly as recorded: shown Inert, refused for a
        # revert when they could not be passed on as they are.
        _inert(self, "who", "summary", "source")


@dataclass(frozen=True, slots=True)
class Deploys:
    """One deploy source's view: newest first."""

    source: str
    deploys: tuple[Deploy, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """Anything that changed what runs: a deploy, a package upgrade, a config commit, a
    maintenance run, a feature flag. `kind` says which ("deploy", "package", "config",
    "maintenance", or what a command's record says); `host` which host it happened on ("" when
    it is not tied to one). subject, old, new and id stay exact (a revert passes them on as
    they are, or refuses them); the rest is made Inert."""

    kind: str
    host: str
    what: str  # one line: "systemd 252.5-2 -> 252.6-1"
    at: datetime
    by: str  # who or what made it: a user, "unattended-upgrades", a commit's author
    source: str
    service: str = ""
    subject: str = ""  # package, flag or script name; a deploy's version
    old: str = ""  # the version or value before ("" when it was new)
    new: str = ""  # the version or value after ("" when it was removed)
    id: str = ""  # a commit sha, a run id
    paths: tuple[str, ...] = ()  # files it touched
    detail: str = ""
    deploy: Deploy | None = None  # the deploy itself, for kind "deploy"
    reverts: str = ""  # exact: the id of the change this one undoes (a revert commit)
    reverted_by: str = ""  # what undid it since: "bfdaa72 Revert ... at 13:42:44Z"

    def __post_init__(self) -> None:
        _inert(self, "kind", "what", "by", "source", "detail", "reverted_by")
        object.__setattr__(self, "paths", tuple(Inert(p) for p in self.paths))


@dataclass(frozen=True, slots=True)
class Changes:
    """One change source's view: newest first."""

    source: str
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request went, as far as the log or the metric labels tell: the method and the
    path with ids and the query left out (`/files/{id}`), the virtual host and the upstream.
    An empty field is one the source does not record."""

    method: str = ""
    path: str = ""
    host: str = ""
    upstream: str = ""

    def __post_init__(self) -> None:
        # Every field comes from a client's request line or a proxy's log: outside text.
        _inert(self, "method", "path", "host", "upstream")


@dataclass(frozen=True, slots=True)
class RouteErrors:
    """One route's 5xx in one bucket, by exact status (502, 503, ...)."""

    route: Route
    status: int
    count: int


@dataclass(frozen=True, slots=True)
class ErrorBucket:
    start: datetime
    requests: int
    errors_5xx: int
    # The 5xx of this bucket broken down by route, most first; empty when there were none or
    # when the source cannot tell routes (then ErrorSeries.routes_known is False).
    routes_5xx: tuple[RouteErrors, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorSeries:
    """Request and 5xx counts in fixed time buckets, oldest first."""

    source: str
    bucket_seconds: int
    buckets: tuple[ErrorBucket, ...]
    unparsed_lines: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    # Whether the buckets' routes_5xx say where the 5xx went; False for a format or a metric
    # without method/path, where blind spots can only be judged by timing.
    routes_known: bool = False
    # What the source has not read yet, in words ("read back 40.0 of 310.0 MiB ..."): the
    # counts are partial until it is empty.
    behind: str = ""
    # One line it could not read (cut short) and why, for `check --json`; "" when none.
    unparsed_example: str = ""
    unparsed_why: str = ""

    def __post_init__(self) -> None:
        _inert(self, "unparsed_example")

    @property
    def requests(self) -> int:
        return sum(b.requests for b in self.buckets)

    @property
    def errors_5xx(self) -> int:
        return sum(b.errors_5xx for b in self.buckets)

    @property
    def ratio(self) -> float:
        total = self.requests
        return self.errors_5xx / total if total else 0.0


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """Where an issue's latest event happened, as Sentry's event endpoint tells it: the request
    (entries[type="request"].data) and the tags that name a route. What the blind spot matches
    failing routes and probes against, beside the issue's culprit and title."""

    event_id: str = ""
    url: str = ""  # request.url, else the `url` tag
    method: str = ""  # request.method, else the `http.method` tag; upper case
    transaction: str = ""  # the `transaction` tag (or the event's own field)
    tag_urls: tuple[str, ...] = ()  # other tags holding a path or URL (`url`, `http.url`...)

    def __post_init__(self) -> None:
        _inert(self, "event_id", "url", "method", "transaction")
        object.__setattr__(self, "tag_urls", tuple(Inert(u) for u in self.tag_urls))


@dataclass(frozen=True, slots=True)
class SentryIssue:
    id: str
    short_id: str
    title: str
    level: str
    count: int
    user_count: int
    first_seen: datetime | None
    last_seen: datetime | None
    permalink: str = ""
    culprit: str = ""
    # Events per interval over the stats period, oldest first ("rising" is read from it).
    trend: tuple[int, ...] = ()
    project: str = ""
    # When the trend's first bucket began and how long each is (0: not known), so that "rose
    # since the failure began" can be judged against the issue's own history before it.
    trend_from: datetime | None = None
    trend_seconds: int = 0
    # What the issue's metadata names (exception type and value, file, function), one line.
    metadata: str = ""
    # Its latest event's request and tags, when the source read them (issues active lately).
    event: IssueEvent | None = None
    # Why an active issue's latest event is not here ("" when read, or not wanted): matching
    # falls back to culprit, title and metadata, and the blind spot says so.
    event_missing: str = ""

    def __post_init__(self) -> None:
        _inert(
            self,
            "short_id",
            "title",
            "level",
            "permalink",
            "culprit",
            "project",
            "metadata",
            "event_missing",
        )


@dataclass(frozen=True, slots=True)
class SentryIssues:
    source: str
    issues: tuple[SentryIssue, ...]
    pages: int = 1
    rate_limited: bool = False
    rate_limited_until: datetime | None = None  # when the server said it may be asked again
    matched: int | None = None  # issues matched across every page read (X-Hits when given)


Labels = tuple[tuple[str, str], ...]  # (name, value), sorted by name


def _labels(raw: Labels) -> Labels:
    # Label names and values identify an alert exactly: a silence matches them as they are, so
    # they are kept exact like a deploy's version, and shown through `identity`.
    return tuple(sorted((str(k), str(v)) for k, v in raw))


@dataclass(frozen=True, slots=True)
class Matcher:
    """One Alertmanager matcher: name = value, != , =~ (anchored regex) or !~."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    # name and value stay exact (they are sent back to Alertmanager): shown through `identity`.

    @property
    def op(self) -> str:
        return ("=" if self.is_equal else "!") + ("~" if self.is_regex else "")

    def __str__(self) -> str:
        op = {"=": "=", "!": "!=", "=~": "=~", "!~": "!~"}[self.op]
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{op}"{value}"'


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as Alertmanager holds it. `state` is Alertmanager's: active (firing and
    notified), suppressed (silenced or inhibited) or unprocessed."""

    fingerprint: str
    labels: Labels
    annotations: Labels
    starts_at: datetime
    ends_at: datetime | None
    state: str = "active"
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    updated_at: datetime | None = None
    generator_url: str = ""
    source: str = ""  # the [[alerts]] source that read it

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", escaped_key(self.fingerprint))
        object.__setattr__(self, "labels", _labels(self.labels))
        object.__setattr__(
            self, "annotations", tuple((escaped_key(k), Inert(v)) for k, v in self.annotations)
        )
        object.__setattr__(self, "silenced_by", tuple(escaped_key(s) for s in self.silenced_by))
        object.__setattr__(self, "inhibited_by", tuple(escaped_key(s) for s in self.inhibited_by))
        _inert(self, "state", "generator_url")

    def label(self, name: str) -> str:
        return next((v for k, v in self.labels if k == name), "")

    def annotation(self, name: str) -> Inert:
        return Inert(next((v for k, v in self.annotations if k == name), ""))

    @property
    def alertname(self) -> str:
        return self.label("alertname")

    @property
    def severity(self) -> str:
        return self.label("severity")

    @property
    def suppressed(self) -> bool:
        return self.state == "suppressed" or bool(self.silenced_by or self.inhibited_by)


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str = "active"  # active, pending or expired

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", escaped_key(self.id))
        _inert(self, "created_by", "comment", "state")


@dataclass(frozen=True, slots=True)
class Alerts:
    """What the Alertmanagers of one cluster hold for the configured matchers: alerts
    deduplicated by fingerprint, silences by id. `unreachable` names the members that did not
    answer this round (with why) while others did."""

    source: str
    alerts: tuple[Alert, ...]
    silences: tuple[Silence, ...] = ()
    members: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()
    # (member, since when it has not answered) for each member in `unreachable`.
    stale: tuple[tuple[str, datetime], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "unreachable", tuple(Inert(u) for u in self.unreachable))
        object.__setattr__(self, "members", tuple(Inert(u) for u in self.members))
        object.__setattr__(self, "stale", tuple((Inert(m), at) for m, at in self.stale))

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if not a.suppressed)


Reading = ProbeResult | ProbeResults | Deploys | Changes | ErrorSeries | SentryIssues | Alerts


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    kind: str  # e.g. "probe.down", "deploy", "declared", "revert.started"
    text: str
    source: str = ""
    # Stable identity of an observation, so two cockpits on one host record it once.
    key: str = ""

    def __post_init__(self) -> None:
        _inert(self, "kind", "text", "source")
        object.__setattr__(self, "key", escaped_key(self.key))


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    title: str
    severity: str
    commander: str
    status: IncidentStatus
    declared_at: datetime
    impact_started_at: datetime | None = None
    summary: str = ""
    drill: bool = False
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        _inert(self, "title", "severity", "commander", "summary")
