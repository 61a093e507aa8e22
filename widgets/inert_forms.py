"""The form widgets of the modal screens, on the same terms as `widgets.inert`: what they show
is Inert, and what is typed or pasted into an input is made Inert too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from rich.text import Text
from textual.content import Content
from textual.widgets import Button, DataTable, Input, Log, Select

from cockpit.term.textsafe import Inert, one_line
from widgets.inert import EMPTY, Shown, plain, shown, text

T = TypeVar("T")


class InertButton(Button):
    def __init__(self, label: Inert, variant: Any = "default", **kwargs: Any) -> None:
        super().__init__(text(label), variant, **kwargs)


class InertLog(Log):
    """Lines of command output: each one sanitised on its way in, whichever method wrote it."""

    def write(self, data: Inert, scroll_end: bool | None = None) -> InertLog:  # type: ignore[override]
        super().write(plain(Inert(data)), scroll_end)
        return self

    def write_line(self, line: Inert, scroll_end: bool | None = None) -> InertLog:  # type: ignore[override]
        return self.write_lines([line], scroll_end)

    def write_lines(  # type: ignore[override]
        self, lines: Iterable[Inert], scroll_end: bool | None = None
    ) -> InertLog:
        super().write_lines([plain(Inert(line)) for line in lines], scroll_end)
        return self


class InertInput(Input):
    """An input whose prefilled value and placeholder are Inert, and whose typed or pasted
    text is made Inert too (a pasted escape sequence is no more welcome than a fetched one)."""

    def __init__(self, value: Inert = EMPTY, *, placeholder: Inert = EMPTY, **kwargs: Any):
        super().__init__(
            plain(one_line(value, 10_000)), placeholder=plain(one_line(placeholder)), **kwargs
        )

    def replace(self, text: str, start: int, end: int) -> None:
        super().replace(plain(Inert(text)).replace("\n", " "), start, end)


class InertSelect(Select[T]):
    def __init__(self, options: Iterable[tuple[Inert, T]], **kwargs: Any) -> None:
        super().__init__([(text(label), value) for label, value in options], **kwargs)


class InertTable(DataTable[Content]):
    def add_columns(self, *labels: Inert) -> list[Any]:  # type: ignore[override]
        # Column labels must be str or rich Text; a str would be read as markup.
        return list(super().add_columns(*(Text(plain(Inert(label))) for label in labels)))

    def add_sized_column(self, label: Inert, width: int) -> Any:
        return super().add_column(Text(plain(Inert(label))), width=width)

    def add_row(self, *cells: Shown, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().add_row(*(shown(cell) for cell in cells), **kwargs)
