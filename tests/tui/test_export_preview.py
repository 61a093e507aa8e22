"""ExportPreviewScreen in a tiny host app: highlighted Markdown, save or cancel."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.content import Content
from textual.widgets import Label, Static

from cockpit.term.textsafe import Inert
from widgets.export_preview import ExportPreviewScreen

DRAFT = "# SFTP fails [bold]not markup[/]\n\n- **Severity:** SEV2\x1b]0;title\x07\n\n" + "\n".join(
    f"| 13:{i:02d}:00 | note | line {i} |" for i in range(60)
)


class Host(App[None]):
    def __init__(self, screen: ExportPreviewScreen):
        super().__init__()
        self.preview = screen
        self.results: list[bool] = []

    def on_mount(self) -> None:
        self.push_screen(self.preview, self.results.append)


async def test_preview_shows_the_draft_highlighted_as_markdown(tmp_path: Path) -> None:
    screen = ExportPreviewScreen(DRAFT, tmp_path / "incident-1.md")
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = screen.query_one("#preview", Static).content
        assert isinstance(shown, Content)
        assert "\x1b" not in shown.plain and "\x07" not in shown.plain
        assert "SEV2\ufffd" in shown.plain  # the removed title sequence is marked
        assert "[bold]not markup[/]" in shown.plain
        styles = {shown.plain[s.start : s.end]: str(s.style) for s in shown.spans}
        assert "bold" in styles.get("# SFTP fails [bold]not markup[/]", "")  # the heading
        path_label = str(screen.query_one("#preview-path", Label).render())
        assert "incident-1.md" in path_label
        await pilot.press("s")
        await pilot.pause()
    assert app.results == [True]


async def test_escape_cancels_and_the_button_saves(tmp_path: Path) -> None:
    app = Host(ExportPreviewScreen(DRAFT, tmp_path / "a.md"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        app.push_screen(ExportPreviewScreen("# x", tmp_path / "b.md"), app.results.append)
        await pilot.pause()
        await pilot.click("#save")
        await pilot.pause()
    assert app.results == [False, True]


# -- copying the draft: what reaches the terminal's clipboard ------------------------------------


def test_the_encoded_size_is_what_osc52_carries() -> None:
    import base64

    from cockpit.term.clipboard import encoded_size

    for text in ("", "x", "hi", "déploiement \x1b[31m", "# Draft\n" * 999):
        assert encoded_size(text) == len(base64.b64encode(text.encode("utf-8")))


async def test_a_draft_too_long_for_the_terminal_is_not_half_copied() -> None:

    from cockpit.term.clipboard import MAX_PAYLOAD
    from widgets.inert import clip

    app = App[None]()
    async with app.run_test(size=(80, 24)):
        assert clip(app.screen, Inert("# Draft\n| 13:52 | deploy |"))
        assert app.clipboard == "# Draft\n| 13:52 | deploy |"
        long = Inert("x" * (MAX_PAYLOAD // 4 * 3 + 1))
        assert not clip(app.screen, long)
        assert app.clipboard == "# Draft\n| 13:52 | deploy |"
