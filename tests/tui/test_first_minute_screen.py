"""The demo's screen in its first minute, against a running drill world, at 80x24 and larger:
the header says since when it is degraded, the suspect's why and author are read whole, the
5xx graph shows the zoom that fits its young data with bars at the rate the figure says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pilot_wait import shown_rows, until

from cockpit.app import CockpitApp
from cockpit.config import Config
from cockpit.config.sections import DetectSettings
from cockpit.runtime import Cockpit
from cockpit.view.header import degraded_words
from widgets.header import CockpitHeader
from widgets.panels import ChangesPanel, ErrorsPanel, Panel, SentryPanel


def make_app(config: Config, data: Path) -> CockpitApp:
    async def factory() -> Cockpit:
        return Cockpit(
            config, data, user="oncall-tester", detect=DetectSettings(blind_spot_grace=3)
        )

    return CockpitApp(factory, keys=config.keys)  # type: ignore[arg-type]


def screen(app: CockpitApp) -> str:
    parts = [app.query_one(CockpitHeader).render().plain]
    for panel in app.query(Panel):
        parts += [str(panel.border_title), *shown_rows(panel)]
    return "\n".join(parts)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
async def test_the_first_minute_reads_whole(
    world_config: Config, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(world_config, tmp_path)
    async with app.run_test(size=size) as pilot:

        def ready() -> bool:
            view = app.last_view
            text = screen(app)
            return (
                view is not None
                and bool(view.assessment.suspects)
                and "SUSPECT" in text
                and "BLIND SPOT" in text
                and "/s of" in text
            )

        await until(pilot, ready, timeout=60, describe=lambda: screen(app))
        view = app.last_view
        assert view is not None

        # The header: DEGRADED since the impact start, within the width, the time whole.
        header = app.query_one(CockpitHeader).render().plain
        words = degraded_words(view.assessment)
        assert len(header) <= size[0] and any(w in header for w in words), header
        assert re.search(r"DEGRADED since (before )?\d\d:\d\d:\d\d", header), header

        # The suspect: its author whole, every reason of its why on screen, none cut.
        changes = shown_rows(app.query_one(ChangesPanel))
        head = next(r for r in changes if "SUSPECT" in r)
        deploy = view.assessment.suspects[0].change.deploy
        assert deploy is not None and f" {deploy.who} SUSPECT" in head, changes
        at = changes.index(head) + 1
        why = " ".join(r.strip() for r in changes[at : at + 2] if not r[:1].strip())
        for reason in view.assessment.suspects[0].told:
            assert reason in why, (reason, changes)

        # The 5xx graph: young data get the 5-minute zoom and say where they begin, to the
        # second; the scale (the highest bar) is the rate of the time covered, not a third
        # of the figure beside it.
        errors = app.query_one(ErrorsPanel)
        graph = view.panels.errors.graph
        assert graph is not None and graph.held < 300, graph
        assert errors.border_title == "5xx · 5 min"
        rows = shown_rows(errors)
        figure = float(re.search(r"([\d.]+)/s of", rows[0]).group(1))  # type: ignore[union-attr]
        scales = [m for r in rows[1:] if (m := re.search(r" ([\d.]+)/s$", r.rstrip()))]
        assert scales and float(scales[0].group(1)) >= figure / 2, rows
        assert re.search(r"from \d\d:\d\d:\d\d", rows[-1]), rows

        # The blind spot's "no issue:" row: whole items, no cut one.
        sentry = shown_rows(app.query_one(SentryPanel))
        blind = [r for r in sentry[1:3] if r.startswith("  no issue: ") or r.startswith("    ")]
        assert blind and not any(r.rstrip().endswith("…") for r in blind), sentry
