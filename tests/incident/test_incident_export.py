"""The timeline draft of a scripted incident (the Files.com timeline), as Markdown and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.incident.export import (
    export_incident,
    render_incident,
    render_json,
    render_markdown,
    write_export,
)
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
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
    assert (
        "5xx spike \\| no Sentry issue<br>proxy 502s \ufffdred\ufffd &lt;script>x&lt;/script>"
        in row
    )
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


# -- impact, durations and detection gaps of a scripted incident ----------------------------------


@pytest.fixture
def files_com(tmp_path: Path):
    """06:52 deploy, concurrency probe down 06:53, blind spot 06:54, declared 07:35,
    identified 07:38, revert 07:41 (mitigated), resolved 07:50 (PDT; UTC below)."""
    store = IncidentStore(store_path(tmp_path))
    store.add_event(TimelineEvent(at(-30), "probe.down", "an old flap, long before", "ftp"))
    store.add_event(TimelineEvent(at(-29), "probe.up", "passing again", "ftp"))
    store.add_event(TimelineEvent(at(0), "deploy", "files-web: deploy 2 by bob", "deploys"))
    store.add_event(TimelineEvent(at(0.5), "sentry.new", "old unrelated issue", "sentry"))
    store.add_event(TimelineEvent(at(1), "probe.down", "sftp-multi failing: 1/2", "sftp-multi"))
    store.add_event(
        TimelineEvent(at(1), "concurrency", "sftp-multi fails only under concurrency", "sftp")
    )
    store.add_event(TimelineEvent(at(1), "suspect", "suspect deploy files-web 2", "detect"))
    store.add_event(
        TimelineEvent(at(2), "blind_spot", "5xx spike with no matching Sentry issue", "detect")
    )
    incident = store.declare("SFTP fails", "SEV2", "alice", impact_started_at=at(0), at=at(43))
    store.set_status(incident.id, IncidentStatus.IDENTIFIED, at=at(46))
    store.add_event(TimelineEvent(at(48), "revert.started", "revert files-web 2 -> 1"))
    store.add_event(TimelineEvent(at(49), "revert.finished", "revert files-web 2 -> 1 ok"))
    store.set_status(incident.id, IncidentStatus.MITIGATED, at=at(49))
    resolved = store.set_status(incident.id, IncidentStatus.RESOLVED, at=at(58))
    try:
        yield store, resolved
    finally:
        store.close()


def _bullets(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_impact_section_states_moments_and_durations_with_formulas(files_com) -> None:
    store, incident = files_com
    md = render_incident(store, incident, "md", generated_at=GENERATED)
    impact = _section(md, "Impact")
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")[1]
        for line in impact.splitlines()
        if line.startswith("| ") and not line.startswith("| Moment")
    }
    assert rows == {
        "Impact started": "2024-08-02 13:52:00",
        "Detected": "2024-08-02 13:53:00",  # the first detector event after impact start
        "Declared": "2024-08-02 14:35:00",
        "Identified": "2024-08-02 14:38:00",
        "Mitigated": "2024-08-02 14:41:00",
        "Resolved": "2024-08-02 14:50:00",
    }
    assert "first detector event `probe.down`: sftp-multi failing: 1/2" in impact
    assert _bullets(impact) == [
        "- **Time to detect:** 1m 00s (= detected - impact start)",
        "- **Time to declare:** 42m 00s (= declared - detected)",
        "- **Time to mitigate:** 49m 00s (= mitigated - impact start)",
        "- **Time to resolve:** 58m 00s (= resolved - impact start)",
    ]
    assert "detected = the first detector event" in impact

    changed = _bullets(_section(md, "What changed"))
    assert [line.split("`")[1] for line in changed] == [
        "deploy",
        "suspect",
        "revert.started",
        "revert.finished",
    ]
    gaps = _bullets(_section(md, "Detection gaps"))
    assert ["`concurrency`" in gaps[0], "`blind_spot`" in gaps[1], len(gaps)] == [True, True, 2]
    assert f"{local_hms(at(2))} local" in gaps[1]
    for heading in ("Contributing factors", "Action items"):
        assert f"\n## {heading}\n" in md
    assert md.index("## Impact") < md.index("## Timeline") < md.index("## Detection gaps")


def test_json_impact_matches_the_markdown(files_com) -> None:
    store, incident = files_com
    doc = json.loads(render_incident(store, incident, "json", generated_at=GENERATED))
    impact = doc["impact"]
    assert impact["detected_at"] == "2024-08-02T13:53:00Z"
    assert impact["detected_how"] == "event"
    assert impact["detected_by"]["kind"] == "probe.down"
    assert impact["mitigated_at"] == "2024-08-02T14:41:00Z"
    assert {d["name"]: (d["formula"], d["seconds"]) for d in impact["durations"]} == {
        "time to detect": ("detected - impact start", 60.0),
        "time to declare": ("declared - detected", 2520.0),
        "time to mitigate": ("mitigated - impact start", 2940.0),
        "time to resolve": ("resolved - impact start", 3480.0),
    }
    assert [g["kind"] for g in doc["detection_gaps"]] == ["concurrency", "blind_spot"]
    assert "suspect" in [e["kind"] for e in doc["what_changed"]]


def test_corrected_times_reach_the_draft_with_or_without_the_store(files_com) -> None:
    store, incident = files_com
    store.correct_time(incident.id, "detected", at(4), "alice", at=at(70))
    store.correct_time(incident.id, "mitigated", at(48), "alice", at=at(71))
    from_store = render_incident(store, incident, "md", generated_at=GENERATED)
    # The way `cockpit export` renders: the incident and its events only.
    events_only = render_markdown(incident, store.incident_events(incident), generated_at=GENERATED)
    for md in (from_store, events_only):
        impact = _section(md, "Impact")
        assert "| Detected | 2024-08-02 13:56:00 |" in impact
        assert "corrected by hand" in impact
        assert "- **Time to detect:** 4m 00s (= detected - impact start)" in impact
        assert "- **Time to mitigate:** 48m 00s (= mitigated - impact start)" in impact
    paths = export_incident(store, store.path.parent, incident, ("md",), generated_at=GENERATED)
    assert paths[0].read_text() == from_store


def test_declared_before_any_detector_is_said_plainly() -> None:
    incident = Incident(
        3,
        "found by customers",
        "SEV2",
        "alice",
        IncidentStatus.INVESTIGATING,
        at(43),
        impact_started_at=at(0),
    )
    md = render_markdown(incident, [], generated_at=GENERATED)
    impact = _section(md, "Impact")
    assert "| Detected | unknown |" in impact
    assert "found by people, not by monitoring" in impact
    assert "- **Time to detect:** unknown (= detected - impact start)" in impact
    assert "- **Time to mitigate:** unknown (= mitigated - impact start)" in impact
    assert _bullets(_section(md, "Detection gaps")) == [
        "- No detector saw this failure before people did."
    ]
    early = Incident(
        4,
        "declared early",
        "SEV3",
        "bob",
        IncidentStatus.INVESTIGATING,
        at(1),
        impact_started_at=at(0),
    )
    events = [TimelineEvent(at(3), "spike.start", "5xx spike", "proxy")]
    assert "- **Time to declare:** -2m 00s (= declared - detected)" in render_markdown(
        early, events, generated_at=GENERATED
    )
