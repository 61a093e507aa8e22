"""Which changes may have caused the failure, best first, each with why.

A change is a candidate when it came within `window` before the failure began (or inside the
bucket that showed it); a rollback or a change made after the failure began is not. Among the
candidates, relation to what fails counts more than closeness in time, so the latest deploy
can rank below a package upgrade on the failing hosts or a config commit whose file the errors
name:

    related to what fails                             points
    a path it touched named in the errors              3
    its package named in the errors                    3
    on a host whose probes fail                        1   (+2 when other hosts pass: the
                                                            failure follows the hosts;
                                                            alone, as bare as a service)
    on a host whose probes all pass                   -1
    its host named in the errors                       1
    a path it touched has a word of what fails         2.5 (upload ~ /api/upload, the
                                                            `upload` probe)
    its message has a word of what fails               1.5
    of a failing service                               1   (every deploy of a one-service
                                                            cockpit has it: it says little)
    closeness in time                                  0..1 (1 = at the failure's start,
                                                            1/2 two minutes before)

Closeness falls off sharply: a change seconds before the failure beats one minutes before,
all else equal. A bare "same service" plus the best closeness stays below a path relation.
Every point comes with its reason in words; the panel shows them. Nobody is blamed: the best
MAX_SUSPECTS candidates are listed, in order, and how many more there were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cockpit.model import Change
from cockpit.timeutil import duration

PATH_POINTS = 3.0
PACKAGE_POINTS = 3.0
HOST_POINTS = 1.0
HOST_ONLY_POINTS = 2.0
HEALTHY_HOST_POINTS = -1.0
HOST_NAMED_POINTS = 1.0
SERVICE_POINTS = 1.0
ROUTE_PATH_POINTS = 2.5
ROUTE_WORD_POINTS = 1.5
MIN_NAME = 3  # shorter package or file names match too much text to mean anything
MAX_SUSPECTS = 5
# Closeness halves at this many seconds before the failure began.
CLOSE_SECONDS = 120.0
# Words of routes and probes that every service has: they relate nothing.
COMMON_WORDS = frozenset(
    {"http", "https", "health", "healthz", "status", "index", "html", "json", "static"}
    | {"check", "probe", "localhost", "ping", "ready", "live"}
)


@dataclass(frozen=True, slots=True)
class Suspect:
    change: Change
    score: float
    why: tuple[str, ...]  # the first says when it came; then its relations, strongest first

    @property
    def told(self) -> tuple[str, ...]:
        """The reasons in the order they are told: relations first, then when."""
        return (*self.why[1:], *self.why[:1])

    @property
    def reasons(self) -> str:
        """In words, relations first (what a narrow panel must not cut), then when."""
        return "; ".join(self.told)


@dataclass(frozen=True, slots=True)
class FailureClues:
    """What fails, as the signals say it: when it began, which services, which probes (name,
    target) fail and which pass, and the texts of the errors (probe errors, Sentry issue
    titles, culprits and metadata, alert summaries)."""

    start: datetime
    bound: datetime  # the latest moment it can have begun
    services: frozenset[str] = frozenset()
    failing: tuple[tuple[str, str], ...] = ()
    passing: tuple[tuple[str, str], ...] = ()
    texts: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()  # paths of the routes the 5xx of a spike under way go to


def _words(text: str) -> set[str]:
    """The words of a path, name or message that can relate a change to what fails."""
    return {
        w
        for w in re.split(r"[^a-z0-9]+", text.lower())
        if len(w) > MIN_NAME and w not in COMMON_WORDS and not w.isdigit()
    }


def failing_words(clues: FailureClues) -> dict[str, str]:
    """Each word of a failing route or probe (name, target's path) -> what it comes from."""
    out: dict[str, str] = {}
    for route in clues.routes:
        for w in _words(route):
            out.setdefault(w, route)
    for name, target in clues.failing:
        path = urlsplit(target).path if "://" in target else ""
        for w in _words(f"{name} {path}"):
            out.setdefault(w, f"probe {name}")
    return out


def _word(name: str) -> re.Pattern[str]:
    """`name` as a whole word: web-2 is in "web-2-health" but not in "web-20"."""
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(name.lower()) + r"(?![A-Za-z0-9])")


def _names_host(host: str, probe: tuple[str, str]) -> bool:
    name, target = probe
    where = urlsplit(target).hostname or target if "://" in target else target
    pattern = _word(host)
    return bool(pattern.search(name.lower()) or pattern.search(str(where).lower()))


def _package_names(change: Change) -> list[str]:
    name = change.subject.lower()
    names = [name]
    # libsystemd0 is systemd's: a library package named after its program.
    bare = re.sub(r"^lib|[0-9.]+$", "", name)
    if bare != name and len(bare) >= MIN_NAME:
        names.append(bare)
    return [n for n in names if len(n) >= MIN_NAME]


def _named_path(path: str, text: str) -> bool:
    lowered = text.lower()
    path = path.lower().strip("/")
    if not path:
        return False
    if path in lowered:
        return True
    base = path.rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0]
    return any(len(n) >= MIN_NAME + 1 and _word(n).search(lowered) for n in {base, stem})


def _before(change: Change, clues: FailureClues) -> str:
    gap = (clues.start - change.at).total_seconds()
    if gap < 1:
        return "came as the failure began"
    return f"{duration(gap)} before the failure"


def relations(change: Change, clues: FailureClues) -> list[tuple[float, str]]:
    """(points, why) for each way `change` is related to what fails."""
    out: list[tuple[float, str]] = []
    texts = [t for t in clues.texts if t]
    for path in change.paths:
        said = next((t for t in texts if _named_path(str(path), t)), None)
        if said is not None:
            out.append((PATH_POINTS, f"touches {path}, named in errors"))
            break
    if change.kind == "package" and change.subject:
        for name in _package_names(change):
            if any(_word(name).search(t.lower()) for t in texts):
                out.append((PACKAGE_POINTS, f"package {change.subject}: {name} named in errors"))
                break
    if change.host:
        failing = [p[0] for p in clues.failing if _names_host(change.host, p)]
        passing = [p[0] for p in clues.passing if _names_host(change.host, p)]
        if failing:
            out.append((HOST_POINTS, f"on {change.host}, where {', '.join(failing[:2])} fails"))
            others_pass = any(not _names_host(change.host, p) for p in clues.passing)
            if others_pass and not passing:
                out.append((HOST_ONLY_POINTS, "other hosts pass"))
        elif passing:
            out.append((HEALTHY_HOST_POINTS, f"{change.host}'s probes pass"))
        if any(_word(change.host).search(t.lower()) for t in texts):
            out.append((HOST_NAMED_POINTS, f"{change.host} named in errors"))
    words = failing_words(clues)
    if words:
        touched = next(
            ((str(p), w) for p in change.paths for w in sorted(_words(str(p))) if w in words),
            None,
        )
        spoken = sorted(_words(f"{change.what} {change.subject}") & words.keys())
        if touched is not None and not any(p == PATH_POINTS for p, _ in out):
            path, w = touched
            out.append((ROUTE_PATH_POINTS, f"touches {path}; {words[w]} fails"))
        elif spoken and touched is None:
            out.append((ROUTE_WORD_POINTS, f"says {spoken[0]}; {words[spoken[0]]} fails"))
    if change.service and change.service in clues.services:
        out.append((SERVICE_POINTS, f"same service {change.service}"))
    return out


def closeness(change: Change, clues: FailureClues) -> float:
    """1 at (or after) the failure's start, 1/2 CLOSE_SECONDS before, falling sharply."""
    gap = max(0.0, (clues.start - change.at).total_seconds())
    return 1.0 / (1.0 + gap / CLOSE_SECONDS)


def rank_suspects(
    changes: Iterable[Change], clues: FailureClues, window: timedelta
) -> tuple[Suspect, ...]:
    """The best MAX_SUSPECTS candidates, best first (ties: the later change first)."""
    return rank_candidates(changes, clues, window)[:MAX_SUSPECTS]


def rank_candidates(
    changes: Iterable[Change], clues: FailureClues, window: timedelta
) -> tuple[Suspect, ...]:
    """Every candidate, best first (ties: the later change first)."""
    since = clues.start - window
    ranked: list[tuple[float, datetime, Suspect]] = []
    for change in changes:
        if not since <= change.at <= clues.bound:
            continue
        if change.deploy is not None and change.deploy.reverts:
            continue  # a rollback undoes a change; it is not one to suspect
        if change.reverts or change.reverted_by:
            continue  # a revert, or a change a revert already undid
        related = sorted(relations(change, clues), key=lambda r: -r[0])
        score = closeness(change, clues) + sum(points for points, _ in related)
        why = (_before(change, clues), *(w for _, w in related))
        ranked.append((score, change.at, Suspect(change, round(score, 3), why)))
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return tuple(s for _, _, s in ranked)


def failure_texts(parts: Sequence[object]) -> tuple[str, ...]:
    return tuple(str(p) for p in parts if p)
