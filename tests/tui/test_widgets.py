"""Panels render model objects: untrusted text stays inert, stale sources say since when and
why, and the layout holds at 80x24."""

from __future__ import annotations

from datetime import timedelta

from pilot_wait import shown_text
from textual.app import App, ComposeResult

from cockpit.detect.detector import Assessment
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Deploy,
    Deploys,
    Freshness,
    SentryIssue,
    SentryIssues,
    SourceStatus,
    TimelineEvent,
)
from cockpit.runtime import View
from cockpit.term.textsafe import one_line
from cockpit.timeutil import local_hms, utcnow
from widgets.panels import DeploysPanel, Panel, SentryPanel
from widgets.timeline import TimelineStrip

NOW = utcnow()
HOSTILE = "[bold red]pwned[/] $error \x1b]0;title\x07\x1b[2J done"


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield SentryPanel(id="sentry")
        yield DeploysPanel(id="deploys")
        yield TimelineStrip(id="timeline")


def view() -> View:
    since = NOW - timedelta(minutes=3)
    statuses = {
        "sentry": SourceStatus("sentry", "sentry", Category.SENTRY, Freshness.FRESH, NOW),
        "log": SourceStatus(
            "log",
            "jsonl",
            Category.DEPLOYS,
            Freshness.STALE,
            NOW - timedelta(minutes=5),
            stale_since=since,
            reason="no such file: /var/log/deploys.jsonl",
            failures=4,
        ),
    }
    issue = SentryIssue("1", "WEB-1", one_line(HOSTILE), "error", 3, 1, NOW, NOW)
    deploy = Deploy("web", "v2", "mallory", NOW - timedelta(minutes=9), one_line(HOSTILE))
    readings = {
        "sentry": SentryIssues("sentry", (issue,)),
        "log": Deploys("log", (deploy,)),
    }
    snapshot = Snapshot(NOW, 1, statuses, readings)
    timeline = (TimelineEvent(NOW, "note", one_line(HOSTILE)),)
    return View(snapshot, Assessment(deploys=(deploy,)), None, timeline)


def plain(panel: Panel) -> str:
    return shown_text(panel)


async def test_untrusted_text_is_shown_literally() -> None:
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        v = view()
        for panel in app.query(Panel):
            panel.show(v)
        app.query_one(TimelineStrip).show(v.timeline)
        await pilot.pause()
        sentry = plain(app.query_one(SentryPanel))
        # Markup and variables not applied; the removed sequences leave one visible mark.
        assert "[bold red]pwned[/] $error \ufffd done" in sentry
        assert "\x1b" not in sentry and "title" not in sentry
        assert "[bold red]pwned[/]" in plain(app.query_one(DeploysPanel))
        assert "[bold red]pwned[/]" in app.query_one(TimelineStrip).render().plain


async def test_stale_source_says_since_when_and_why_and_keeps_its_data() -> None:
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        panel = app.query_one(DeploysPanel)
        panel.show(view())
        app.query_one(SentryPanel).show(view())
        await pilot.pause()
        since = local_hms(NOW - timedelta(minutes=3))
        assert panel.border_subtitle == f"stale since {since}"
        assert "! no such file: /var/log/deploys.jsonl (log)" in plain(panel)
        assert panel.has_class("-stale")
        assert "v2 mallory" in plain(panel)  # the last good data stays visible
        assert app.query_one(SentryPanel).border_subtitle == "fresh"


async def test_sentry_panel_puts_new_then_rising_first_and_says_when_rate_limited() -> None:
    from dataclasses import replace

    busy = SentryIssue("1", "WEB-1", "busy", "error", 900, 40, NOW - timedelta(days=2), NOW)
    rising = replace(busy, id="2", short_id="WEB-2", count=30, trend=(0, 1, 0, 1, 8, 12))
    new = replace(busy, id="3", short_id="WEB-3", count=2, first_seen=NOW - timedelta(minutes=1))
    suspect = Deploy("web", "v2", "alice", NOW - timedelta(minutes=5), "change")
    until = NOW + timedelta(minutes=2)
    statuses = {"sentry": SourceStatus("sentry", "sentry", Category.SENTRY, Freshness.FRESH, NOW)}
    readings = {"sentry": SentryIssues("sentry", (busy, rising, new), rate_limited_until=until)}
    v = View(
        Snapshot(NOW, 1, statuses, readings),  # type: ignore[arg-type]
        Assessment(deploys=(suspect,), suspect=suspect),
        None,
        (),
    )
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        panel = app.query_one(SentryPanel)
        panel.show(v)
        await pilot.pause()
        order = [w for line in plain(panel).splitlines() for w in line.split() if "WEB-" in w]
        assert order == ["WEB-3", "WEB-2", "WEB-1"]
        assert plain(panel).splitlines()[0].startswith("NEW WEB-3")
        assert panel.border_subtitle == f"rate limited until {local_hms(until)}"


async def test_drifting_figures_wait_but_a_change_of_state_repaints_at_once() -> None:
    from dataclasses import replace

    from widgets import panels

    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        panel = app.query_one(SentryPanel)
        app.set_focus(None)  # a focused panel follows every change (its cursor row moves)
        v = view()
        panel.show(v)
        await pilot.pause()
        painted = panel._painted_at
        issue = v.snapshot.readings["sentry"].issues[0]  # type: ignore[union-attr]
        busier = replace(issue, count=issue.count + 5)  # only a figure drifts
        drift = replace(
            v,
            snapshot=replace(
                v.snapshot,
                readings={**v.snapshot.readings, "sentry": SentryIssues("sentry", (busier,))},
            ),
        )
        panel.show(drift)
        assert panel._painted_at == painted  # waits up to COSMETIC_REPAINT
        other = replace(issue, id="9", short_id="WEB-9", title="a new kind of failure")
        changed = replace(
            v,
            snapshot=replace(
                v.snapshot,
                readings={**v.snapshot.readings, "sentry": SentryIssues("sentry", (other,))},
            ),
        )
        panel.show(changed)
        assert panel._painted_at > painted
        assert panels.COSMETIC_REPAINT >= 5


async def test_sentry_not_configured_is_never_no_unresolved_issues() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(SentryPanel)
        base = view()
        nothing = Snapshot(NOW, 1, {}, {})
        panel.show(View(nothing, Assessment(), None, ()))
        await pilot.pause()
        shown = plain(panel)
        assert "Sentry not configured" in shown and "no unresolved issues" not in shown
        # Configured but never read yet (failing from the start): not "no issues" either.
        failing = SourceStatus(
            "sentry",
            "sentry",
            Category.SENTRY,
            Freshness.STALE,
            None,
            stale_since=NOW,
            reason="HTTP 401",
        )
        panel.show(View(Snapshot(NOW, 2, {"sentry": failing}, {}), Assessment(), None, ()))
        await pilot.pause()
        shown = plain(panel)
        assert "HTTP 401" in shown and "no unresolved issues" not in shown, shown
        fresh = base.snapshot.statuses["sentry"]
        empty = Snapshot(NOW, 3, {"sentry": fresh}, {"sentry": SentryIssues("sentry", ())})
        panel.show(View(empty, Assessment(), None, ()))
        await pilot.pause()
        assert "no unresolved issues" in plain(panel)
