"""One change in full (Enter in the Changes panel): the rows the view built, every outside
text Inert, scrollable at 80x24."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from cockpit.term.textsafe import Inert, one_line
from cockpit.view.change_detail import ChangeDetail
from widgets.inert import InertContent, InertLabel, InertStatic, Part, lines, text

LABEL = 11


class ChangeDetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
    ]

    def __init__(self, detail: ChangeDetail):
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield InertLabel(one_line(self.detail.title, 200), classes="dialog-title")
            with VerticalScroll(id="results", classes="results"):
                yield InertStatic(detail_content(self.detail), id="rows")
            yield InertStatic(Inert("Esc close  up/down scroll"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#results", VerticalScroll).focus()


def detail_content(detail: ChangeDetail) -> InertContent:
    rows: list[list[Part]] = []
    for label, value in detail.rows:
        style = "$error bold" if label.startswith("SUSPECT") else "$text-muted"
        for n, piece in enumerate(str(value).split("\n") or [""]):
            head = label if n == 0 else ""
            rows.append([(Inert(f"{head:<{LABEL}}"), style), one_line(piece, 2000)])
    return lines(text(*row) for row in rows)
