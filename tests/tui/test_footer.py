"""The key footer rebuilds only when the keys it shows change, and then it does rebuild."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from widgets.footer import KeysFooter


class Keys(App[None]):
    BINDINGS = [Binding("d", "declare", "Declare"), Binding("q", "quit", "Quit")]
    ready = False

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeysFooter(show_command_palette=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "declare" and not self.ready else True

    def action_declare(self) -> None:
        pass


def keys_shown(app: Keys) -> dict[str, FooterKey]:
    return {key.key: key for key in app.query(FooterKey)}


async def test_same_keys_keep_their_widgets_and_a_change_rebuilds() -> None:
    app = Keys()
    async with app.run_test() as pilot:
        await pilot.pause()
        before = keys_shown(app)
        assert set(before) == {"d", "q"} and before["d"].has_class("-disabled")

        app.refresh_bindings()  # nothing changed: no rebuild
        await pilot.pause()
        await pilot.pause()
        assert keys_shown(app) == before

        app.ready = True  # declare becomes possible: the footer must say so
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        after = keys_shown(app)
        assert set(after) == {"d", "q"} and not after["d"].has_class("-disabled")
        assert after["d"] is not before["d"]
