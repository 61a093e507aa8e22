"""`R` reverts a change that is not a deploy, through the keys a user presses at 80x24: the
top suspect is a commit to a real git repository, the plan names it, the typed confirmation
starts it, the commit is really reverted (a new commit undoes it), the audit log and the
timeline say which change. A change whose source declares no revert says so instead."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from pilot_wait import shown_rows, until

from cockpit.app import CockpitApp
from cockpit.config import Config, parse
from cockpit.config.sections import DetectSettings
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.runtime import Cockpit
from cockpit.timeutil import iso_utc, utcnow
from widgets.inert_forms import InertInput
from widgets.modals import RevertScreen
from widgets.panels import ChangesPanel


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


def config_repo(path: Path) -> str:
    """A config repository whose last commit (five minutes ago) broke the site."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Config Bot")
    git(path, "config", "user.email", "bot@example.com")
    (path / "nginx").mkdir()
    (path / "nginx" / "site.conf").write_text("max_files 100;\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "nginx: site", when=iso_utc(utcnow() - timedelta(hours=3)))
    (path / "nginx" / "site.conf").write_text("max_files 1;\n")
    git(
        path,
        "commit",
        "-qam",
        "nginx: cap files per download",
        when=iso_utc(utcnow() - timedelta(minutes=5)),
    )
    return git(path, "rev-parse", "HEAD")


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


def make_app(config: Config, data: Path) -> CockpitApp:
    async def factory() -> Cockpit:
        return Cockpit(config, data, user="oncall-tester", detect=DetectSettings())

    return CockpitApp(factory, keys=config.keys)  # type: ignore[arg-type]


async def test_r_reverts_the_suspected_config_commit_for_real(tmp_path: Path) -> None:
    repo = tmp_path / "config"
    sha = config_repo(repo)
    dpkg_log = tmp_path / "dpkg.log"
    stamp = (utcnow() - timedelta(minutes=20)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    dpkg_log.write_text(f"{stamp} upgrade openssl:amd64 3.0.1-1 3.0.2-1\n")
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(make_config(tmp_path, repo, dpkg_log), data)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ChangesPanel)

        def listed() -> str:
            return "\n".join(shown_rows(panel))

        await until(pilot, lambda: "SUSPECT 2" in listed(), describe=listed)
        shown = listed()
        # At 80 columns what a change is gets cut, never its rank.
        assert "config nginx: cap f… SUSPECT 1" in shown, shown
        assert "pkg web-1 openssl 3… SUSPECT 2" in shown, shown
        # Its why is whole, on two rows: the reasons, then when it came.
        assert "  why: same service files-web;\n       5m 0" in shown, shown
        assert "s before the failure\n" in shown, shown
        view = app.last_view
        assert view is not None
        top, second = view.assessment.suspects[:2]
        assert top.why[1:] == ("same service files-web",)
        assert second.why[1:] == ("on web-1, where web-1-health fails",)

        # The package upgrade, selected in the panel: its source declares no revert.
        panel.focus()
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert panel.selected is not None and "openssl" in panel.selected
        await pilot.press("R")
        await until(pilot, lambda: bool(app._notifications))
        toasts = " ".join(n.message for n in app._notifications)
        assert "package openssl has no revert: web-1-dpkg (dpkg) declares none" in toasts
        assert not isinstance(app.screen, RevertScreen)

        # Back on the main screen, R takes the top suspect: the config commit.
        app.set_focus(None)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RevertScreen))
        screen = app.screen
        assert isinstance(screen, RevertScreen)
        plan = " ".join(str(w.render()) for w in screen.query(".plan InertStatic"))
        assert f"config {sha[:7]} (config-repo)" in plan, plan
        assert f"git -C {repo} revert --no-edit {sha}" in plan, plan
        await pilot.click("#confirm")
        screen.query_one("#confirm", InertInput).value = "files-web"
        await pilot.press("enter")
        await until(pilot, lambda: screen.outcome is not None, timeout=60)
        assert screen.outcome is not None and screen.outcome.ok, screen.outcome

    # Really reverted: a new commit undoes it, the file is as before.
    assert git(repo, "log", "-1", "--format=%s") == 'Revert "nginx: cap files per download"'
    assert (repo / "nginx" / "site.conf").read_text() == "max_files 100;\n"
    entries = [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]
    finished = [e for e in entries if e.get("result") == "ok"]
    assert finished and finished[-1]["plan"]["change"]["subject"] == sha[:7]
    assert finished[-1]["plan"]["argv"] == ["git", "-C", str(repo), "revert", "--no-edit", sha]
    with IncidentStore(data / "incidents.sqlite3") as store:
        texts = [e.text for e in store.events() if e.kind.startswith("revert.")]
    assert any(
        f"revert config {sha[:7]} (config-repo) started by oncall-tester" in t for t in texts
    )


async def test_a_top_suspect_without_revert_is_said_and_the_deploy_revert_planned(
    tmp_path: Path,
) -> None:
    """With nothing selected, R plans the top suspect; one that cannot be reverted is named
    with why, and R falls back to the deploy revert of before (none here: said too)."""
    dpkg_log = tmp_path / "dpkg.log"
    stamp = (utcnow() - timedelta(minutes=2)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    dpkg_log.write_text(f"{stamp} upgrade openssl:amd64 3.0.1-1 3.0.2-1\n")
    repo = tmp_path / "config"
    config_repo(repo)
    config = make_config(tmp_path, repo, dpkg_log)
    config = replace(config, changes=config.changes[1:])  # the package log only
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(config, data)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ChangesPanel)
        await until(pilot, lambda: "SUSPECT" in "\n".join(shown_rows(panel)))
        await pilot.press("R")
        await until(pilot, lambda: bool(app._notifications))
        said = " ".join(n.message for n in app._notifications)
        assert "cannot revert: package openssl has no revert: web-1-dpkg (dpkg)" in said, said
        assert "no [[services]] entry" in said, said  # and no deploy revert either
        assert not isinstance(app.screen, RevertScreen)
