"""The maintenance-run log a fleet's maintenance script appends to: one JSON line per run.

    {"at": "...", "script": "os-upgrade", "hosts": ["db-meta-1", ...], "what": "...",
     "by": "cron", "dry_run": false, "id": "run-42"}

A dry run (the script listing what it would do) is logged with "dry_run": true: it changed
nothing, and a change source must not take it for a change. Dropbox's 2014 script was meant for
idle machines; the host list it acted on held active primaries and replicas.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from cockpit.timeutil import iso_utc_precise, utcnow

MAINTENANCE_LOG = "maintenance.jsonl"


class MaintenanceLog:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.touch()

    def run(
        self,
        *,
        script: str,
        hosts: Sequence[str],
        what: str,
        by: str,
        dry_run: bool,
        service: str = "",
    ) -> str:
        """Log one run now; returns its id."""
        with self._lock:
            number = 41 + sum(1 for _ in self.path.open(encoding="utf-8"))
            record: dict[str, object] = {
                "at": iso_utc_precise(utcnow()),
                "script": script,
                "hosts": list(hosts),
                "what": what,
                "by": by,
                "dry_run": dry_run,
                "id": f"run-{number}",
            }
            if service:
                record["service"] = service  # whose machines these are
            # One short line per append: a reader never sees half a record.
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            return str(record["id"])
