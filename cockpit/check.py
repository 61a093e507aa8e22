"""One JSON-ready dict per source: the stable output of `cockpit check --json`.

Scripts rely on these field names; add fields, never rename or remove them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.detect.routes import route_totals
from cockpit.hub import Hub, Snapshot
from cockpit.model import (
    Alerts,
    Category,
    Change,
    Changes,
    Deploys,
    ErrorSeries,
    Freshness,
    ProbeResult,
    ProbeResults,
    Reading,
    SentryIssues,
    SourceStatus,
)
from cockpit.timeutil import iso_utc

if TYPE_CHECKING:
    from cockpit.config.loader import Config


ROUTES_REPORTED = 20  # the busiest routes of the 5xx in check --json
CHANGES_REPORTED = 20  # the newest changes of a change source in check --json


def change_report(change: Change) -> dict[str, Any]:
    """One change as `check --json` (and the drill report) write it; stable field names."""
    return {
        "kind": change.kind,
        "host": change.host,
        "service": change.service,
        "what": change.what,
        "at": iso_utc(change.at),
        "by": change.by,
        "subject": change.subject,
        "old": change.old,
        "new": change.new,
        "id": change.id,
        "paths": list(change.paths),
        "source": change.source,
    }


def source_report(status: SourceStatus, reading: Reading | None, target: str) -> dict[str, Any]:
    failed = status.freshness is not Freshness.FRESH
    error = status.reason if failed else ""
    configured = status.freshness is not Freshness.UNCONFIGURED
    if isinstance(reading, ProbeResult) or (reading is None and status.category is Category.PROBE):
        probe = reading if isinstance(reading, ProbeResult) and not failed else None
        return {
            "name": status.name,
            "kind": status.kind,
            "target": target,
            "concurrency": probe.concurrency if probe else None,
            "ok": bool(probe and probe.ok),
            "sessions_ok": probe.sessions_ok if probe else 0,
            "latency_ms": round(probe.latency_ms, 2) if probe and probe.latency_ms else None,
            "error": probe.error if probe else (error or "no result"),
            "at": iso_utc(probe.at) if probe else None,
            "configured": configured,
        }
    out: dict[str, Any] = {
        "source": status.name,
        "kind": status.kind,
        "target": target,
        "ok": not failed,
        "error": error,
        "configured": configured,
    }
    if failed or reading is None:
        return out
    if isinstance(reading, Deploys):
        latest = reading.deploys[0] if reading.deploys else None
        out["deploys"] = len(reading.deploys)
        out["latest"] = (
            {
                "service": latest.service,
                "version": latest.version,
                "who": latest.who,
                "at": iso_utc(latest.at),
                "summary": latest.summary,
            }
            if latest
            else None
        )
        from cockpit.sources.changes.merge import change_from_deploy

        out["latest_change"] = change_report(change_from_deploy(latest)) if latest else None
    elif isinstance(reading, Changes):
        newest = reading.changes[0] if reading.changes else None
        out["changes"] = len(reading.changes)
        out["latest_change"] = change_report(newest) if newest else None
        out["recent_changes"] = [change_report(c) for c in reading.changes[:CHANGES_REPORTED]]
    elif isinstance(reading, ErrorSeries):
        out.update(
            requests=reading.requests,
            errors_5xx=reading.errors_5xx,
            ratio=round(reading.ratio, 4),
            unparsed_lines=reading.unparsed_lines,
            first_ts=iso_utc(reading.first_ts) if reading.first_ts else None,
            last_ts=iso_utc(reading.last_ts) if reading.last_ts else None,
            complete=not reading.behind,
            unparsed_example=(
                {"line": reading.unparsed_example, "why": reading.unparsed_why}
                if reading.unparsed_example
                else None
            ),
            routes_known=reading.routes_known,
            routes_5xx=[
                {
                    "method": str(r.route.method),
                    "path": str(r.route.path),
                    "host": str(r.route.host),
                    "upstream": str(r.route.upstream),
                    "status": r.status,
                    "count": r.count,
                    "share": round(r.count / reading.errors_5xx, 4) if reading.errors_5xx else 0.0,
                }
                for r in route_totals(reading)[:ROUTES_REPORTED]
            ],
        )
        if reading.behind:
            # Partial counts are not a verdict: say what was not read.
            out.update(ok=False, error=reading.behind)
    elif isinstance(reading, SentryIssues):
        out.update(
            issues=reading.matched if reading.matched is not None else len(reading.issues),
            read=len(reading.issues),
            pages=reading.pages,
            rate_limited=reading.rate_limited,
            rate_limited_until=(
                iso_utc(reading.rate_limited_until) if reading.rate_limited_until else None
            ),
            top=[i.short_id for i in reading.issues[:5]],
        )
    elif isinstance(reading, Alerts):
        out.update(
            alerts=len(reading.alerts),
            firing=len(reading.firing),
            silences=sum(1 for s in reading.silences if s.state == "active"),
            unreachable=list(reading.unreachable),
        )
    return out


@dataclass(frozen=True, slots=True)
class Round:
    """One round of every source, as `cockpit check` and `cockpit doctor` both run it."""

    snapshot: Snapshot
    reports: list[dict[str, Any]]
    targets: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.reports)


async def check_round(config: Config, timeout_cap: float | None = None) -> Round:
    """Every source once, concurrently, through the hub the cockpit runs (timeouts, turns on
    shared endpoints, sources not configured here): the one verdict both commands give."""
    from cockpit.sources.registry import build_sources

    sources = build_sources(config.sources())
    hub = Hub(sources, timeout_cap=timeout_cap)
    try:
        snapshot = await hub.poll_all_once()
    finally:
        await hub.aclose()
    targets = {s.name: s.target for s in sources}
    return Round(snapshot, check_reports(snapshot, targets), targets)


def check_reports(snapshot: Snapshot, targets: dict[str, str]) -> list[dict[str, Any]]:
    from cockpit.detect.probes import concurrency_twins

    results = [r for r in snapshot.readings.values() if isinstance(r, ProbeResult)]
    for fleet in snapshot.readings.values():
        if isinstance(fleet, ProbeResults):
            results.extend(fleet.results)
    twins = concurrency_twins(results)
    out: list[dict[str, Any]] = []
    for name, status in snapshot.statuses.items():
        reading = snapshot.readings.get(name)
        if isinstance(reading, ProbeResults) and status.freshness is Freshness.FRESH:
            # A probe fleet read from elsewhere: one object per probe, like local probes.
            out.extend(
                source_report(status, r, r.target) | {"name": r.name} for r in reading.results
            )
        else:
            out.append(source_report(status, reading, targets.get(name, "")))
    for report in out:
        if "concurrency" in report:
            # Fails with N sessions while one session to the same endpoint passes.
            twin = twins.get(str(report["name"]))
            report["only_under_concurrency"] = twin is not None
            report["single_session_twin"] = twin
    return out
