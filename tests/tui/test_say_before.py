"""Say before, not after: what cannot happen is said when the key is pressed, and every
action is found in the command palette with its key."""

from __future__ import annotations

import asyncio

from pilot_wait import until
from textual.command import CommandPalette
from textual.widgets import OptionList
from textual.widgets._toast import Toast

from cockpit.app import CockpitApp
from cockpit.config.sections import KeysSection
from cockpit.keys import on_screen
from cockpit.runtime import Cockpit
from widgets.modals import DeclareScreen


async def never() -> Cockpit:
    await asyncio.Event().wait()
    raise AssertionError


def toasts(app: CockpitApp) -> list[str]:
    return [str(t.render().plain) for t in app.screen.query(Toast)]


async def test_read_only_says_read_only_when_a_write_key_is_pressed() -> None:
    app = CockpitApp(never, read_only=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for key in ("d", "R", "n", "s", "a"):
            await pilot.press(key)
            await until(pilot, lambda k=key: any("read-only" in t for t in toasts(app)))
            assert not isinstance(app.screen, DeclareScreen)
            app.clear_notifications()
            await pilot.pause()


async def test_the_palette_lists_every_action_with_its_key() -> None:
    keys = KeysSection(declare="D")
    app = CockpitApp(never, keys=keys)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))

        def listed() -> str:
            options = app.screen.query_one(OptionList)
            return "\n".join(
                str(getattr(options.get_option_at_index(i).prompt, "plain", ""))
                for i in range(options.option_count)
            )

        await until(pilot, lambda: "Quit (q)" in listed(), describe=listed)
        shown = listed()
        for spec in on_screen("main"):
            assert f"{spec.label} ({app.keys_label(spec.name)})" in shown, (spec.name, shown)
        assert "Declare (D)" in shown  # the user's own key, not the default
        await pilot.press(*"help")
        await until(pilot, lambda: listed().startswith("Help"), describe=listed)
