"""Deploys read from a Capistrano-style releases directory.

    <root>/releases/20240802065200/     one directory per release, named by its UTC time
    <root>/current -> releases/...       what the service runs

Each release is a deploy. version = a VERSION file's first line if the release has one, else
the directory name; at = the time the name starts with (20240802065200, 20240802T065200Z,
2024-08-02T06:52:00Z, optionally followed by "-anything"), else the directory's mtime.
who / summary come from an optional `.deploy.json` ({"who": ..., "summary": ...}) or a
REVISION file (the commit it was built from).

When `current` points at an older release than the newest one, someone rolled back: that is
reported as a deploy of the current release at the time the link changed, reverting the
newest release, so a revert plan does not go "back" to what already runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cockpit.config.deploys import ReleasesDeploysConfig
from cockpit.model import Category, Deploy, Deploys
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line
from cockpit.timeutil import from_epoch

RELEASES_DIR = "releases"
CURRENT_LINK = "current"
VERSION_FILE = "VERSION"
REVISION_FILE = "REVISION"
META_FILE = ".deploy.json"
MAX_META_BYTES = 65536

_STAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})T?(\d{2}):?(\d{2}):?(\d{2})Z?(?:$|[-_.+])", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Release:
    """One directory under releases/."""

    path: Path
    version: str
    at: datetime
    who: str
    summary: str


def stamp_time(name: str) -> datetime | None:
    """The UTC time a release directory's name starts with, if it starts with one."""
    match = _STAMP.match(name)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _read_small(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_META_BYTES).decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None


def read_release(path: Path) -> Release:
    name = path.name
    version = name
    text = _read_small(path / VERSION_FILE)
    if text and text.strip():
        # The whole file, exactly: a VERSION that is not one short line is shown Inert and
        # refused for a revert, never cut down to a line that looks fine.
        version = text.strip()
    at = stamp_time(name) or from_epoch(path.stat().st_mtime)
    who = summary = ""
    meta_text = _read_small(path / META_FILE)
    if meta_text is not None:
        try:
            meta = json.loads(meta_text)
        except ValueError:
            meta = None
        if isinstance(meta, dict):
            who = _string(meta.get("who"))
            summary = _string(meta.get("summary"))
    if not summary:
        revision = _read_small(path / REVISION_FILE)
        if revision and revision.strip():
            summary = f"revision {revision.strip().splitlines()[0]}"
    return Release(path, version, at, one_line(who, 100), one_line(summary, 500))


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def list_releases(root: Path) -> list[Release]:
    """Every release under root/releases, oldest first; raises OSError if there is none."""
    releases: list[Release] = []
    with os.scandir(root / RELEASES_DIR) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                releases.append(read_release(Path(entry.path)))
            except OSError:
                continue  # removed while we looked
    releases.sort(key=lambda r: (r.at, r.path.name))
    return releases


def current_release(root: Path) -> Path | None:
    """The release directory `current` points at, or None when it points nowhere useful."""
    link = root / CURRENT_LINK
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    releases = (root / RELEASES_DIR).resolve()
    return target if target.parent == releases else None


class ReleasesDeploys:
    kind = "releases"
    category = Category.DEPLOYS

    def __init__(self, cfg: ReleasesDeploysConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.current: str | None = None  # the version `current` pointed at in the last poll

    @property
    def target(self) -> str:
        return str(self.cfg.root / RELEASES_DIR)

    async def aclose(self) -> None:
        pass

    async def poll(self) -> Deploys:
        return await asyncio.to_thread(self._poll)

    def _poll(self) -> Deploys:
        root = self.cfg.root
        try:
            releases = list_releases(root)
        except FileNotFoundError:
            raise SourceError(f"no releases directory: {root / RELEASES_DIR}") from None
        except NotADirectoryError:
            raise SourceError(f"not a directory: {root / RELEASES_DIR}") from None
        except PermissionError:
            raise SourceError(f"permission denied: {root / RELEASES_DIR}") from None
        except OSError as exc:
            raise SourceError(f"cannot read {root / RELEASES_DIR}: {exc.strerror or exc}") from None
        deploys = [self._deploy(r) for r in releases]
        current_path = current_release(root)
        current = next((r for r in releases if r.path.resolve() == current_path), None)
        self.current = current.version if current else None
        if current is not None and releases and current is not releases[-1]:
            deploys.append(self._rollback(current, releases[-1]))
        deploys.sort(key=lambda d: d.at, reverse=True)
        return Deploys(source=self.name, deploys=tuple(deploys[: self.cfg.max_deploys]))

    def _deploy(self, release: Release) -> Deploy:
        return Deploy(
            service=self.cfg.service,
            version=release.version,
            who=release.who,
            at=release.at,
            summary=release.summary,
            source=self.name,
        )

    def _rollback(self, current: Release, newest: Release) -> Deploy:
        try:
            switched = from_epoch((self.cfg.root / CURRENT_LINK).lstat().st_mtime)
        except OSError:
            switched = newest.at
        return Deploy(
            service=self.cfg.service,
            version=current.version,
            who="",
            at=max(switched, newest.at),
            summary=f"current points back at {current.path.name} (rolled back from "
            f"{newest.version})",
            source=self.name,
            reverts=newest.version,
        )
