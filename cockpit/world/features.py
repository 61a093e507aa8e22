"""The bot-management feature file and the database grants behind it (Cloudflare 2025-11-18).

    store = FeatureStore.create(directory / "features", service="edge-proxy")
    store.change_grants(...)          # 11:05: the permission change; harmless by itself
    store.publish_from_query()        # 11:20: the generator's next run reads duplicates
    store.rollback("v41")             # the fix: the last good file published again
    store.check()                     # what the proxy does on every request

The live file is `features/bot-features.json`; every published version is kept under
`features/versions/`, and each publication and grants change is a JSON line in
`published.jsonl` / `grants.jsonl`, which `featurectl history` and `featurectl grants` print for
the cockpit's command change sources. The proxy preallocates room for 200 features: a file with
more makes it fail every request it handles, and the failure is reported to Sentry with the
file's path, as the proxy's panic named the file.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.host.files import write_file
from cockpit.timeutil import iso_utc_precise, parse_iso, utcnow

FEATURES_DIR = "features"
LIVE_FILE = "bot-features.json"
LIVE_PATH = f"{FEATURES_DIR}/{LIVE_FILE}"  # as the paths of a change name it
SUBJECT = "bot-features"
FEATURE_LIMIT = 200
GOOD_FEATURES = 60  # about what the real file held
GENERATOR = "feature-generator"
_READ_EVERY = 0.1


class FeatureFileError(Exception):
    """The proxy cannot load the feature file. The message stays constant: one Sentry issue."""


@dataclass(frozen=True)
class Publication:
    at: datetime
    version: str
    features: int
    previous: str
    by: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso_utc_precise(self.at),
            "version": self.version,
            "features": self.features,
            "previous": self.previous,
            "by": self.by,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Publication:
        return cls(
            at=parse_iso(str(data["at"])),
            version=str(data["version"]),
            features=int(data["features"]),
            previous=str(data.get("previous", "")),
            by=str(data.get("by", "")),
            reason=str(data.get("reason", "")),
        )


def _features(count: int, duplicated: bool = False) -> list[dict[str, str]]:
    names = [{"name": f"f{i:03d}", "type": "float"} for i in range(count)]
    if duplicated:
        # The query now also sees the underlying r0 tables: the features come back again for
        # each of them, and the file grows past what the proxy preallocated.
        names = names + [{**n, "db": f"r0.shard{k}"} for k in range(3) for n in names]
    return names


class FeatureStore:
    def __init__(self, directory: Path, service: str):
        self.directory = directory
        self.service = service
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._count = 0

    @property
    def live(self) -> Path:
        return self.directory / LIVE_FILE

    @property
    def published_log(self) -> Path:
        return self.directory / "published.jsonl"

    @property
    def grants_log(self) -> Path:
        return self.directory / "grants.jsonl"

    @classmethod
    def create(cls, directory: Path, service: str, history: list[datetime]) -> FeatureStore:
        """A store whose generator published one good file at each of `history` (oldest first)."""
        store = cls(directory, service)
        (directory / "versions").mkdir(parents=True, exist_ok=True)
        store.published_log.touch()
        store.grants_log.touch()
        for at in history:
            store._publish(_features(GOOD_FEATURES), by=GENERATOR, reason="scheduled run", at=at)
        return store

    @classmethod
    def open(cls, directory: Path) -> FeatureStore:
        if not (directory / "published.jsonl").is_file():
            raise FileNotFoundError(f"{directory} holds no feature store")
        return cls(directory, "")

    # -- the record ---------------------------------------------------------------------------

    def publications(self) -> list[Publication]:
        out = []
        for line in self.published_log.read_text(encoding="utf-8").splitlines():
            try:
                out.append(Publication.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def grants(self) -> list[dict[str, Any]]:
        out = []
        for line in self.grants_log.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def current(self) -> str:
        published = self.publications()
        return published[-1].version if published else ""

    def _next_version(self) -> str:
        numbers = [
            int(p.version.lstrip("v")) for p in self.publications() if p.version[1:].isdigit()
        ]
        return f"v{max(numbers, default=40) + 1}"

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _publish(
        self,
        features: list[dict[str, str]],
        *,
        by: str,
        reason: str,
        at: datetime | None = None,
        version: str | None = None,
    ) -> Publication:
        with self._lock:
            previous = self.current()
            version = version or self._next_version()
            body = json.dumps({"version": version, "features": features}, indent=1) + "\n"
            write_file(self.directory / "versions" / f"{version}.json", body, parents=True)
            write_file(self.live, body)
            publication = Publication(at or utcnow(), version, len(features), previous, by, reason)
            self._append(self.published_log, publication.to_json())
            self._read_at = float("-inf")
            return publication

    # -- what happens -------------------------------------------------------------------------

    def change_grants(self, *, statement: str, by: str, host: str) -> None:
        """A change to the database's access control (a change of its own, with no revert)."""
        with self._lock:
            number = len(self.grants()) + 1
            self._append(
                self.grants_log,
                {
                    "at": iso_utc_precise(utcnow()),
                    "statement": statement,
                    "by": by,
                    "host": host,
                    "id": f"grants-{number}",
                },
            )
            (self.directory / "r0-visible").touch()

    def publish_from_query(self) -> Publication:
        """The generator's run: its metadata query returns duplicates once the grants changed."""
        duplicated = (self.directory / "r0-visible").exists()
        features = _features(GOOD_FEATURES, duplicated=duplicated)
        return self._publish(features, by=GENERATOR, reason="scheduled run")

    def rollback(self, version: str, *, by: str) -> Publication:
        """Publish an earlier version's content again (as its own version)."""
        source = self.directory / "versions" / f"{version}.json"
        try:
            features = json.loads(source.read_text(encoding="utf-8"))["features"]
        except FileNotFoundError:
            raise LookupError(f"no published version {version!r} of {SUBJECT}") from None
        return self._publish(list(features), by=by, reason=f"rollback to {version}")

    def check(self) -> None:
        """What the proxy does before handling a request; raises FeatureFileError."""
        with self._lock:
            if time.monotonic() - self._read_at >= _READ_EVERY:
                try:
                    data = json.loads(self.live.read_text(encoding="utf-8"))
                    self._count = len(data.get("features", []))
                except (OSError, ValueError):
                    self._count = 0
                self._read_at = time.monotonic()
            count = self._count
        if count > FEATURE_LIMIT:
            raise FeatureFileError(
                f"{LIVE_PATH}: more features than the {FEATURE_LIMIT} preallocated; "
                "called Result::unwrap() on an Err value"
            )


def history_records(store: FeatureStore, service: str) -> list[dict[str, Any]]:
    """The publications as a command change source reads them (newest last)."""
    out = []
    for p in store.publications():
        what = f"{SUBJECT} {p.version}: {p.features} features"
        if p.reason.startswith("rollback"):
            what += f" ({p.reason})"
        out.append(
            {
                "kind": "feature-file",
                "at": iso_utc_precise(p.at),
                "what": what,
                "subject": SUBJECT,
                "old": p.previous,
                "new": p.version,
                "id": p.version,
                "by": p.by,
                "service": service,
                "paths": [LIVE_PATH],
                "detail": p.reason,
            }
        )
    return out


def grants_records(store: FeatureStore) -> list[dict[str, Any]]:
    return [
        {
            "kind": "permission",
            "at": str(g.get("at", "")),
            "what": str(g.get("statement", "")),
            "subject": "clickhouse grants",
            "id": str(g.get("id", "")),
            "by": str(g.get("by", "")),
            "host": str(g.get("host", "")),
        }
        for g in store.grants()
    ]
