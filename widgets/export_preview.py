"""Preview of the postmortem draft before it is saved: Markdown highlighted by Pygments.

Dismisses with True to save, False to cancel. The draft holds untrusted text; it is shown Inert,
as highlighted source (never parsed as markup).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen

from cockpit.term.textsafe import Inert, one_line
from widgets.inert import InertLabel, InertStatic
from widgets.inert_forms import InertButton
from widgets.syntax import highlight


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
        self.markdown = Inert(markdown)
        self.path = Path(path)

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-box"):
            yield InertLabel(one_line(f"Save to {self.path}?", limit=300), id="preview-path")
            with VerticalScroll(id="preview-scroll"):
                # Named ANSI colours: readable in 16 colours, follow the terminal's own palette.
                yield InertStatic(highlight(self.markdown, "markdown"), id="preview")
            with Horizontal(id="preview-buttons"):
                yield InertButton(Inert("Save (s)"), variant="primary", id="save")
                yield InertButton(Inert("Cancel (esc)"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#preview-scroll", VerticalScroll).focus()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "save")

    def action_save(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
