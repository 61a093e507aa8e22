"""The changes panel at 80x24 and larger: kind, host, what, when; while degraded the suspects
first, in order, SUSPECT n with why; hostile text from a change source shown literally."""

from __future__ import annotations

from datetime import timedelta

from pilot_wait import shown_rows
from textual.app import App, ComposeResult

from cockpit.detect.change_suspects import Suspect
from cockpit.detect.detector import Assessment
from cockpit.hub import Snapshot
from cockpit.model import Category, Change, Changes, Deploy, Freshness, SourceStatus
from cockpit.runtime import View
from cockpit.sources.changes.merge import change_from_deploy
from cockpit.timeutil import local_clock, utcnow
from widgets.panels import ChangesPanel

NOW = utcnow()
HOSTILE = "[bold red]pwned[/] $error \x1b]0;title\x07\x1b[2J done"


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ChangesPanel(id="changes")


def view(degraded: bool) -> View:
    deploy = Deploy("files-web", "v9", "ci", NOW - timedelta(minutes=3), "copy edits", "ci")
    package = Change(
        kind="package",
        host="web-2",
        what="systemd 252.5-2 -> 252.6-1 (upgrade)",
        at=NOW - timedelta(minutes=14),
        by="unattended-upgrades",
        source="web-2-dpkg",
        subject="systemd",
        old="252.5-2",
        new="252.6-1",
    )
    flag = Change(
        kind="flag", host="", what=HOSTILE, at=NOW - timedelta(minutes=30), by=HOSTILE, source="f"
    )
    changes = (change_from_deploy(deploy), package, flag)
    suspects = (
        Suspect(
            package, 4.8, ("14m 00s before the first failure", "on web-2, where web-2-health fails")
        ),
        Suspect(changes[0], 2.9, ("3m 00s before the first failure", "same service files-web")),
    )
    statuses = {
        "web-2-dpkg": SourceStatus("web-2-dpkg", "dpkg", Category.DEPLOYS, Freshness.FRESH, NOW),
        "maint": SourceStatus(
            "maint",
            "maintenance",
            Category.DEPLOYS,
            Freshness.STALE,
            NOW,
            stale_since=NOW,
            reason="permission denied: /var/log/maintenance.jsonl",
        ),
    }
    readings = {"web-2-dpkg": Changes("web-2-dpkg", (package,))}
    assessment = Assessment(
        deploys=(deploy,),
        suspect=deploy if degraded else None,
        degraded=degraded,
        changes=changes,
        suspects=suspects if degraded else (),
    )
    return View(Snapshot(NOW, 1, statuses, readings), assessment, None, ())


async def test_suspects_first_with_why_at_80x24_and_larger() -> None:
    for size in ((80, 24), (160, 50)):
        app = Host()
        async with app.run_test(size=size) as pilot:
            panel = app.query_one(ChangesPanel)
            panel.styles.height = 9 if size == (80, 24) else 14
            panel.styles.width = 40 if size == (80, 24) else 80
            panel.show(view(degraded=True))
            await pilot.pause()
            rows = shown_rows(panel)
            text = "\n".join(rows)
            assert panel.border_title == "Changes · 2 suspects"
            assert "! permission denied:" in text and "maintenance.jsonl (maint)" in text, text
            heads = [r for r in rows if "SUSPECT" in r]
            assert len(heads) == 2 and "SUSPECT 1" in heads[0] and "SUSPECT 2" in heads[1]
            assert "pkg web-2 systemd" in heads[0] and "deploy v9" in heads[1], text
            assert rows[rows.index(heads[0]) + 1].startswith("  why: on web-2, where web-2-heal"), (
                text
            )
            if size == (160, 50):
                assert (
                    "why: on web-2, where web-2-health fails; 14m 00s before the first failure"
                    in text
                )
                assert "[bold red]pwned[/] $error \ufffd done" in text  # literal, inert
            assert "\x1b" not in text and "title" not in text


async def test_not_degraded_newest_first_no_suspect() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ChangesPanel)
        panel.show(view(degraded=False))
        await pilot.pause()
        text = "\n".join(shown_rows(panel))
        assert "SUSPECT" not in text and panel.border_title == "Changes"
        assert text.index("deploy v9") < text.index("pkg web-2") < text.index("flag")
        assert "  by unattended-upgrades" in text


def test_why_lines_break_between_reasons_and_mark_what_is_cut() -> None:
    from cockpit.view.deploys import why_lines

    reasons = ("same service files-web", "came as the failure began")
    assert why_lines(reasons, 36) == (
        "  why: same service files-web;",
        "       came as the failure began",
    )
    assert why_lines(reasons, 80) == ("  why: same service files-web; came as the failure began",)
    # A reason longer than a line breaks between its words; past the rows, "…" ends it.
    long = ("on web-1, where web-1-health, web-1-login fails", "same service files-web", "3s")
    lines = why_lines(long, 36)
    assert len(lines) == 2 and lines[1].endswith("…") and all(len(x) <= 36 for x in lines)
    assert why_lines(reasons, 36, rows=1) == ("  why: same service files-web; came…",)
    assert why_lines((), 36) == ()


def test_version_and_who_share_the_room_and_never_leave_one_letter() -> None:
    from cockpit.view.deploys import fit_tail, version_and_who

    assert version_and_who("2026.12.04-2", "alice", 18) == ("2026.12.04-2", "alice")
    # The demo's suspect at 80 columns: the version gives way from its front.
    assert version_and_who("2026.12.04-2", "alice", 15) == ("…12.04-2", "alice")
    assert version_and_who("2026.12.04-2", "deploy-bot", 15) == ("…12.04-2", "deplo…")
    assert version_and_who("2026.12.04-2", "alice", 8) == ("…12.04-2", "")  # no "a…"
    assert fit_tail("v9", 4) == "v9" and fit_tail("abcdef", 4, "...") == "...f"


def demo_view() -> View:
    """The demo's changes: the bad deploy suspected, the one before, yesterday's."""
    bad = Deploy("files-web", "2026.12.04-2", "alice", NOW - timedelta(seconds=5), "s", "log")
    good = Deploy("files-web", "2026.12.04-1", "maria", NOW - timedelta(hours=2), "g", "log")
    old = Deploy("files-web", "2026.12.03-1", "deploy-bot", NOW - timedelta(days=1), "o", "log")
    changes = tuple(change_from_deploy(d) for d in (bad, good, old))
    suspect = Suspect(changes[0], 3.0, ("came as the failure began", "same service files-web"))
    assessment = Assessment(
        deploys=(bad, good, old),
        suspect=bad,
        degraded=True,
        changes=changes,
        suspects=(suspect,),
    )
    status = SourceStatus("log", "jsonl", Category.DEPLOYS, Freshness.FRESH, NOW)
    readings = {"log": Changes("log", changes)}
    return View(Snapshot(NOW, 1, {"log": status}, readings), assessment, None, ())


class Sized(App[None]):
    """The changes panel at the size it has in the cockpit: 40 x 7 with its border at 80x24."""

    CSS = "ChangesPanel { border: round $primary; padding: 0 1; }"

    def compose(self) -> ComposeResult:
        yield ChangesPanel(id="changes")


async def test_the_suspects_why_and_author_are_readable_at_80x24_and_larger() -> None:
    for size, (width, height) in (((80, 24), (40, 7)), ((200, 60), (100, 12))):
        app = Sized()
        async with app.run_test(size=size) as pilot:
            panel = app.query_one(ChangesPanel)
            panel.styles.width, panel.styles.height = width, height
            panel.show(demo_view())
            await pilot.pause()
            rows = shown_rows(panel)
            text = "\n".join(rows)
            assert len(rows) <= panel.content_region.height, text
            assert rows[0].endswith("alice SUSPECT"), text
            # Every word of the why, however many rows it takes.
            said = " ".join(r.strip() for r in rows[1:3])
            assert "why: same service files-web; came as the failure began" in said, text
            assert "…" not in said, text
            assert "maria" in text, text
            if size == (80, 24):
                clock = local_clock(NOW - timedelta(seconds=5), NOW, seconds=False)
                assert rows[0] == f"{clock} deploy …12.04-2 alice SUSPECT", text
                assert rows[1] == "  why: same service files-web;", text
                # Yesterday's deploy: its date alone, so that its author is whole.
                assert rows[-1].endswith("deploy 2026.12.03-1 deploy-bot"), text
            else:
                assert "deploy 2026.12.04-2 alice SUSPECT" in rows[0], text
                assert rows[1] == "  why: same service files-web; came as the failure began"
                assert "deploy 2026.12.03-1 deploy-bot" in text and ":" in rows[-1], text
