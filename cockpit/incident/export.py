"""The postmortem timeline draft: what the store collected while people worked, as Markdown/JSON.

Event texts come from outside (issue titles, log lines, command output), so every one of them
is stripped of terminal controls and escaped for the place it lands in: a table cell must not
grow extra columns or rows, and no text may become live HTML in a renderer.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.host.datadir import FILE_MODE_SHARED, make_dir, shared
from cockpit.incident.facts import DETECTED_RULE, IncidentFacts, incident_facts, signed_duration
from cockpit.incident.store.incidents import IncidentTimes
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Incident, TimelineEvent
from cockpit.term.textsafe import one_line, strip_controls
from cockpit.timeutil import duration, iso_utc, local_hms, local_stamp, utc_stamp, utcnow

if TYPE_CHECKING:
    from cockpit.detect.probes import ProbeView

FORMATS = ("md", "json")
# Event kinds (before the first dot) that count as a change to the system: deploys and the
# other changes (packages, config commits, maintenance runs, flags), the detector's suspects,
# and reverts.
CHANGE_KINDS = frozenset({"deploy", "change", "revert", "rollback", "suspect"})
JSON_FORMAT = "oncall-cockpit.timeline-draft"
JSON_VERSION = 2


def is_change(event: TimelineEvent) -> bool:
    return event.kind.split(".", 1)[0] in CHANGE_KINDS


def _sorted(events: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    return sorted(events, key=lambda e: e.at)


# -- Markdown ------------------------------------------------------------------------------------


def _no_html(text: str) -> str:
    # Escaping "<" alone is enough to keep tags from forming and keeps "->" readable.
    return text.replace("<", "&lt;")


def _inline(text: str) -> str:
    """One line of untrusted text for running Markdown (headings, list items)."""
    return _no_html(one_line(text, limit=300))


def _cell(text: str) -> str:
    """Untrusted text for a table cell: one physical line, no bare pipes."""
    clean = _no_html(strip_controls(text).replace("\t", " ").strip())
    lines = clean.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(line.strip() for line in lines).replace("|", "\\|")


def _block(text: str) -> str:
    """Multi-line untrusted text kept as paragraphs."""
    return _no_html(strip_controls(text).replace("\r\n", "\n").strip())


def _when(at: datetime | None) -> str:
    if at is None:
        return "unknown"
    return f"{utc_stamp(at)} ({local_stamp(at)} local)"


def _utc_cell(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _status_line(incident: Incident) -> str:
    if incident.resolved_at is None:
        return f"{incident.status.value} (not resolved yet)"
    start = incident.impact_started_at or incident.declared_at
    lasted = duration((incident.resolved_at - start).total_seconds())
    since = "impact start" if incident.impact_started_at else "declaration"
    return f"resolved at {_when(incident.resolved_at)}; {lasted} since {since}"


def _impact_lines(facts: IncidentFacts) -> list[str]:
    if facts.detected_corrected:
        how = "corrected by hand"
    elif facts.detected_by is not None:
        by = facts.detected_by
        how = f"first detector event `{_inline(by.kind)}`: {_inline(by.text)}"
    else:
        how = "no detector event: the failure was found by people, not by monitoring"
    moments = [
        ("Impact started", facts.impact_started, ""),
        ("Detected", facts.detected, how),
        ("Declared", facts.declared, ""),
        ("Identified", facts.identified, ""),
        ("Mitigated", facts.mitigated, ""),
        ("Resolved", facts.resolved, ""),
    ]
    out = ["| Moment | UTC | Local | How it is known |", "|---|---|---|---|"]
    for name, at, note in moments:
        utc = _utc_cell(at) if at else "unknown"
        local = local_stamp(at) if at else ""
        out.append(f"| {name} | {utc} | {local} | {_cell(note) if note else ''} |")
    out.append("")
    for measure in facts.measures:
        value = "unknown" if measure.seconds is None else signed_duration(measure.seconds)
        out.append(f"- **{measure.name.capitalize()}:** {value} (= {measure.formula})")
    out += ["", f"_{DETECTED_RULE}._", ""]
    return out


def _gap_lines(facts: IncidentFacts) -> list[str]:
    out = [
        f"- {_utc_cell(e.at)} UTC ({local_hms(e.at)} local) `{_inline(e.kind)}`: {_inline(e.text)}"
        for e in facts.gaps
    ]
    if facts.detected is None:
        out.append("- No detector saw this failure before people did.")
    return out or ["_No blind spots or concurrency-only failures were recorded._"]


def render_markdown(
    incident: Incident,
    events: Sequence[TimelineEvent],
    *,
    generated_at: datetime,
    times: IncidentTimes | None = None,
) -> str:
    """The draft; `times` (from the store) carries corrected times, else the timeline's."""
    ordered = _sorted(events)
    changes = [e for e in ordered if is_change(e)]
    facts = incident_facts(incident, ordered, times)
    tz_name = generated_at.astimezone().strftime("%Z") or "local"
    out: list[str] = [
        f"# {_inline(incident.title) or f'Incident #{incident.id}'}",
        "",
        f"- **Document status:** Draft, generated {utc_stamp(generated_at)} from the cockpit "
        f"timeline of incident #{incident.id}",
        f"- **Severity:** {_inline(incident.severity)}",
        f"- **Commander:** {_inline(incident.commander)}",
        f"- **Declared:** {_when(incident.declared_at)}",
        f"- **Impact started:** {_when(incident.impact_started_at)}",
        f"- **Status:** {_status_line(incident)}",
    ]
    if incident.drill:
        out.append("- **Drill:** yes, this incident was a rehearsal")
    out += ["", "## Summary", "", _block(incident.summary) or "_To be written._", ""]
    out += ["## Impact", "", *_impact_lines(facts)]

    out += ["## Timeline", ""]
    out += [f"| UTC | Local ({_cell(tz_name)}) | Kind | Event |", "|---|---|---|---|"]
    for event in ordered:
        text = _cell(event.text)
        if event.source:
            text += f" <sub>({_cell(event.source)})</sub>"
        out.append(
            f"| {_utc_cell(event.at)} | {local_hms(event.at)} | {_cell(event.kind)} | {text} |"
        )
    if not ordered:
        out += ["", "_No events were recorded in this window._"]
    out.append("")

    out += ["## What changed", ""]
    if changes:
        out += [
            f"- {_utc_cell(e.at)} UTC ({local_hms(e.at)} local) `{_inline(e.kind)}`: "
            f"{_inline(e.text)}"
            for e in changes
        ]
    else:
        out.append("_No deploys or reverts were recorded in this window._")
    out += ["", "## Detection gaps", "", *_gap_lines(facts)]
    out += [
        "",
        "## Contributing factors",
        "",
        "_To be written: what made this possible, what delayed detection and response._",
        "",
        "## Action items",
        "",
        "- [ ] _Owner, action, due date_",
        "",
    ]
    return "\n".join(out)


# -- JSON ------------------------------------------------------------------------------------------


def _opt_iso(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at)


def _event_json(event: TimelineEvent) -> dict[str, Any]:
    return {
        "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local": local_hms(event.at),
        "kind": strip_controls(event.kind),
        "text": strip_controls(event.text),
        "source": strip_controls(event.source),
    }


def _impact_json(facts: IncidentFacts) -> dict[str, Any]:
    by = facts.detected_by
    return {
        "impact_started_at": _opt_iso(facts.impact_started),
        "detected_at": _opt_iso(facts.detected),
        "detected_how": "corrected" if facts.detected_corrected else ("event" if by else None),
        "detected_by": None if by is None else _event_json(by),
        "detected_rule": DETECTED_RULE,
        "declared_at": iso_utc(facts.declared),
        "identified_at": _opt_iso(facts.identified),
        "mitigated_at": _opt_iso(facts.mitigated),
        "resolved_at": _opt_iso(facts.resolved),
        "durations": [
            {"name": m.name, "formula": m.formula, "seconds": m.seconds} for m in facts.measures
        ],
    }


def render_json(
    incident: Incident,
    events: Sequence[TimelineEvent],
    *,
    generated_at: datetime,
    times: IncidentTimes | None = None,
) -> str:
    ordered = _sorted(events)
    facts = incident_facts(incident, ordered, times)
    document = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "document_status": "draft",
        "generated_at": iso_utc(generated_at),
        "incident": {
            "id": incident.id,
            "title": strip_controls(incident.title),
            "severity": incident.severity,
            "commander": strip_controls(incident.commander),
            "status": incident.status.value,
            "declared_at": iso_utc(incident.declared_at),
            "impact_started_at": _opt_iso(incident.impact_started_at),
            "resolved_at": _opt_iso(incident.resolved_at),
            "summary": strip_controls(incident.summary),
            "drill": incident.drill,
        },
        "impact": _impact_json(facts),
        "timeline": [_event_json(e) for e in ordered],
        "what_changed": [_event_json(e) for e in ordered if is_change(e)],
        "detection_gaps": [_event_json(e) for e in facts.gaps],
        "contributing_factors": [],
        "action_items": [],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- files -----------------------------------------------------------------------------------------


_RENDERERS = {"md": render_markdown, "json": render_json}


def export_dir(data_dir: Path) -> Path:
    return data_dir / "exports"


def write_export(
    data_dir: Path,
    incident: Incident,
    events: Sequence[TimelineEvent],
    formats: Sequence[str] = ("md",),
    *,
    generated_at: datetime | None = None,
    times: IncidentTimes | None = None,
) -> list[Path]:
    """Write `<data_dir>/exports/incident-<id>-<UTC stamp>.<fmt>`; never replaces a file.

    Two exports in the same second get a "-2", "-3" ... suffix; all formats of one call share a
    name. Each file appears complete or not at all.
    """
    unknown = [f for f in formats if f not in _RENDERERS]
    if unknown or not formats:
        raise ValueError(f"export formats must be among {', '.join(FORMATS)}; got {formats!r}")
    generated_at = generated_at or utcnow()
    texts = {
        fmt: _RENDERERS[fmt](incident, events, generated_at=generated_at, times=times)
        for fmt in formats
    }
    folder = make_dir(export_dir(data_dir))  # group-writable in a shared data dir
    stem = f"incident-{incident.id}-{generated_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    for attempt in range(1, 1000):
        name = stem if attempt == 1 else f"{stem}-{attempt}"
        paths = [folder / f"{name}.{fmt}" for fmt in formats]
        if any(p.exists() for p in paths):
            continue
        written: list[Path] = []
        try:
            for fmt, path in zip(formats, paths, strict=True):
                _publish(path, texts[fmt])
                written.append(path)
        except FileExistsError:
            # Another export took this name between the check and the link; use the next one.
            for path in written:
                path.unlink(missing_ok=True)
            continue
        return written
    raise FileExistsError(f"no free export name for {stem} in {folder}")


def _publish(path: Path, text: str) -> None:
    """Write a complete file under `path`, failing with FileExistsError if it exists."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE_SHARED if shared(path.parent) else 0o644)
        os.link(tmp, path)  # atomic and never replaces, unlike rename
    finally:
        os.unlink(tmp)


# -- from the store --------------------------------------------------------------------------------


def render_incident(
    store: IncidentStore, incident: Incident, fmt: str, *, generated_at: datetime | None = None
) -> str:
    """One format of the draft, with the store's corrected times."""
    if fmt not in _RENDERERS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return _RENDERERS[fmt](
        incident,
        store.incident_events(incident),
        generated_at=generated_at or utcnow(),
        times=store.times(incident.id),
    )


def export_incident(
    store: IncidentStore,
    data_dir: Path,
    incident: Incident,
    formats: Sequence[str] = ("md",),
    *,
    generated_at: datetime | None = None,
) -> list[Path]:
    """`write_export` with the incident's events and corrected times read from the store."""
    return write_export(
        data_dir,
        incident,
        store.incident_events(incident),
        formats,
        generated_at=generated_at,
        times=store.times(incident.id),
    )


# -- probe history (from the live cockpit) --------------------------------------------------------


def probe_history_markdown(probes: Sequence[ProbeView], since: datetime | None) -> str:
    """Each probe that failed since `since` (or ever, when None): every run of like results the
    cockpit saw, its first error verbatim. "" when no probe failed."""
    sections: list[str] = []
    for probe in probes:
        runs = _failed_runs(probe, since)
        if not runs:
            continue
        rows = [
            f"### {_inline(probe.name)} ({_inline(probe.kind)}, {probe.concurrency} at once)",
            "",
            "| from (UTC) | to (UTC) | local | result | sessions | rounds | error |",
            "|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            first = run.first
            rows.append(
                f"| {_utc_cell(first.at)} | {_utc_cell(run.last_at)} | {local_hms(first.at)} "
                f"| {'ok' if first.ok else 'FAIL'} | {first.sessions_ok}/{first.concurrency} "
                f"| {run.count} | {_cell(first.error or '')} |"
            )
        sections.append("\n".join(rows))
    if not sections:
        return ""
    return "\n\n".join(["## Probe history (every change the cockpit saw)", *sections])


def _failed_runs(probe: ProbeView, since: datetime | None) -> list[Any]:
    runs = [r for r in probe.runs if since is None or r.last_at >= since]
    return runs if any(not r.first.ok for r in runs) else []


def probe_history_json(probes: Sequence[ProbeView], since: datetime | None) -> list[dict[str, Any]]:
    """The same probe history as the Markdown's, as data: per probe, each run of like results
    with its first error verbatim (controls stripped)."""
    out = []
    for probe in probes:
        runs = _failed_runs(probe, since)
        if not runs:
            continue
        out.append(
            {
                "probe": strip_controls(probe.name),
                "kind": strip_controls(probe.kind),
                "concurrency": probe.concurrency,
                "runs": [
                    {
                        "from": iso_utc(run.first.at),
                        "to": iso_utc(run.last_at),
                        "ok": run.first.ok,
                        "sessions_ok": run.first.sessions_ok,
                        "rounds": run.count,
                        "error": strip_controls(run.first.error or ""),
                    }
                    for run in runs
                ],
            }
        )
    return out


def add_probe_history(path: Path, history: list[dict[str, Any]]) -> None:
    """Add the live cockpit's probe history to a written JSON draft."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document["probe_history"] = history
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
