"""Preview of the postmortem draft before it is saved: Markdown highlighted by Pygments.

Dismisses with True to save, False to cancel. The draft holds untrusted text; it is shown as
highlighted source (never parsed as markup) with controls stripped.
"""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from cockpit.textsafe import one_line, strip_controls


class ExportPreviewScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ExportPreviewScreen { align: center middle; }
    ExportPreviewScreen #preview-box {
        width: 95%; height: 90%; border: round $accent; background: $surface; padding: 0 1;
    }
    ExportPreviewScreen #preview-path { height: 1; color: $text-muted; }
    ExportPreviewScreen #preview-scroll { height: 1fr; }
    ExportPreviewScreen #preview-buttons { height: 3; align-horizontal: right; }
    """
    BINDINGS = [
        Binding("s,ctrl+s", "save", "Save"),
        Binding("escape,c", "cancel", "Cancel"),
    ]

    def __init__(self, markdown: str, path: Path | str):
        super().__init__()
        self.markdown = strip_controls(markdown)
        self.path = Path(path)

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-box"):
            yield Label(Text(f"Save to {one_line(str(self.path), limit=300)}?"), id="preview-path")
            with VerticalScroll(id="preview-scroll"):
                # ANSI theme: readable in 16 colours, follows the terminal's own palette.
                yield Static(
                    Syntax(self.markdown, "markdown", theme="ansi_dark", word_wrap=True),
                    id="preview",
                )
            with Horizontal(id="preview-buttons"):
                yield Button("Save (s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#preview-scroll", VerticalScroll).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "save")

    def action_save(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
