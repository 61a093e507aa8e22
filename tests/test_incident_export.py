"""The timeline draft of a scripted incident (the Files.com timeline), as Markdown and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.incident.export import render_json, render_markdown, write_export
from cockpit.incident.store import IncidentStore, store_path
from cockpit.model import Incident, IncidentStatus, TimelineEvent
from cockpit.timeutil import local_hms

T0 = datetime(2024, 8, 2, 13, 52, tzinfo=UTC)  # 06:52 PDT
GENERATED = datetime(2024, 8, 2, 15, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def scripted(tmp_path: Path) -> tuple[Incident, list[TimelineEvent]]:
    """The Files.com morning, recorded through the store as the cockpit would."""
    with IncidentStore(store_path(tmp_path)) as store:
        store.add_event(TimelineEvent(at(0), "deploy", "files-web 2 deployed by bob", "deploys"))
        store.add_event(
            TimelineEvent(at(2), "probe.down", "sftp-multi: 1/2 sessions ok", "sftp", key="p1")
        )
        store.add_event(
            TimelineEvent(
                at(3),
                "sentry.none",
                "5xx spike | no Sentry issue\nproxy 502s \x1b[31mred\x1b[0m <script>x</script>",
                "proxy",
            )
        )
        incident = store.declare(
            "SFTP/FTP second session fails",
            "SEV2",
            "alice",
            summary="Every second simultaneous session fails.",
            impact_started_at=at(0),
            at=at(43),
        )
        store.add_event(TimelineEvent(at(48), "revert.started", "revert files-web 2 -> 1"))
        store.add_event(TimelineEvent(at(49), "revert.finished", "revert files-web 2 -> 1 ok"))
        incident = store.set_status(incident.id, IncidentStatus.RESOLVED, at=at(49))
        return incident, store.incident_events(incident)


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_markdown_has_header_sections_and_rows(scripted) -> None:
    incident, events = scripted
    md = render_markdown(incident, events, generated_at=GENERATED)
    assert md.startswith("# SFTP/FTP second session fails\n")
    assert "Draft" in md
    assert "**Severity:** SEV2" in md
    assert "**Commander:** alice" in md
    assert "**Declared:** 2024-08-02 14:35:00 UTC" in md
    assert "**Impact started:** 2024-08-02 13:52:00 UTC" in md
    assert "resolved at 2024-08-02 14:41:00 UTC" in md and "49m 00s since impact start" in md
    assert "Every second simultaneous session fails." in _section(md, "Summary")
    for heading in ("Timeline", "What changed", "Contributing factors", "Action items"):
        assert f"\n## {heading}\n" in md

    table = [line for line in _section(md, "Timeline").splitlines() if line.startswith("|")]
    assert table[0].startswith("| UTC | Local")
    assert table[0].endswith("| Kind | Event |")
    rows = table[2:]
    assert [row.split(" | ")[2] for row in rows] == [
        "deploy",
        "probe.down",
        "sentry.none",
        "declared",
        "revert.started",
        "revert.finished",
        "status.resolved",
    ]
    assert rows[0].startswith(f"| 2024-08-02 13:52:00 | {local_hms(at(0))} | deploy | ")


def test_untrusted_text_cannot_break_the_table(scripted) -> None:
    incident, events = scripted
    md = render_markdown(incident, events, generated_at=GENERATED)
    [row] = [line for line in md.splitlines() if "sentry.none" in line]
    assert "\x1b" not in md
    assert "5xx spike \\| no Sentry issue<br>proxy 502s red &lt;script>x&lt;/script>" in row
    # Four columns: every unescaped pipe is a column border.
    assert row.replace("\\|", "").count("|") == 5


def test_what_changed_lists_deploys_and_reverts(scripted) -> None:
    incident, events = scripted
    changed = _section(render_markdown(incident, events, generated_at=GENERATED), "What changed")
    items = [line for line in changed.splitlines() if line.startswith("- ")]
    assert len(items) == 3
    assert "`deploy`: files-web 2 deployed by bob" in items[0]
    assert "`revert.started`" in items[1] and "`revert.finished`" in items[2]


def test_open_incident_without_events() -> None:
    incident = Incident(1, "quiet", "SEV4", "dan", IncidentStatus.INVESTIGATING, at(0), drill=True)
    md = render_markdown(incident, [], generated_at=GENERATED)
    assert "investigating (not resolved yet)" in md
    assert "**Impact started:** unknown" in md
    assert "No events were recorded" in md
    assert "No deploys or reverts" in md
    assert "**Drill:** yes" in md


def test_json_has_the_same_content(scripted) -> None:
    incident, events = scripted
    doc = json.loads(render_json(incident, events, generated_at=GENERATED))
    assert doc["document_status"] == "draft"
    assert doc["generated_at"] == "2024-08-02T15:00:00Z"
    assert doc["incident"]["title"] == "SFTP/FTP second session fails"
    assert doc["incident"]["resolved_at"] == "2024-08-02T14:41:00Z"
    assert doc["incident"]["impact_started_at"] == "2024-08-02T13:52:00Z"
    assert len(doc["timeline"]) == 7
    assert doc["timeline"][0] == {
        "at": "2024-08-02T13:52:00Z",
        "local": local_hms(at(0)),
        "kind": "deploy",
        "text": "files-web 2 deployed by bob",
        "source": "deploys",
    }
    assert "\x1b" not in json.dumps(doc, ensure_ascii=False)
    assert [e["kind"] for e in doc["what_changed"]] == [
        "deploy",
        "revert.started",
        "revert.finished",
    ]


def test_write_export_never_overwrites(tmp_path: Path, scripted) -> None:
    incident, events = scripted
    first = write_export(tmp_path, incident, events, ("md", "json"), generated_at=GENERATED)
    stem = f"incident-{incident.id}-20240802T150000Z"
    assert [p.name for p in first] == [f"{stem}.md", f"{stem}.json"]
    assert first[0].parent == tmp_path / "exports"
    first[0].write_text("edited by hand")
    second = write_export(tmp_path, incident, events, generated_at=GENERATED)
    assert [p.name for p in second] == [f"{stem}-2.md"]
    assert first[0].read_text() == "edited by hand"
    assert second[0].read_text().startswith("# SFTP/FTP second session fails")
    json.loads(first[1].read_text())
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == sorted(
        [f"{stem}.md", f"{stem}.json", f"{stem}-2.md"]
    )


def test_write_export_rejects_unknown_format(tmp_path: Path, scripted) -> None:
    incident, events = scripted
    with pytest.raises(ValueError, match="md, json"):
        write_export(tmp_path, incident, events, ("pdf",))
