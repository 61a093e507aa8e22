"""ExportPreviewScreen in a tiny host app: highlighted Markdown, save or cancel."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.content import Content
from textual.widgets import Label, Static

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


# -- copying the draft: the OSC 52 sequence the app writes to its terminal -----------------------


def test_osc52_carries_the_text_as_base64() -> None:
    import base64

    from cockpit.term.clipboard import osc52

    text = "# Draft\n| 13:52 | déploiement | \x1b[31m |"
    sequence = osc52(text)
    assert sequence.startswith("\x1b]52;c;") and sequence.endswith("\x07")
    payload = sequence[len("\x1b]52;c;") : -1]
    assert base64.b64decode(payload).decode("utf-8") == text
    # The only control bytes are the sequence's own: nothing in the text can act.
    assert sequence.count("\x1b") == 1 and sequence.count("\x07") == 1
    assert osc52("x", selection="p").startswith("\x1b]52;p;")


def test_osc52_through_tmux_and_its_size_limit() -> None:
    import pytest

    from cockpit.term.clipboard import MAX_PAYLOAD, ClipboardTooLarge, osc52

    assert osc52("hi", tmux=True) == "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\"
    assert osc52("hi") == "\x1b]52;c;aGk=\x07"
    with pytest.raises(ClipboardTooLarge, match="saved file"):
        osc52("x" * MAX_PAYLOAD)
    with pytest.raises(ValueError):
        osc52("x", selection="q;")
