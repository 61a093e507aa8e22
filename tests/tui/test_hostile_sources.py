"""The cockpit against hostile servers, through its real sources and keys (issue 15).

A deploy API answering the revert with escape sequences in its reason phrase (raw sockets), FTP
servers echoing the probe's password, a Sentry stand-in serving hostile titles and error
details (schema-checked), a deploy log with hostile fields and versions, a webhook echoing its
secret URL. What the terminal would be sent, the clipboard, the store, the audit log and the
exports must hold none of the injected sequences and none of the secrets; `check` and `doctor`
neither; and the cockpit keeps running.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_servers import (
    BIDI,
    DEPLOY_TOKEN,
    FTP_PASSWORD,
    INJECTED,
    MARKUP,
    HostileWorld,
    deploy_line,
    hostile_world,
    leaks,
)
from pilot_wait import until
from textual import events
from textual.widgets._toast import Toast

from cockpit.app import CockpitApp
from cockpit.config import Config, load
from cockpit.detect.probes import ProbeState
from cockpit.runtime import Cockpit
from cockpit.term.textsafe import MARK
from widgets.export_preview import ExportPreviewScreen
from widgets.modals import DeclareScreen, RevertScreen
from widgets.panels import ProbesPanel, SentryPanel
from widgets.probe_detail import ProbeDetailScreen
from widgets.sentry_detail import SentryDetailScreen
from widgets.timeline_view import TimelineScreen

PROBES = ("web-health", "ftp-login", "ftp-exact")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HostileWorld]:
    with hostile_world(tmp_path) as w:
        yield w
        assert w.sentry.schema_errors == []  # the stand-in only ever served Sentry's shapes


def loaded(world: HostileWorld) -> Config:
    return load(world.config, env={**os.environ, **world.env})


def make_app(world: HostileWorld) -> CockpitApp:
    config = loaded(world)

    async def factory() -> Cockpit:
        return Cockpit(config, world.data, user="oncall")

    return CockpitApp(factory, keys=config.keys)


def frame(app: CockpitApp) -> str:
    """The bytes Textual would write to the terminal for the whole screen, toasts included."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def clean(app: CockpitApp, where: str) -> str:
    """Checks the frame's bytes; returns its text (Textual's own cursor and colour sequences
    taken out, one line per row)."""
    shown = frame(app)
    assert not leaks(shown), f"{where}: {leaks(shown)} reached the terminal"
    return re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r"\x1b\[\d+;\d+H", "\n", shown))


def down(app: CockpitApp, name: str) -> bool:
    view = app.last_view
    return view is not None and any(
        p.name == name and p.state is ProbeState.DOWN for p in view.assessment.probes
    )


def files_under(directory: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}


async def test_the_cockpit_through_hostile_sources(world: HostileWorld) -> None:
    app = make_app(world)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        for name in PROBES:
            await until(pilot, lambda n=name: down(app, n), describe=lambda: frame(app)[-2000:])  # type: ignore[misc]
        await until(pilot, lambda: "Issue 0" in frame(app))
        shown = clean(app, "main screen")
        assert "you sent ***" in shown  # the echoed password, redacted
        assert "[bold red]red[/bold red]" in shown  # markup shown as the text it is
        assert MARK in shown  # and a mark where sequences were removed

        # A probe in full: its errors verbatim, but inert and without the password.
        app.query_one(ProbesPanel).focus()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ProbeDetailScreen))
        await pilot.pause()
        clean(app, "probe detail")
        await pilot.press("escape")

        # A Sentry issue's latest event: title, exception value, frames from the stand-in.
        app.query_one(SentryPanel).focus()
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SentryDetailScreen))
        await pilot.pause()
        detail = clean(app, "Sentry detail")
        assert "boom [/]" in detail
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SentryDetailScreen))

        # d: declare, the title pasted from somewhere hostile.
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeclareScreen))
        await pilot.press("ctrl+a", "ctrl+k")  # clear the suggested title
        app.post_message(events.Paste(f"SFTP down {MARKUP} {INJECTED}{BIDI}"))
        await pilot.pause()
        clean(app, "declare form")
        await pilot.press("enter")
        await until(pilot, lambda: app.last_view is not None and app.last_view.incident is not None)
        await until(pilot, lambda: bool(world.http.seen))  # the webhook was told (and echoed)
        # d again: the toast quotes the title, [/] and all (that used to end the TUI).
        await pilot.press("d")
        await until(
            pilot,
            lambda: any("is already open" in t.render().plain for t in app.screen.query(Toast)),
        )
        said = " ".join(t.render().plain for t in app.screen.query(Toast))
        assert "SFTP down [/] [bold red]red[/bold red]" in " ".join(said.split())
        clean(app, "already-open toast")

        # R: the plan, then the revert the deploy API answers with escapes in its reason.
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RevertScreen))
        screen = app.screen
        assert isinstance(screen, RevertScreen)
        await pilot.press(*"files-web", "enter")
        await until(pilot, lambda: screen.outcome is not None, timeout=30)
        assert screen.outcome is not None and not screen.outcome.ok
        await pilot.pause()
        revert = clean(app, "revert screen")
        assert "HTTP 500" in revert and "Internal" in revert
        assert any("/rollback" in s.request_line for s in world.http.seen)
        assert any(s.authorization == f"Bearer {DEPLOY_TOKEN}" for s in world.http.seen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RevertScreen))

        # t: the whole timeline.
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        await pilot.pause()
        clean(app, "timeline")
        await pilot.press("escape")

        # x: the draft, previewed, saved and put on the clipboard.
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ExportPreviewScreen))
        await pilot.pause()
        clean(app, "export preview")
        await pilot.press("s")
        await until(pilot, lambda: not isinstance(app.screen, ExportPreviewScreen))
        await pilot.pause()
        clean(app, "after export")
        clipboard = app.clipboard
        assert "SFTP down" in clipboard and not leaks(clipboard), leaks(clipboard)
        assert app.is_running
        await pilot.press("q")

    stored = files_under(world.data)
    assert any(p.name == "incidents.sqlite3" for p in stored)
    assert any(p.suffix == ".md" for p in stored) and any(p.suffix == ".json" for p in stored)
    assert any(p.name == "audit.log" for p in stored)
    for path, content in stored.items():
        text = content.decode("utf-8", "replace")
        assert not leaks(text), f"{path.name}: {leaks(text)}"  # the bytes, SQLite's included
        if path.suffix != ".sqlite3":  # a binary format: its text is read back below
            assert b"\x1b" not in content, path.name
    with sqlite3.connect(world.data / "incidents.sqlite3") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        cells = [
            value
            for table in tables
            for row in db.execute(f"SELECT * FROM {table}")
            for value in row
            if isinstance(value, str)
        ]
    assert any("SFTP down" in c for c in cells)
    bad = [c for c in cells if leaks(c) or any(ord(ch) < 32 and ch not in "\n\t" for ch in c)]
    assert not bad, bad[:3]
    audit = [json.loads(line) for line in (world.data / "audit.log").read_text().splitlines()]
    assert audit[-1]["action"] == "revert" and audit[-1]["http_status"] == 500
    assert audit[-1]["plan"]["to_version"] == "1.4.1"


def cockpit(world: HostileWorld, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args, "--config", str(world.config)],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **world.env},
    )


@pytest.mark.parametrize("command", [("check",), ("check", "--json"), ("doctor",)])
def test_check_and_doctor_show_echoed_passwords_redacted(
    world: HostileWorld, command: tuple[str, ...]
) -> None:
    result = cockpit(world, *command)
    assert result.returncode in (0, 1), result.stderr
    out = result.stdout + result.stderr
    assert not leaks(out), leaks(out)
    assert "Traceback" not in out
    assert "you sent ***" in out or "you sent ***" in json.dumps(out)
    assert FTP_PASSWORD.lower() not in out.lower()


async def test_a_hostile_deploy_version_is_refused_not_altered(world: HostileWorld) -> None:
    hostile = "1.4.3\n--force \x1b]52;c;Zm9v\x07"
    with world.deploy_log.open("a") as log:
        log.write(deploy_line(hostile, 1))
    app = make_app(world)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(
            pilot,
            lambda: (
                app.last_view is not None
                and any(d.version == hostile for d in app.last_view.assessment.deploys)
            ),
        )
        await pilot.press("R")
        await until(pilot, lambda: bool(app.screen.query(Toast)))
        clean(app, "refused revert")
        assert not isinstance(app.screen, RevertScreen)  # no plan offered for an altered version
        (toast,) = [t.render().plain for t in app.screen.query(Toast)]
        # The exact bytes, escaped so that they are seen and cannot act.
        assert "refusing to revert files-web" in toast and "line break" in toast
        assert "'1.4.3\\n--force \\x1b]52;c;Zm9v\\x07'" in toast
        # Where it is listed, the line break shows as a mark, never as a plain space.
        deploys = clean(app, "deploys")
        assert f"1.4.3{MARK}--force {MARK}" in deploys and "1.4.3 --force" not in deploys
        assert app.is_running
    assert not any("/rollback" in s.request_line for s in world.http.seen)
    # The refusal is on record: the audit log holds the version's exact bytes, as escapes.
    raw = (world.data / "audit.log").read_bytes()
    assert b"\x1b" not in raw and raw.count(b"\n") == 1
    (entry,) = [json.loads(line) for line in raw.decode().splitlines()]
    assert entry["result"] == "refused" and entry["refused_version"]["version"] == hostile
    assert entry["refused_version"]["role"] == "deployed" and entry["who"] == "oncall"
    # The store keeps the observation's key exact but inert.
    with sqlite3.connect(world.data / "incidents.sqlite3") as db:
        keys = [k for (k,) in db.execute("SELECT key FROM events WHERE kind = 'deploy'")]
    assert "deploy:files-web:1.4.3\\n--force \\x1b]52;c;Zm9v\\x07:" in " ".join(keys)
    assert not any("\x1b" in k or "\n" in k for k in keys)
    with sqlite3.connect(world.data / "incidents.sqlite3") as db:
        (refusal,) = [
            t for (t,) in db.execute("SELECT text FROM events WHERE kind = 'revert.refused'")
        ]
    assert f"1.4.3{MARK}--force {MARK}" in refusal and "line break" in refusal
