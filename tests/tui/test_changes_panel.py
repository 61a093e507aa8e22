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
from cockpit.timeutil import utcnow
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
