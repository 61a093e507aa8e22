"""The page on the screen, through the keys: the alert count in the header, the alerts where
they fit at 80x24 (more on a taller terminal), every alert on Enter with its labels,
annotations and the silences over it; an Alertmanager that goes away makes the strip stale
with the reason while the rest of the screen lives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alertmanager_servers import page
from pilot_wait import shown_rows, shown_text, until

from cockpit.app import CockpitApp
from cockpit.config import Config, parse
from cockpit.runtime import Cockpit
from cockpit.timeutil import utcnow
from cockpit.world.alertmanager.server import Alertmanager, running_alertmanager
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.header import CockpitHeader
from widgets.panels import ProbesPanel


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "am") as server:
        yield server


def cockpit_config(am_url: str, probe_url: str = "http://127.0.0.1:9/") -> Config:
    return parse(
        f'[cockpit]\nservice = "files-web"\n\n'
        f'[[probes]]\nname = "web"\nkind = "http"\nurl = "{probe_url}"\ninterval = 1\n\n'
        f'[[alerts]]\nname = "am"\nurls = ["{am_url}"]\n'
        "matchers = ['service=\"files-web\"']\ninterval = 0.5\ntimeout = 2\n"
    )


def make_app(config: Config, data: Path) -> CockpitApp:
    async def factory() -> Cockpit:
        return Cockpit(config, data, user="oncall-tester")

    return CockpitApp(factory, keys=config.keys)


def panel_text(app: CockpitApp) -> str:
    panel = app.query_one(AlertsPanel)
    return "\n".join([f"{panel.border_title} | {panel.border_subtitle}", *shown_rows(panel)])


def feed(am: Alertmanager) -> None:
    page(am, "FilesWeb5xxHigh", "web-1:443", minutes_ago=9, summary="5xx ratio above 5%")
    page(am, "FilesWeb5xxHigh", "web-2:443", minutes_ago=8, summary="5xx ratio above 5%")
    page(am, "SftpSecondSessionFails", "sftp-1:22", minutes_ago=7, severity="warning")
    page(am, "WebdavSlow", "dav-1:443", minutes_ago=6, severity="info")
    page(am, "DiskFull", "db-1", service="billing")  # another team's: never shown


async def test_alerts_at_80x24_then_all_on_enter(am: Alertmanager, tmp_path: Path) -> None:
    feed(am)
    made = am.request(
        "POST",
        "/api/v2/silences",
        {
            "matchers": [
                {"name": "alertname", "value": "WebdavSlow", "isRegex": False, "isEqual": True}
            ],
            "startsAt": utcnow().isoformat(),
            "endsAt": (utcnow() + timedelta(minutes=45)).isoformat(),
            "createdBy": "bob",
            "comment": "slow disk, ticket OPS-12",
        },
    )
    app = make_app(cockpit_config(am.url), tmp_path / "data")
    async with app.run_test(size=(80, 24)) as pilot:
        # The count, and the strip grown to its two rows (a layout pass after the view).
        await until(
            pilot,
            lambda: (
                "3 ALERTS" in app.query_one(CockpitHeader).render().plain
                and "SftpSecondSessionFails" in panel_text(app)
            ),
            describe=lambda: panel_text(app),
        )
        shown = panel_text(app)
        assert "Alerts: 3 firing, 1 silenced, +1 more: Enter" in shown
        assert "critical FilesWeb5xxHigh x2  since" in shown and "5xx ratio above 5%" in shown
        assert "warning SftpSecondSessionFails" in shown
        assert "DiskFull" not in shown
        assert app.query_one(ProbesPanel).size.height >= 4  # the panels keep room
        while not app.query_one(AlertsPanel).has_focus:
            await pilot.press("tab")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        rows = app.screen.query_one("#alert-rows").render().plain  # type: ignore[attr-defined]
        assert "labels alertname=FilesWeb5xxHigh, instance=web-1:443" in rows
        assert "summary 5xx ratio above 5%" in rows
        assert "WebdavSlow" in rows and "DiskFull" not in rows
        assert "silenced by bob until" in rows and "slow disk, ticket OPS-12" in rows
        assert 'alertname="WebdavSlow"' in rows
        assert made["silenceID"]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AlertsScreen))


async def test_taller_terminal_shows_every_group(am: Alertmanager, tmp_path: Path) -> None:
    feed(am)
    app = make_app(cockpit_config(am.url), tmp_path / "data")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            pilot, lambda: "WebdavSlow" in panel_text(app), describe=lambda: panel_text(app)
        )
        shown = panel_text(app)
        assert "more: Enter" not in shown and "Alerts: 4 firing" in shown


async def test_alertmanager_gone_strip_stale_rest_lives(am: Alertmanager, tmp_path: Path) -> None:
    feed(am)
    app = make_app(cockpit_config(am.url), tmp_path / "data")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "FilesWeb5xxHigh" in panel_text(app))
        am.stop()
        await until(
            pilot, lambda: "stale since" in panel_text(app), describe=lambda: panel_text(app)
        )
        assert "connection refused" in panel_text(app)
        probes = app.query_one(ProbesPanel)
        # The probe panel goes on being judged: its probe's round still lands.
        await until(pilot, lambda: "web" in shown_text(probes))


async def test_a_secret_not_set_is_said_never_a_quiet_zero(tmp_path: Path) -> None:
    config = parse(
        '[cockpit]\nservice = "files-web"\n\n'
        '[[alerts]]\nname = "am"\nurls = ["http://127.0.0.1:9"]\n'
        'user = "cockpit"\npassword_env = "AM_PASSWORD"\n',
        env={},
    )
    app = make_app(config, tmp_path / "data")
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        # Once the strip has its one row (a layout pass after the first view): the reason is
        # in it, not only in a frame drawn before the layout.
        await until(
            pilot,
            lambda: panel.size.height == 1 and "AM_PASSWORD is not set" in panel_text(app),
            describe=lambda: f"{panel_text(app)!r} at {panel.size}",
        )
        shown = panel_text(app)
        assert shown.startswith("Alerts | not configured") and "firing" not in shown
