"""One action registry: [keys] refuses what would never work (navigation, reserved keys, two
actions on one key), with exit 2 naming file, line and key; a remapped key works, and the
footer, the help, the palette and the alerts screen show it; read-only says so for each write."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from alertmanager_servers import page
from pilot_wait import until
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from cockpit.app import CockpitApp
from cockpit.cli import main
from cockpit.config import ConfigError, parse
from cockpit.config.sections import KeysSection
from cockpit.keys import ACTION_SPECS, ACTIONS_BY_NAME, NAVIGATION, RESERVED_FOR, on_screen
from cockpit.runtime import Cockpit
from cockpit.world.alertmanager.server import Alertmanager, running_alertmanager
from widgets.alerts import AlertsPanel, AlertsScreen
from widgets.modals import HelpScreen
from widgets.silence import SilenceScreen

PROBE = '[[probes]]\nname = "web"\nkind = "http"\nurl = "http://127.0.0.1:9/"\n'


def test_the_keys_section_is_the_registry() -> None:
    assert [f.name for f in fields(KeysSection)] == [s.name for s in ACTION_SPECS]  # type: ignore[arg-type]
    assert {s.name for s in on_screen("alerts")} >= {"silence", "expire_silence"}
    defaults = KeysSection()
    assert all(getattr(defaults, s.name) == s.key for s in ACTION_SPECS)
    defaults.check()  # the defaults clash with nothing


def test_navigation_holds_every_key_the_screens_bind_themselves() -> None:
    """A key a panel or the alerts screen takes for itself is one [keys] must refuse: the
    focused widget would take it before the action."""
    from textual.binding import Binding

    from widgets.panels import Panel

    def own(bindings: list[object]) -> set[str]:
        return {
            key
            for b in bindings
            if isinstance(b, Binding) and b.id not in ACTIONS_BY_NAME and "refuse" not in b.action
            for key in b.key.split(",")
        }

    assert own(list(Panel.BINDINGS)) <= NAVIGATION["main"]
    assert own(list(AlertsScreen.BINDINGS)) <= NAVIGATION["alerts"] | set(RESERVED_FOR["alerts"])


@pytest.mark.parametrize(
    ("lines", "key", "words"),
    [
        ('declare = "j"', "declare", "'j' moves around this screen"),
        ('declare = "down"', "declare", "'down' moves around"),
        ('note = "tab"', "note", "'tab' moves around"),
        ('revert = "enter"', "revert", "'enter' moves around"),
        ('export = "escape"', "export", "'escape' moves around"),
        ('declare = "ctrl+c"', "declare", "'ctrl+c' is reserved"),
        ('zoom = "ctrl+q"', "zoom", "'ctrl+q' is reserved"),
        ('timeline = "ctrl+p"', "timeline", "'ctrl+p' is reserved"),
        ('declare = "q"', "declare", "'q' is quit"),
        ('note = "?"', "note", "'question_mark' is help"),
        ('note = "d"', "note", "'d' is already the key of declare"),
        ('declare = "n"', "declare", "'n' is already the key of note"),
        ('declare = "D"\nrevert = "D"', "revert", "'D' is already the key of declare"),
        ('silence = "j"', "silence", "'j' moves around the alerts screen"),
        ('expire_silence = "q"', "expire_silence", "'q' closes this screen"),
        ('silence = "g"', "silence", "'g' is already the key of silence_group"),
        ('expire_silence = "s"', "expire_silence", "'s' is already the key of silence"),
        ('declare = "foo"', "declare", "no key is called 'foo'"),
        ('declare = "hyper+"', "declare", "a key name such as"),
        ('declare = "super d"', "declare", "empty or with spaces"),
        ("declare = 4", "declare", "expected a string"),
        ("declare = nan", "declare", "not a finite number"),
        ('declar = "D"', "declar", "did you mean 'declare'"),
    ],
)
def test_keys_that_would_not_work_are_refused_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: str, key: str, words: str
) -> None:
    text = f"{PROBE}\n[keys]\n{lines}\n"
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith(f"{key} ="))
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: keys.{key}: " in err, err
    assert words in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "lines",
    [
        'silence = "S"\nexpire_silence = "E"',
        'silence = "d"',  # another screen's key: the alerts screen has its own
        'declare = "D"\nnote = "d"',  # a swap is no clash
        'declare = "ctrl+d,D"',  # several keys
    ],
)
def test_keys_that_work_load(lines: str) -> None:
    parse(f"{PROBE}\n[keys]\n{lines}\n")


def test_a_key_given_as_a_character_is_the_same_key() -> None:
    with pytest.raises(ConfigError, match="'slash' is already the key of declare"):
        parse(f'{PROBE}\n[keys]\ndeclare = "slash"\nnote = "/"\n')


# -- through the screen ---------------------------------------------------------------------


async def never() -> Cockpit:
    await asyncio.Event().wait()
    raise AssertionError


def toasts(app: CockpitApp) -> list[str]:
    return [str(t.render().plain) for t in app.screen.query(Toast)]


def footer(app: CockpitApp) -> dict[str, str]:
    return {key.description: key.key_display for key in app.query(FooterKey)}


def help_text(app: CockpitApp) -> str:
    return " " + " ".join(
        " ".join(str(w.render().plain).split())  # type: ignore[attr-defined]
        for w in app.screen.query("InertStatic")
    )


async def test_a_remapped_key_works_and_the_footer_and_help_show_it() -> None:
    keys = KeysSection(help="f1", zoom="Z", declare="D", silence="S")
    app = CockpitApp(never, keys=keys)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(pilot, lambda: "Declare" in footer(app), describe=lambda: footer(app))
        shown = footer(app)
        assert shown["Declare"] == "D" and shown["Help"] == "f1", shown
        await pilot.press("z")  # the old key does nothing now
        await pilot.press("Z")
        await until(pilot, lambda: any("5xx graph" in t for t in toasts(app)))
        assert len([t for t in toasts(app) if "5xx graph" in t]) == 1
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown_help = help_text(app)
        assert " D declare an incident" in shown_help, shown_help
        assert " Z 5xx graph window" in shown_help
        assert " S silence the chosen alert" in shown_help
        assert " e expire the silence over the chosen alert" in shown_help


async def test_read_only_says_read_only_for_every_write_of_the_main_screen() -> None:
    keys = KeysSection(declare="D", note="N")
    app = CockpitApp(never, keys=keys, read_only=True)
    writes = [s for s in on_screen("main") if s.writes]
    assert {s.name for s in writes} >= {"declare", "revert", "note", "status", "runbook"}
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for spec in writes:
            key = getattr(keys, spec.name)
            await pilot.press(key)
            await until(
                pilot,
                lambda s=spec: any(f"read-only: {s.name}" in t for t in toasts(app)),
                describe=lambda: toasts(app),
            )
            assert app.screen is app.screen_stack[0]  # nothing opened
            app.clear_notifications()
            await pilot.pause()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        said = help_text(app)
        every = ", ".join(s.name for s in ACTION_SPECS if s.writes)
        assert f"read-only: {every} are disabled" in said, said


# -- the alerts screen, on a real Alertmanager ------------------------------------------------


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "am") as server:
        page(server, "FilesWeb5xxHigh", "web-1:443", minutes_ago=9, summary="5xx above 5%")
        yield server


def alerts_app(am: Alertmanager, data: Path, *, read_only: bool, keys: str) -> CockpitApp:
    config = parse(
        f'[cockpit]\nservice = "files-web"\n\n{PROBE}interval = 1\n\n'
        f'[[alerts]]\nname = "am"\nurls = ["{am.url}"]\ninterval = 0.5\ntimeout = 2\n\n'
        f"[keys]\n{keys}\n"
    )

    async def factory() -> Cockpit:
        return Cockpit(config, data, user="oncall-tester", read_only=read_only)

    return CockpitApp(factory, keys=config.keys, read_only=read_only)


async def open_alerts(app: CockpitApp, pilot: object) -> None:
    await until(pilot, lambda: app.last_view is not None and bool(app.last_view.alerts.alerts))
    while not app.query_one(AlertsPanel).has_focus:
        await pilot.press("tab")  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, AlertsScreen))


def hint(app: CockpitApp) -> str:
    return str(app.screen.query_one("#alerts-keys").render().plain)  # type: ignore[attr-defined]


async def test_remapped_silence_keys_work_and_are_shown(am: Alertmanager, tmp_path: Path) -> None:
    app = alerts_app(
        am, tmp_path / "data", read_only=False, keys='silence = "S"\nacknowledge = "P"'
    )
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_alerts(app, pilot)
        await until(pilot, lambda: "S silence alert" in hint(app), describe=lambda: hint(app))
        assert "g silence group" in hint(app) and "e expire silence" in hint(app)
        assert "P acknowledge page" in hint(app)
        await pilot.press("s")  # the old key: nothing
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))


async def test_read_only_says_read_only_for_every_write_of_the_alerts_screen(
    am: Alertmanager, tmp_path: Path
) -> None:
    app = alerts_app(am, tmp_path / "data", read_only=True, keys='expire_silence = "E"')
    writes = [s for s in on_screen("alerts") if s.writes]
    assert {s.name for s in writes} >= {"silence", "silence_group", "expire_silence"}
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_alerts(app, pilot)
        for spec in writes:
            key = app.keys.expire_silence if spec.name == "expire_silence" else spec.key
            await pilot.press(key)
            word = spec.label.lower()
            await until(
                pilot,
                lambda w=word: any(f"read-only: {w} is disabled" in t for t in toasts(app)),
                describe=lambda: toasts(app),
            )
            assert isinstance(app.screen, AlertsScreen)
            app.clear_notifications()
            await pilot.pause()
