"""Two real Alertmanagers gossiping as one HA cluster (`--cluster.listen-address` on loopback,
the second joined with `--cluster.peer`), both pushed every alert as Prometheus does: each
alert once on the screen and in `cockpit alerts list --json`; a silence made through the
cockpit on one member held by the other; one member down: the alerts still shown, that member
named as stale since when."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alertmanager_servers import page
from pilot_wait import shown_rows, until

from cockpit.alerts.source import AlertmanagerSource
from cockpit.app import CockpitApp
from cockpit.cli import main
from cockpit.config import Config, parse
from cockpit.config.alerts import AlertmanagerConfig
from cockpit.runtime import Cockpit
from cockpit.timeutil import parse_iso, utcnow
from cockpit.world.alertmanager.server import Alertmanager, running_cluster
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.inert_forms import InertInput
from widgets.silence import SilenceScreen

SERVICE = "matchers = ['service=\"files-web\"']\n"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Alertmanager]]:
    with running_cluster(tmp_path / "cluster", 2) as members:
        for am in members:  # Prometheus sends every alert to every member
            page(am, "FilesWeb5xxHigh", "web-1:443", minutes_ago=6, summary="5xx above 5%")
            page(am, "FilesWeb5xxHigh", "web-2:443", minutes_ago=5, summary="5xx above 5%")
            page(am, "DiskFull", "db-1", service="billing")
        page(members[1], "SftpSecondSessionFails", "sftp-1:22", minutes_ago=4)  # one only yet
        yield members


def silenced_by(am: Alertmanager, silence_id: str) -> set[str]:
    return {a["labels"]["instance"] for a in am.alerts() if silence_id in a["status"]["silencedBy"]}


def wait_for(condition: object, what: str) -> None:
    from world_helpers import wait_until

    wait_until(condition, timeout=20, what=what)  # type: ignore[arg-type]


def test_the_cluster_headless(
    cluster: list[Alertmanager],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one, two = cluster
    assert one.peers() == two.peers() == sorted([one.cluster_address, two.cluster_address])
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(f'[[alerts]]\nname = "am"\nurls = ["{one.url}", "{two.url}"]\n' + SERVICE)
    assert main(["alerts", "list", "--json", "--config", str(cfg)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    listed = sorted((a["alertname"], a["labels"]["instance"]) for a in entry["alerts"])
    assert listed == [
        ("FilesWeb5xxHigh", "web-1:443"),
        ("FilesWeb5xxHigh", "web-2:443"),
        ("SftpSecondSessionFails", "sftp-1:22"),
    ]
    assert len({a["fingerprint"] for a in entry["alerts"]}) == 3
    assert [m["ok"] for m in entry["members"]] == [True, True] and entry["unreachable"] == []

    # Made through the first member (the first that takes it), held by the second.
    argv = ["alerts", "silence", "--config", str(cfg), "--comment", "rolling back"]
    matchers = ["--matcher", 'alertname="FilesWeb5xxHigh"', "--matcher", 'instance="web-1:443"']
    assert main([*argv, *matchers]) == 0
    assert "covers 1 current alert" in capsys.readouterr().out
    (made,) = one.silences()
    wait_for(lambda: [s["id"] for s in two.silences()] == [made["id"]], "the silence gossiped")
    (held,) = two.silences()
    assert (held["createdBy"], held["comment"]) == (made["createdBy"], "rolling back")
    assert parse_iso(held["endsAt"]) == parse_iso(made["endsAt"])
    wait_for(lambda: silenced_by(two, made["id"]) == {"web-1:443"}, "the second member applied it")

    # The first member down: everything is still listed, the member named stale.
    one.stop()
    assert main(["alerts", "list", "--json", "--config", str(cfg)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert len(entry["alerts"]) == 3 and [s["id"] for s in entry["silences"]] == [made["id"]]
    web1 = next(a for a in entry["alerts"] if a["labels"]["instance"] == "web-1:443")
    assert web1["silences"] == [made["id"]]
    host = one.url.removeprefix("http://")
    (why,) = entry["unreachable"]
    assert why.startswith(f"{host} stale since ") and "connection refused" in why
    down = next(m for m in entry["members"] if not m["ok"])
    assert down["member"] == host and parse_iso(down["stale_since"]) <= utcnow()


async def test_a_member_stays_stale_since_its_first_failed_round(
    cluster: list[Alertmanager],
) -> None:
    one, two = cluster
    cfg = AlertmanagerConfig(name="am", urls=(one.url, two.url), matchers=('service="files-web"',))
    source = AlertmanagerSource(cfg)
    try:
        assert (await source.poll()).stale == ()
        one.stop()
        first = await source.poll()
        second = await source.poll()
    finally:
        await source.aclose()
    assert len(second.alerts) == 3
    assert first.stale == second.stale and [m for m, _ in second.stale] == [
        one.url.removeprefix("http://")
    ]


def tui_config(*urls: str) -> Config:
    listed = ", ".join(f'"{u}"' for u in urls)
    return parse(
        f'[cockpit]\nservice = "files-web"\n\n[[alerts]]\nname = "am"\nurls = [{listed}]\n'
        + SERVICE
        + "interval = 0.5\ntimeout = 2\n"
    )


def panel_text(app: CockpitApp) -> str:
    panel = app.query_one(AlertsPanel)
    return "\n".join([f"{panel.border_title}", *shown_rows(panel)])


async def test_the_cluster_on_the_screen(cluster: list[Alertmanager], tmp_path: Path) -> None:
    one, two = cluster

    async def factory() -> Cockpit:
        return Cockpit(tui_config(one.url, two.url), tmp_path / "data", user="oncall-tester")

    app = CockpitApp(factory, keys=tui_config(one.url).keys)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot,
            lambda: "Alerts: 3 firing" in panel_text(app),
            describe=lambda: panel_text(app),
        )
        assert "FilesWeb5xxHigh x2" in panel_text(app)  # two alerts, not four
        while not app.query_one(AlertsPanel).has_focus:
            await pilot.press("tab")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        rows = app.screen.query_one("#alert-rows").render().plain  # type: ignore[attr-defined]
        assert rows.count("instance=web-1:443") == 1
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))
        app.screen.query_one("#comment", InertInput).focus()
        await pilot.press(*"rolling back")
        await pilot.press("enter")
        await until(pilot, lambda: len(one.silences()) == 1, describe=one.silences)
        (made,) = one.silences()
        # Held by the other member, which silences the same alert.
        await until(
            pilot,
            lambda: silenced_by(two, made["id"]) == {"web-1:443"},
            describe=lambda: two.alerts(),
        )
        await until(pilot, lambda: not isinstance(app.screen, SilenceScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AlertsScreen))
        await until(
            pilot, lambda: "1 silenced" in panel_text(app), describe=lambda: panel_text(app)
        )

        one.stop()
        host = one.url.removeprefix("http://")
        await until(
            pilot,
            lambda: f"! member {host} stale since" in panel_text(app),
            describe=lambda: panel_text(app),
        )
        shown = panel_text(app)
        # At 80x24 the stale member takes a row; the other group is a key away.
        assert "Alerts: 2 firing, 1 silenced, +1 more: Enter" in shown
        assert "FilesWeb5xxHigh x2" in shown
        line = next(x for x in shown.splitlines() if "stale since" in x)
        assert line.endswith(": connection refused") and "…" not in line
