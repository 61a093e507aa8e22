"""The Sentry panel's blind spot at 80x24: what fails with no issue naming it is read whole,
on a second row where it needs one, with the top issue still shown; and on one row at 200x60."""

from __future__ import annotations

from datetime import timedelta

from pilot_wait import shown_rows
from textual.app import App, ComposeResult

from cockpit.detect.detector import Assessment
from cockpit.detect.routes import RouteShare
from cockpit.hub import Snapshot
from cockpit.model import Category, Freshness, Route, SentryIssue, SentryIssues, SourceStatus
from cockpit.runtime import View
from cockpit.timeutil import utcnow
from cockpit.view.sentry import BlindSpot, blind_lines
from widgets.panels import SentryPanel

NOW = utcnow()
DEMO = ("/session 45%", "PROPFIND / 42%", "ftp-login-x4", "sftp-list-x4", "webdav-propfind-x4")


def test_blind_lines_keep_items_whole_and_count_what_is_left_out() -> None:
    blind = BlindSpot(NOW, True, DEMO)
    lines = blind_lines(blind, 36, 2)
    assert lines == ("  no issue: /session 45%,", "    PROPFIND / 42%, ftp-login-x4, +2")
    assert all(len(line) <= 36 for line in lines)
    assert blind_lines(blind, 36, 1) == ("  no issue: /session 45%, +4",)
    assert blind_lines(blind, 200, 2) == ("  no issue: " + ", ".join(DEMO),)
    # No routes told: judged by timing, said in words over the rows.
    timing = blind_lines(BlindSpot(NOW, True, ()), 36, 2)
    assert " ".join(x.strip() for x in timing) == "no issue: 5xx (by timing: no route information)"


def view() -> View:
    status = SourceStatus("sentry", "sentry", Category.SENTRY, Freshness.FRESH, NOW)
    issue = SentryIssue("1", "FILES-WEB-1", "ValueError: invalid date", "error", 2, 2, NOW, NOW)
    routes = (
        RouteShare(Route("GET", "/session"), 45, 0.45),
        RouteShare(Route("PROPFIND", "/"), 42, 0.42),
    )
    assessment = Assessment(
        degraded=True,
        first_failure_at=NOW - timedelta(seconds=20),
        blind_spot="5xx with no Sentry issue",
        blind_routes=routes,
        blind_probes=("ftp-login-x4", "sftp-list-x4", "webdav-propfind-x4"),
    )
    readings = {"sentry": SentryIssues("sentry", (issue,))}
    return View(Snapshot(NOW, 1, {"sentry": status}, readings), assessment, None, ())


class Sized(App[None]):
    CSS = "SentryPanel { border: round $primary; padding: 0 1; }"

    def compose(self) -> ComposeResult:
        yield SentryPanel(id="sentry")


async def test_the_blind_spot_is_read_whole_at_80x24_and_larger() -> None:
    for size, (width, height) in (((80, 24), (40, 7)), ((200, 60), (100, 12))):
        app = Sized()
        async with app.run_test(size=size) as pilot:
            panel = app.query_one(SentryPanel)
            panel.styles.width, panel.styles.height = width, height
            panel.show(view())
            await pilot.pause()
            rows = shown_rows(panel)
            text = "\n".join(rows)
            assert rows[0].startswith("BLIND SPOT since"), text
            assert "FILES-WEB-1" in text and "ValueError: invalid date" in text, text
            if size == (80, 24):
                assert rows[1] == "  no issue: /session 45%,", text
                assert rows[2] == "    PROPFIND / 42%, ftp-login-x4, +2", text
            else:
                assert rows[1] == "  no issue: " + ", ".join(DEMO), text
