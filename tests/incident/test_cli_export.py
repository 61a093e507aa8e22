"""`cockpit export`: the timeline draft of an incident without the TUI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import TimelineEvent
from cockpit.timeutil import utcnow


def export(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "export", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COCKPIT_DATA_DIR": str(data)},
    )


def test_export_writes_markdown_and_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = export(data)
    assert empty.returncode == 1 and "no incident" in empty.stderr
    now = utcnow()
    with IncidentStore(data / "incidents.sqlite3") as store:
        store.add_event(TimelineEvent(now - timedelta(minutes=5), "deploy", "web: deploy v2"))
        incident = store.declare("web degraded", "SEV2", "alice", at=now)
    result = export(data, "--format", "md,json")
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.split()]
    assert [p.suffix for p in paths] == [".md", ".json"]
    assert all(p.parent == data / "exports" for p in paths)
    markdown = paths[0].read_text()
    assert "# web degraded" in markdown and "web: deploy v2" in markdown
    assert json.loads(paths[1].read_text())["incident"]["id"] == incident.id

    chosen = tmp_path / "draft.md"
    result = export(data, "--incident", str(incident.id), "--output", str(chosen))
    assert result.returncode == 0 and chosen.read_text().startswith("# web degraded")
    assert export(data, "--incident", "99").returncode == 1
    bad = export(data, "--format", "pdf")
    assert bad.returncode == 2 and "unknown format" in bad.stderr
