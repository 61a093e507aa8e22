"""The TUI, as a person just paged sees it: an access log read as the wrong format shows its
source stale with the reason, not "no requests logged yet"."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from nginx_servers import running_nginx, wait_for_lines
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.config import load
from cockpit.runtime import Cockpit


def screen_text(app: CockpitApp) -> str:
    shown = app.screen._compositor.render_update(full=True).render_segments(app.console)
    return re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r"\x1b\[\d+;\d+H", "\n", shown))


def panel_words(app: CockpitApp) -> str:
    """The left column's words (the 5xx panel at 80x24), borders out: a reason wrapped over
    rows reads as one."""
    left = "\n".join(row[:40] for row in screen_text(app).splitlines())
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", left).split())


def traffic(url: str) -> None:
    for i in range(12):
        httpx.get(f"{url}/status/{503 if i % 2 else 200}/{i}", timeout=10)


async def test_a_json_log_read_as_combined_is_stale_on_screen(tmp_path: Path) -> None:
    with running_nginx(tmp_path) as nginx:
        traffic(nginx.url)
        wait_for_lines(12, nginx.json_log)
        config = tmp_path / "cockpit.toml"
        config.write_text(
            f'[[errors]]\nname = "edge"\npath = "{nginx.json_log}"\nread_back = 600\n'
            "interval = 0.5\n"
        )
        loaded = load(config)

        async def factory() -> Cockpit:
            return Cockpit(loaded, tmp_path / "data", user="oncall")

        app = CockpitApp(factory, keys=loaded.keys)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(
                pilot,
                lambda: "nginx_combined format" in panel_words(app),
                describe=lambda: screen_text(app),
            )
            text = panel_words(app)
    assert "12 of 12 lines read not in nginx_combined format" in text
    assert 'kind = "nginx_json" reads' in text  # the way out, on an 80-column screen
    assert "no requests logged yet" not in text
