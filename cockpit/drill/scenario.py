"""Drill scenarios as data: one TOML file each, built in or the user's own.

    name = "files-com-2024"
    title = "..."
    description = "..."
    world = "files-com"                  # the drill world's service shape
    protocols = ["http"]
    traffic = true
    speed = 60                           # scenario seconds per real second
    start = "2024-08-02T06:45:00-07:00"  # the scenario clock at the start of the drill
    end = "08:00"                        # the drill stops here unless ended before
    open_at = "07:07"                    # optional: the cockpit starts only then, mid-incident

    [[schedule]]                         # what the world does, on the scenario clock
    at = "06:52"
    fault = "bad_deploy"

    [reference]                          # the real incident, on the same clock
    impact_start = "06:52"
    declared = "07:35"
    ...

    [best]                               # minutes after the impact start that were possible
    mitigated = 2

    [cause]                              # the change that really caused it, as a change source
    kind = "package"                     # names it; every key given must match
    subjects = ["systemd"]               # any of these subjects (package, flag, script, ...)
    hosts = ["node-2", "node-4"]         # on any of these hosts
    source = "node-2-apt"                # from this change source (or sources = [...])
    paths = ["files-web/http-headers.conf"]  # touching one of these paths
    what = "the systemd upgrade ..."     # the cause in words, for the report
Only a change made during the drill can be its cause: the history the world starts with is
not.

Clock values are "HH:MM" or "HH:MM:SS" on the start's day, or "+Nd HH:MM" N days later, in
the start's UTC offset (the incident's own local time). Files are read with the config loader,
so a mistake is reported as "file:line: key: message".
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.config.base import APP_NAME, ConfigError, FieldError
from cockpit.config.loader import Loader
from cockpit.timeutil import parse_iso

BUILTIN_DIR = Path(__file__).with_name("scenarios")
SCENARIOS_ENV = "COCKPIT_SCENARIOS"
DEFAULT_SPEED = 60.0
MAX_SPEED = 100_000.0

# What the drill world can be told to do (its FAULTS; a test keeps the two in step). The world
# decides how; the drill decides when.
FAULTS: dict[str, str] = {
    "bad_deploy": "ship the scenario's bad release (every second simultaneous session fails)",
    "db_reinstall": "the metadata database is reinstalled under the service: requests fail",
    "failover": "fail over: most traffic returns; 1 in 20 desktop, 1 in 5 mobile keep failing",
    "slow_dependency": "every metadata read takes seconds, then succeeds",
    "restore": "the database is healthy and fast again (a bad release stays until reverted)",
    "deploy": "ship a routine release that breaks nothing (an innocent latest deploy)",
    "package_upgrade": "unattended-upgrades installs the security update on half the nodes; "
    "their network goes",
    "config_change": "commit the scenario's bad change to the config repository",
    "permission_change": "change the feature database's grants (harmless by itself)",
    "bad_feature_file": "the feature generator's next file is too big: the proxy fails",
    "maintenance_dry_run": "the maintenance script's dry run (logged, changes nothing)",
}
# Faults that leave a change on record but break nothing: the impact starts with the first
# fault that is not one of them.
QUIET_FAULTS = frozenset({"deploy", "permission_change", "maintenance_dry_run"})

# The milestones a response is scored on, in order.
MILESTONES = ("detected", "declared", "mitigated", "resolved")

_CLOCK = re.compile(r"^(?:\+(\d{1,2})d\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_clock(key: str | tuple[str | int, ...], value: str) -> None:
    match = _CLOCK.match(value.strip())
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise FieldError(
            key, f'expected a time such as "06:52", "06:52:30" or "+1d 15:00"; got "{value}"'
        )
    if match.group(4) is not None and int(match.group(4)) > 59:
        raise FieldError(key, f'seconds out of range in "{value}"')


def clock_at(start: datetime, value: str) -> datetime:
    """The moment a clock value names, on the day of `start` (plus its +Nd) in start's offset."""
    match = _CLOCK.match(value.strip())
    if match is None:
        raise ValueError(f"not a scenario time: {value!r}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# -- the file's tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    name: str
    title: str
    start: str
    end: str
    description: str = ""
    world: str = "files-com"
    protocols: tuple[str, ...] = ("http",)
    traffic: bool = True
    speed: float = DEFAULT_SPEED
    open_at: str = ""
    alertmanager: bool = False

    def check(self) -> None:
        if not _NAME.match(self.name):
            raise FieldError("name", "lowercase letters, digits and dashes, e.g. files-com-2024")
        if not self.title.strip():
            raise FieldError("title", "must not be empty")
        if not 0 < self.speed <= MAX_SPEED:
            raise FieldError(
                "speed", f"scenario seconds per real second, above 0, at most {MAX_SPEED:g}"
            )
        try:
            start = parse_iso(self.start)
        except ValueError:
            raise FieldError(
                "start", 'expected a date and time such as "2024-08-02T06:45:00-07:00"'
            ) from None
        if "T" not in self.start or not re.search(r"(Z|[+-]\d\d:\d\d)$", self.start.strip()):
            raise FieldError("start", "give the incident's UTC offset, e.g. -07:00, or Z")
        del start
        _check_clock("end", self.end)
        if self.open_at:
            _check_clock("open_at", self.open_at)
        if not self.protocols:
            raise FieldError("protocols", 'name at least one protocol, e.g. ["http"]')


@dataclass(frozen=True)
class _Step:
    at: str
    fault: str
    note: str = ""

    def check(self) -> None:
        _check_clock("at", self.at)
        if self.fault not in FAULTS:
            raise FieldError("fault", f"unknown fault; one of: {', '.join(FAULTS)}")


@dataclass(frozen=True)
class _Reference:
    impact_start: str
    detected: str | None = None
    declared: str | None = None
    mitigated: str | None = None
    resolved: str | None = None
    source: str = ""  # where these timings come from
    notes: str = ""

    def check(self) -> None:
        for name in ("impact_start", *MILESTONES):
            value = getattr(self, name)
            if value is not None:
                _check_clock(name, value)


@dataclass(frozen=True)
class _Best:
    detected: float | None = None
    declared: float | None = None
    mitigated: float | None = None
    resolved: float | None = None
    source: str = ""

    def check(self) -> None:
        for name in MILESTONES:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FieldError(name, "minutes after the impact start, 0 or more")


@dataclass(frozen=True)
class _Cause:
    what: str
    kind: str = ""
    subjects: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    source: str = ""
    paths: tuple[str, ...] = ()

    def check(self) -> None:
        if not self.what.strip():
            raise FieldError("what", "say what the cause was, for the report")


@dataclass(frozen=True)
class Cause:
    """The change that really caused the incident, as a change source would name it."""

    what: str
    kind: str = ""
    subjects: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def matches(
        self,
        *,
        kind: str,
        subject: str,
        host: str,
        source: str,
        paths: tuple[str, ...] = (),
    ) -> bool:
        return (
            (not self.kind or kind == self.kind)
            and (not self.subjects or subject in self.subjects)
            and (not self.hosts or host in self.hosts)
            and (not self.sources or source in self.sources)
            and (not self.paths or any(p in self.paths for p in paths))
        )


# -- the loaded scenario ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledFault:
    at: datetime  # scenario clock
    fault: str
    note: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    world: str
    protocols: tuple[str, ...]
    traffic: bool
    speed: float
    start: datetime  # scenario clock, in the incident's own offset
    end: datetime
    schedule: tuple[ScheduledFault, ...]  # in time order
    # The real incident, on the scenario clock: "impact_start" and each of MILESTONES known.
    reference: dict[str, datetime] = field(default_factory=dict)
    reference_source: str = ""
    reference_notes: str = ""
    best: dict[str, float] = field(default_factory=dict)  # minutes after the impact start
    best_source: str = ""
    path: Path | None = None
    # The cockpit starts at this scenario time (None: with the drill): opened in the middle
    # of the incident, it judges what its sources read back, and detection counts from then.
    open_at: datetime | None = None
    cause: Cause | None = None  # the change that really caused it, when one did
    # The world runs a real Alertmanager that its 5xx rule pages: the drill shows the page.
    alertmanager: bool = False

    def real_minutes(self, milestone: str) -> float | None:
        """Minutes from the real incident's impact start to a milestone, if known."""
        start, at = self.reference.get("impact_start"), self.reference.get(milestone)
        if start is None or at is None:
            return None
        return (at - start).total_seconds() / 60

    def clock(self, value: str) -> datetime:
        return clock_at(self.start, value)


_TABLES = {"schedule", "reference", "best", "cause"}


def parse_scenario(text: str, path: Path | None = None) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, "", f"TOML syntax error: {exc}") from None
    loader = Loader(path, text, {})
    head: _Head = loader.section(_Head, {k: v for k, v in data.items() if k not in _TABLES}, ())
    if "kind" in data:  # the config loader drops "kind" silently; a scenario has none
        raise loader.error(("kind",), "unknown key")
    raw_steps = data.get("schedule", [])
    if not isinstance(raw_steps, list):
        raise loader.error(("schedule",), "expected [[schedule]] entries")
    steps: list[_Step] = [
        loader.section(_Step, raw, ("schedule", i)) for i, raw in enumerate(raw_steps)
    ]
    if "reference" not in data:
        raise loader.error(("reference",), "missing [reference]: the real incident's timings")
    reference: _Reference = loader.section(_Reference, data["reference"], ("reference",))
    best: _Best = loader.section(_Best, data.get("best", {}), ("best",))
    cause = None
    if "cause" in data:
        table = data["cause"]
        if not isinstance(table, dict):
            raise loader.error(("cause",), "expected a [cause] table")
        # The loader keeps "kind" for itself (it picks a section's class): read it here.
        kind = table.get("kind", "")
        if not isinstance(kind, str):
            raise loader.error(("cause", "kind"), 'expected a string, e.g. "package"')
        raw: _Cause = loader.section(_Cause, {**table, "kind": ""}, ("cause",))
        if not (kind or raw.subjects or raw.sources or raw.source or raw.paths):
            raise loader.error(("cause",), "name the cause by its kind, subjects or source")
        cause = Cause(
            what=raw.what,
            kind=kind,
            subjects=raw.subjects,
            hosts=raw.hosts,
            sources=(*raw.sources, *([raw.source] if raw.source else [])),
            paths=raw.paths,
        )

    start = parse_iso(head.start)
    end = clock_at(start, head.end)
    if end <= start:
        raise loader.error(("end",), "must be after the start")
    schedule = []
    for i, step in enumerate(steps):
        at = clock_at(start, step.at)
        if not start <= at < end:
            raise loader.error(("schedule", i, "at"), "must be between start and end")
        schedule.append(ScheduledFault(at, step.fault, step.note))
    if not schedule:
        raise loader.error(("schedule",), "a drill needs at least one [[schedule]] entry")
    open_at = clock_at(start, head.open_at) if head.open_at else None
    if open_at is not None and not start <= open_at < end:
        raise loader.error(("open_at",), "must be between start and end")
    if path is not None and path.stem != head.name:
        raise loader.error(("name",), f"must match the file name ({path.stem})")
    timings = {
        name: clock_at(start, value)
        for name in ("impact_start", *MILESTONES)
        if (value := getattr(reference, name)) is not None
    }
    previous = timings["impact_start"]
    for name in MILESTONES:
        if name in timings:
            if timings[name] < previous:
                raise loader.error(("reference", name), "earlier than the milestone before it")
            previous = timings[name]
    return Scenario(
        name=head.name,
        title=head.title,
        description=head.description,
        world=head.world,
        protocols=head.protocols,
        traffic=head.traffic,
        speed=head.speed,
        start=start,
        end=end,
        schedule=tuple(sorted(schedule, key=lambda s: s.at)),
        reference=timings,
        reference_source=reference.source,
        reference_notes=reference.notes,
        best={n: v for n in MILESTONES if (v := getattr(best, n)) is not None},
        best_source=best.source,
        path=path,
        open_at=open_at,
        cause=cause,
        alertmanager=head.alertmanager,
    )


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "", f"cannot read scenario: {exc}") from None
    return parse_scenario(text, path)


# -- finding scenarios ------------------------------------------------------------------------


def user_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get(SCENARIOS_ENV):
        return Path(env[SCENARIOS_ENV]).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "scenarios"


def scenario_files(env: dict[str, str] | None = None) -> dict[str, Path]:
    """Scenario name -> file; the user's own file of a name replaces the built-in one."""
    found = {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.toml"))}
    own = user_dir(env)
    if own.is_dir():
        found.update({p.stem: p for p in sorted(own.glob("*.toml"))})
    return dict(sorted(found.items()))


def find_scenario(name: str, env: dict[str, str] | None = None) -> Scenario:
    files = scenario_files(env)
    if name not in files:
        known = ", ".join(files) or "(none)"
        raise LookupError(f"no scenario {name!r} (known: {known})")
    return load_scenario(files[name])


def is_builtin(path: Path | None) -> bool:
    return path is not None and path.parent == BUILTIN_DIR
