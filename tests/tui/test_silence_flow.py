"""A silence made through the keys exists in the real Alertmanager with the matchers, comment,
creator and end time the plan showed, and covers exactly the alerts the plan said; matchers
edited to reach more than the selection say so before anything is made; the silence is
audited, on the timeline, and expired from the cockpit; read-only mode refuses with a word."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alertmanager_servers import page
from pilot_wait import until

from cockpit.actions.audit import read_audit
from cockpit.app import CockpitApp
from cockpit.config import Config, parse
from cockpit.runtime import Cockpit
from cockpit.timeutil import parse_iso, utcnow
from cockpit.world.alertmanager.server import Alertmanager, running_alertmanager
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.inert_forms import InertInput
from widgets.silence import SilenceScreen


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "am") as server:
        page(server, "FilesWeb5xxHigh", "web-1:443", minutes_ago=6, summary="5xx above 5%")
        page(server, "FilesWeb5xxHigh", "web-2:443", minutes_ago=5, summary="5xx above 5%")
        page(server, "SftpSecondSessionFails", "sftp-1:22", minutes_ago=4)
        page(server, "FilesWeb5xxHigh", "web-9:443", service="billing")  # not ours
        yield server


def config(url: str) -> Config:
    return parse(
        '[cockpit]\nservice = "files-web"\n\n'
        f'[[alerts]]\nname = "am"\nurls = ["{url}"]\n'
        "matchers = ['service=\"files-web\"']\ninterval = 0.5\nmax_silence_minutes = 120\n"
    )


def make_app(cfg: Config, data: Path, read_only: bool = False) -> CockpitApp:
    async def factory() -> Cockpit:
        return Cockpit(cfg, data, user="oncall-tester", read_only=read_only)

    return CockpitApp(factory, keys=cfg.keys, read_only=read_only)


async def open_alerts(app: CockpitApp, pilot: object) -> None:
    await until(pilot, lambda: len(app.last_view.alerts.alerts) == 3 if app.last_view else False)  # type: ignore[arg-type]
    while not app.query_one(AlertsPanel).has_focus:
        await pilot.press("tab")  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, AlertsScreen))  # type: ignore[arg-type]


def toasts(app: CockpitApp) -> str:
    """Every notification the app raised (a toast shows on whichever screen is on top)."""
    return "\n".join(str(n.message) for n in app._notifications)


async def test_silence_through_the_keys_then_expire(am: Alertmanager, tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = make_app(config(am.url), data)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_alerts(app, pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        selected = app.last_view.alerts.alert(screen.selected or "")  # type: ignore[union-attr]
        assert selected is not None and selected.label("instance") == "web-1:443"
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))
        plan_screen = app.screen
        coverage = plan_screen.query_one("#coverage").render().plain  # type: ignore[attr-defined]
        assert coverage == "covers 1 current alert"
        matchers = plan_screen.query_one("#matchers", InertInput)
        assert matchers.value == (
            'alertname="FilesWeb5xxHigh", instance="web-1:443", service="files-web"'
        )
        # Widened to the whole alertname: the plan says it reaches one more than selected.
        matchers.value = 'alertname="FilesWeb5xxHigh", service="files-web"'
        await pilot.pause()
        coverage = plan_screen.query_one("#coverage").render().plain  # type: ignore[attr-defined]
        assert coverage == ("covers 2 current alerts: 1 MORE than the 1 selected (FilesWeb5xxHigh)")
        # No comment: refused in words, nothing made.
        plan_screen.query_one("#comment", InertInput).focus()
        await pilot.press("enter")
        problems = plan_screen.query_one("#problems").render().plain  # type: ignore[attr-defined]
        assert "a comment is required" in problems and am.silences() == []
        await pilot.press(*"rolling back v2")
        minutes = plan_screen.query_one("#minutes", InertInput)
        minutes.value = "500"
        await pilot.press("enter")
        problems = plan_screen.query_one("#problems").render().plain  # type: ignore[attr-defined]
        assert "between 1 and 120 minutes" in problems and am.silences() == []
        minutes.value = "30"
        before = utcnow()
        await pilot.press("enter")
        await until(pilot, lambda: "silenced until" in toasts(app), describe=lambda: toasts(app))
        (made,) = am.silences()
        assert made["createdBy"] == "oncall-tester" and made["comment"] == "rolling back v2"
        assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in made["matchers"]} == {
            ("alertname", "FilesWeb5xxHigh", False, True),
            ("service", "files-web", False, True),
        }
        ends = parse_iso(made["endsAt"])
        assert before + timedelta(minutes=30) <= ends <= utcnow() + timedelta(minutes=30)

        def silenced() -> set[str]:
            return {
                a["labels"]["instance"]
                for a in am.alerts()
                if made["id"] in a["status"]["silencedBy"]
            }

        # Exactly the two alerts the plan said: not SFTP, not billing's web-9.
        await until(pilot, lambda: silenced() == {"web-1:443", "web-2:443"}, describe=silenced)
        await until(
            pilot,
            lambda: any(e.kind == "silence.created" for e in app.last_view.timeline),  # type: ignore[union-attr]
        )
        event = next(e for e in app.last_view.timeline if e.kind == "silence.created")  # type: ignore[union-attr]
        assert (
            "oncall-tester: silenced" in event.text and "(2 alerts): rolling back v2" in event.text
        )

        # Expire it from the alerts screen, on the selected alert the silence covers.
        assert isinstance(app.screen, AlertsScreen)
        await until(
            pilot,
            lambda: bool(app.last_view.alerts.covering(selected)),  # type: ignore[union-attr]
        )
        await pilot.press("e")
        await until(pilot, lambda: am.silences()[0]["status"]["state"] == "expired")
        await until(pilot, lambda: "expired" in toasts(app), describe=lambda: toasts(app))
    entries = [(e["event"], e["action"], e.get("ok")) for e in read_audit(data)]
    assert entries == [
        ("started", "silence", None),
        ("finished", "silence", True),
        ("started", "silence.expire", None),
        ("finished", "silence.expire", True),
    ]
    audited = read_audit(data)[1]
    assert audited["id"] == made["id"] and audited["who"] == "oncall-tester"
    assert len(audited["plan"]["covers"]) == 2


async def test_read_only_cannot_silence(am: Alertmanager, tmp_path: Path) -> None:
    app = make_app(config(am.url), tmp_path / "data", read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_alerts(app, pilot)
        await pilot.press("s")
        await until(
            pilot, lambda: "read-only: silence alert" in toasts(app), describe=lambda: toasts(app)
        )
        assert not isinstance(app.screen, SilenceScreen) and am.silences() == []


async def test_resolving_offers_to_expire_the_incidents_silences(
    am: Alertmanager, tmp_path: Path
) -> None:
    from cockpit.incident.declare import DeclareRequest
    from cockpit.model import IncidentStatus
    from widgets.modals import ChoiceScreen

    app = make_app(config(am.url), tmp_path / "data")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_alerts(app, pilot)
        assert app.cockpit is not None
        await app.cockpit.declare(DeclareRequest("5xx on files-web", "SEV2", "oncall-tester"))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))
        await pilot.press(*"flapping during the revert", "enter")
        await until(pilot, lambda: len(am.silences()) == 1)
        await until(pilot, lambda: bool(app.cockpit.incident_silences()))  # type: ignore[union-attr]
        await pilot.press("escape")  # back on the main screen
        app.save_status(IncidentStatus.RESOLVED)
        await until(
            pilot, lambda: isinstance(app.screen, ChoiceScreen), describe=lambda: toasts(app)
        )
        said = app.screen.query_one(".dialog-title").render().plain  # type: ignore[attr-defined]
        assert said == "1 silence made during the incident still active"
        await pilot.press("enter")  # "Expire them now" has the focus
        await until(pilot, lambda: am.silences()[0]["status"]["state"] == "expired")


async def test_a_acknowledges_the_page_when_declaring_could_not(
    am: Alertmanager, tmp_path: Path
) -> None:
    from notify_servers import Recorder
    from servers import serving

    from cockpit.incident.declare import DeclareRequest

    with serving(Recorder()) as pd:
        pd.fail_next("/pd/", 202, 500)  # the trigger goes out, its acknowledge is refused
        cfg = parse(
            '[cockpit]\nservice = "files-web"\n\n'
            f'[[alerts]]\nname = "am"\nurls = ["{am.url}"]\ninterval = 0.5\n'
            "matchers = ['service=\"files-web\"']\n\n"
            f'[[notify]]\nkind = "pagerduty"\nname = "pd"\nrouting_key_env = "PD_KEY"\n'
            f'url = "{pd.url("/pd/v2/enqueue")}"\n',
            env={"PD_KEY": "routing-key-0123456789"},
        )
        app = make_app(cfg, tmp_path / "data")
        async with app.run_test(size=(100, 30)) as pilot:
            await open_alerts(app, pilot)
            assert app.cockpit is not None
            await app.cockpit.declare(DeclareRequest("5xx on files-web", "SEV2", "oncall-tester"))
            await until(pilot, lambda: len(pd.bodies("/pd/")) == 2)
            await pilot.press("a")
            await until(
                pilot,
                lambda: "page acknowledged on pd" in toasts(app),
                describe=lambda: toasts(app),
            )
            await pilot.press("a")  # once is enough: nothing more is sent
            await until(pilot, lambda: "acknowledged already" in toasts(app))
        trigger, refused, ack = pd.bodies("/pd/")
        assert [b["event_action"] for b in (trigger, refused, ack)] == [
            "trigger",
            "acknowledge",
            "acknowledge",
        ]
        assert ack == {
            "routing_key": "routing-key-0123456789",
            "event_action": "acknowledge",
            "dedup_key": trigger["dedup_key"],
        }
