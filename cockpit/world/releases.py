"""The drill world's deploy system: release directories, a `current` symlink, a deploy log.

    <root>/releases/<UTC timestamp>-<version>/VERSION
    <root>/current -> releases/<...>        (what the service runs)
    <root>/deploys.jsonl                    (one JSON object per deploy or rollback)

Switching `current` is atomic (a new symlink under a temporary name, then os.replace), so the
service never sees a missing or half-written link. Deploys and rollbacks take an exclusive
lock on `<root>/.deploy.lock`, so two people rolling back at once cannot interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cockpit.timeutil import iso_utc, utcnow

RELEASES_DIR = "releases"
CURRENT_LINK = "current"
DEPLOY_LOG = "deploys.jsonl"
VERSION_FILE = "VERSION"
_LOCK_FILE = ".deploy.lock"

# Versions become directory names: keep them to characters that cannot climb out of releases/.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


class DeployError(Exception):
    """A deploy or rollback that cannot be done; the message is meant for the operator."""


@dataclass(frozen=True)
class Release:
    version: str
    path: Path


@dataclass(frozen=True)
class DeployRecord:
    service: str
    version: str
    who: str
    at: datetime
    summary: str
    reverts: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "service": self.service,
                "version": self.version,
                "who": self.who,
                "at": iso_utc(self.at),
                "summary": self.summary,
                "reverts": self.reverts,
            },
            ensure_ascii=False,
        )


@dataclass(frozen=True)
class Rollback:
    service: str
    from_version: str | None
    to_version: str
    changed: bool  # False when the service already ran the target version


def valid_version(version: str) -> bool:
    return bool(_VERSION.match(version)) and ".." not in version


class ReleaseRoot:
    def __init__(self, root: Path):
        self.root = root
        self.releases_dir = root / RELEASES_DIR
        self.current_link = root / CURRENT_LINK
        self.log_path = root / DEPLOY_LOG

    # -- reading ------------------------------------------------------------------------------

    def releases(self) -> list[Release]:
        """Installed releases, oldest first (directory names start with their UTC time)."""
        found = []
        try:
            entries = sorted(self.releases_dir.iterdir())
        except FileNotFoundError:
            return []
        for entry in entries:
            try:
                version = (entry / VERSION_FILE).read_text(encoding="utf-8").strip()
            except OSError:
                continue  # not a release: no VERSION file
            if version:
                found.append(Release(version, entry))
        return found

    def find(self, version: str) -> Release | None:
        """The newest release with this version, if installed."""
        matches = [r for r in self.releases() if r.version == version]
        return matches[-1] if matches else None

    def current_version(self) -> str | None:
        try:
            return (self.current_link / VERSION_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def records(self) -> list[dict[str, object]]:
        """The deploy log's valid lines, oldest first; damaged lines are skipped."""
        out: list[dict[str, object]] = []
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    # -- changing -----------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / _LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def install(self, version: str, at: datetime) -> Release:
        if not valid_version(version):
            raise DeployError(f"invalid version {version!r}")
        path = self.releases_dir / f"{at:%Y%m%dT%H%M%SZ}-{version}"
        path.mkdir(parents=True, exist_ok=False)
        (path / VERSION_FILE).write_text(version + "\n", encoding="utf-8")
        return Release(version, path)

    def switch(self, release: Release) -> None:
        """Point `current` at the release, atomically."""
        target = os.path.relpath(release.path, self.root)  # relative: the root may move
        temporary = self.root / f".{CURRENT_LINK}.{os.getpid()}.{secrets.token_hex(4)}"
        os.symlink(target, temporary)
        try:
            os.replace(temporary, self.current_link)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise

    def append(self, record: DeployRecord) -> None:
        # One write of a whole line on an O_APPEND file: a reader never sees half a record.
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(record.to_json() + "\n")
            log.flush()
            os.fsync(log.fileno())

    def deploy(
        self, *, service: str, version: str, who: str, summary: str, at: datetime | None = None
    ) -> Release:
        at = at or utcnow()
        with self.locked():
            release = self.install(version, at)
            self.switch(release)
            self.append(DeployRecord(service, version, who, at, summary))
        return release

    def rollback(
        self, to_version: str, *, who: str, service: str | None = None, at: datetime | None = None
    ) -> Rollback:
        with self.locked():
            release = self.find(to_version)
            if release is None:
                known = ", ".join(r.version for r in self.releases()) or "none"
                raise DeployError(
                    f"no release {to_version!r} under {self.releases_dir} (installed: {known})"
                )
            service = service or self.service_name()
            current = self.current_version()
            if current == to_version:
                return Rollback(service, current, to_version, changed=False)
            self.switch(release)
            self.append(
                DeployRecord(
                    service, to_version, who, at or utcnow(), f"rollback to {to_version}", current
                )
            )
        return Rollback(service, current, to_version, changed=True)

    def service_name(self) -> str:
        """The service this root deploys, as named by its latest log line."""
        for record in reversed(self.records()):
            if isinstance(record.get("service"), str) and record["service"]:
                return str(record["service"])
        return self.root.name
