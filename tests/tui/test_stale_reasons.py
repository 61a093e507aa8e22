"""A source that never answered since start shows why where its data would be: the one-row
alerts strip at 80x24 gives its row to the reason, and a second failing change source's reason
shows in the Changes panel, not only as "(+1)" in the border."""

from __future__ import annotations

import json
from pathlib import Path

from daemons import free_port
from pilot_wait import shown_rows, until

from cockpit.app import CockpitApp
from cockpit.config import parse
from cockpit.runtime import Cockpit
from cockpit.timeutil import utcnow
from widgets.alerts import AlertsPanel
from widgets.panels import ChangesPanel


async def test_sources_that_never_answered_show_their_reasons(tmp_path: Path) -> None:
    deploys = tmp_path / "deploys.jsonl"
    deploys.write_text(
        "".join(
            json.dumps(
                {
                    "service": "files-web",
                    "version": f"1.{n}",
                    "who": "bob",
                    "at": utcnow().isoformat(),
                    "summary": "routine release",
                }
            )
            + "\n"
            for n in range(3)
        )
    )
    config = parse(
        '[cockpit]\nservice = "files-web"\n\n'
        f'[[deploys]]\nname = "deploy-log"\nkind = "jsonl"\npath = "{deploys}"\n\n'
        f'[[changes]]\nname = "config-repo"\nkind = "git"\nrepo = "{tmp_path / "nope"}"\n\n'
        f'[[changes]]\nname = "maint"\nkind = "maintenance"\npath = "{tmp_path / "m.jsonl"}"\n\n'
        f'[[alerts]]\nname = "am"\nurls = ["http://127.0.0.1:{free_port()}"]\n'
        "matchers = ['service=\"files-web\"']\ninterval = 0.5\ntimeout = 2\n"
    )

    async def factory() -> Cockpit:
        return Cockpit(config, tmp_path / "data", user="oncall-tester")

    app = CockpitApp(factory, keys=config.keys)

    def rows(panel: type[AlertsPanel] | type[ChangesPanel]) -> str:
        return "\n".join(shown_rows(app.query_one(panel)))

    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot,
            lambda: "connection refused" in rows(AlertsPanel),
            describe=lambda: rows(AlertsPanel),
        )
        assert "nothing yet" not in rows(AlertsPanel)
        await until(
            pilot,
            lambda: "(config-repo)" in rows(ChangesPanel) and "(maint)" in rows(ChangesPanel),
            describe=lambda: rows(ChangesPanel),
        )
