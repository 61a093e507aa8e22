"""The Changes panel at 80x24 with more changes than fit: down moves the selection through
every change (the list scrolls with it), Enter opens the change in full (kind, host, what,
when, by, paths, detail, why suspected, the revert it would run), scrollable, text inert. The
changes are commits to a real git repository and a dpkg log line; the probe really fails."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

from pilot_wait import shown_rows, until
from textual.containers import VerticalScroll

from cockpit.app import CockpitApp
from cockpit.config import Config, parse
from cockpit.config.sections import DetectSettings
from cockpit.runtime import Cockpit
from cockpit.timeutil import iso_utc, utcnow
from widgets.change_detail import ChangeDetailScreen
from widgets.inert import InertStatic
from widgets.panels import ChangesPanel

HOSTILE = "\x1b[31mRED\x1b[0m [red]markup[/red] \u202eevil"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(repo: Path, *args: str, when: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}
    if when is not None:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)
    return done.stdout.decode().strip()


def config_repo(path: Path) -> list[str]:
    """Six commits in the last half hour, the oldest with a long, hostile body."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Config Bot")
    git(path, "config", "user.email", "bot@example.com")
    (path / "nginx").mkdir()
    shas = []
    for n, minutes in enumerate((30, 25, 20, 15, 10, 5), start=1):
        (path / "nginx" / f"step{n}.conf").write_text(f"step {n};\n")
        git(path, "add", ".")
        body = "\n".join(f"line {i} of why {HOSTILE}" for i in range(40)) if n == 1 else "x"
        when = iso_utc(utcnow() - timedelta(minutes=minutes))
        git(path, "commit", "-q", "-m", f"nginx: step {n}", "-m", body, when=when)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas


def make_config(tmp_path: Path, repo: Path, dpkg_log: Path) -> Config:
    text = f"""
[cockpit]
service = "files-web"

[[probes]]
name = "web-1-health"
kind = "tcp"
host = "127.0.0.1"
port = {closed_port()}
interval = 0.3
timeout = 2
failure_threshold = 1

[[changes]]
name = "config-repo"
kind = "git"
repo = "{repo}"
paths = ["nginx/"]
service = "files-web"
interval = 0.3

[[changes]]
name = "web-1-dpkg"
kind = "dpkg"
host = "web-1"
path = "{dpkg_log}"
interval = 0.3
"""
    return parse(text, tmp_path / "config.toml", env={})


async def test_down_reaches_the_seventh_change_and_enter_opens_it(tmp_path: Path) -> None:
    repo = tmp_path / "config"
    shas = config_repo(repo)
    dpkg_log = tmp_path / "dpkg.log"
    stamp = (utcnow() - timedelta(minutes=2)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    dpkg_log.write_text(f"{stamp} upgrade openssl:amd64 3.0.1-1 3.0.2-1\n")
    data = tmp_path / "data"
    data.mkdir()
    config = make_config(tmp_path, repo, dpkg_log)

    async def factory() -> Cockpit:
        return Cockpit(config, data, user="oncall-tester", detect=DetectSettings())

    app = CockpitApp(factory, keys=config.keys)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ChangesPanel)

        def listed() -> str:
            return "\n".join(shown_rows(panel))

        def ranked() -> int:
            view = app.last_view
            return len(view.assessment.suspects) if view is not None else 0

        await until(pilot, lambda: ranked() == 5 and "SUSPECT 3" in listed(), describe=listed)
        await until(pilot, lambda: "+2" in str(panel.border_title))
        assert "+2 less likely" in str(panel.border_title), panel.border_title
        panel.focus()
        await pilot.pause()
        for _ in range(6):
            await pilot.press("down")
        await pilot.pause()
        # The seventh change: the oldest commit of the half hour, ranked below the five.
        assert panel.selected is not None and shas[0] in panel.selected, panel.selected
        assert "nginx: step 1" in listed(), listed()  # scrolled to it
        assert "SUSPECT 1" not in listed()

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChangeDetailScreen))
        screen = app.screen
        shown = str(screen.query_one("#rows", InertStatic).render())
        assert "kind       config" in shown, shown
        assert "what       nginx: step 1" in shown
        assert "by         Config Bot" in shown
        assert "paths      nginx/step1.conf" in shown
        assert "suspected  no" in shown
        assert f"git -C {repo} revert --no-edit {shas[0]}" in shown
        # The hostile body is shown as text: no escape, no markup taken as style.
        assert "\x1b" not in shown and "\u202e" not in shown and "[red]markup[/red]" in shown
        scroll = screen.query_one("#results", VerticalScroll)
        assert scroll.max_scroll_y > 0  # 40 body lines do not fit at 80x24: it scrolls
        await pilot.press("end")
        await until(pilot, lambda: scroll.scroll_y > 0)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ChangeDetailScreen))

        # The package, the top suspect: why it is suspected, and that it has no revert.
        panel.focus()
        for _ in range(6):
            await pilot.press("up")
        await pilot.pause()
        assert panel.selected is not None and "openssl" in panel.selected
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChangeDetailScreen))
        shown = str(app.screen.query_one("#rows", InertStatic).render())
        assert "SUSPECT 1  2m 0" in shown, shown
        assert "on web-1, where web-1-health fails" in shown
        assert "version    3.0.1-1 -> 3.0.2-1" in shown
        assert "no revert: package openssl has no revert" in shown
