"""The only door from text to the screen: every widget, toast, border and palette entry is fed
through here, and everything here takes `Inert` text (cockpit.term.textsafe), never a plain str.

Nothing is ever parsed as markup: text becomes Content spans with a style of our own. The other
widget modules build no Content, Text, Label, Static, Log, Button or toast themselves (a test
reads their source to hold them to it), so a new widget cannot show outside text unsanitised:
mypy refuses a str where `Inert` or `InertContent` is asked for, and `Inert` is only made by
the sanitiser. The form widgets the modal screens use are in `widgets.inert_forms`, loaded only
with them (the first frame does not wait for them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NewType, cast

from textual.content import Content
from textual.notifications import SeverityLevel
from textual.widgets import Label, Static

from cockpit.term.ascii import to_ascii
from cockpit.term.clipboard import fits_clipboard
from cockpit.term.textsafe import Inert

if TYPE_CHECKING:
    from textual.command import DiscoveryHit, Hit, Matcher
    from textual.dom import DOMNode
    from textual.widget import Widget

# Content built here from Inert parts only; what the widgets render and hand to each other.
InertContent = NewType("InertContent", Content)
Part = Inert | tuple[Inert, str] | InertContent
Shown = Inert | InertContent
EMPTY = Inert("")


def plain(value: Inert) -> Inert:
    """The text as this terminal can show it: folded to ASCII on an ASCII terminal (each
    character stays one character, so spans and match offsets into it still hold)."""
    if value.isascii():
        return value
    from widgets.glyphs import ASCII, current

    return Inert(to_ascii(value)) if current() is ASCII else value


def text(*parts: Part) -> InertContent:
    """Inert pieces (plain, or with a style of ours) as one Content; no markup is read."""
    pieces: list[Content | tuple[str, str] | str] = []
    for part in parts:
        if isinstance(part, tuple):
            pieces.append((plain(Inert(part[0])), part[1]))
        elif isinstance(part, Content):
            pieces.append(part)
        else:
            pieces.append(Content(plain(Inert(part))))
    # Tabs expanded here: a tab written to the terminal would move the cursor off the layout.
    return InertContent(Content.assemble(*pieces).expand_tabs(4))


def shown(value: Shown) -> InertContent:
    return value if isinstance(value, Content) else text(value)


def lines(rows: Iterable[InertContent]) -> InertContent:
    return InertContent(Content("\n").join(rows))


def split_lines(content: InertContent) -> list[InertContent]:
    return [InertContent(line) for line in content.split("\n", allow_blank=True)]


def cut(content: InertContent, width: int) -> InertContent:
    """At most `width` cells, the cut marked with an ellipsis (the terminal's own glyph)."""
    from widgets.glyphs import UNICODE, current

    mark = current().ellipsis
    if mark == UNICODE.ellipsis or content.cell_length <= width:
        return InertContent(content.truncate(max(0, width), ellipsis=True))
    kept = content.truncate(max(0, width - len(mark)))
    return InertContent(kept + Content(mark))


def pad(content: InertContent, width: int) -> InertContent:
    return InertContent(content.pad_right(max(0, width - content.cell_length)))


def styled(content: InertContent, style: str) -> InertContent:
    return InertContent(content.stylize(style))


def set_border(
    widget: Widget, *, title: Shown | None = None, subtitle: Shown | None = None
) -> None:
    """Border texts as Content: a str there would be read as markup."""
    if title is not None:
        widget.border_title = shown(title)
    if subtitle is not None:
        widget.border_subtitle = shown(subtitle)


def toast(
    node: DOMNode,
    message: Inert,
    *,
    title: Inert = EMPTY,
    severity: SeverityLevel = "information",
    timeout: float | None = None,
) -> None:
    """A notification whose message is shown as it is, never read as markup."""
    node.app.notify(
        plain(Inert(message)),
        title=plain(Inert(title)),
        severity=severity,
        timeout=timeout,
        markup=False,
    )


def clip(node: DOMNode, content: Inert) -> bool:
    """Put text on the clipboard through the terminal (OSC 52): Inert, like the screen.

    False, and nothing sent, when the text is longer than terminals accept: a cut draft on the
    clipboard would pass for the whole one.
    """
    if not fits_clipboard(content):
        return False
    node.app.copy_to_clipboard(Inert(content))
    return True


def hit(
    score: float,
    matcher: Matcher,
    command: Inert,
    callback: Callable[[], Any],
    *,
    help: Inert | None = None,
) -> Hit:
    """A command palette entry: prompt and help as Content (the palette reads a str as markup)."""
    from textual.command import Hit

    # Matcher.highlight would read the command as markup: the same highlighting, on Content.
    command = Inert(command)
    prompt: Content = text(command)
    score_found, offsets = matcher.fuzzy_search.match(matcher.query, command)
    if score_found:
        for offset in offsets:
            if not command[offset].isspace():
                prompt = prompt.stylize(matcher.match_style, offset, offset + 1)
    # Hit.help is declared str, but the palette passes it through Content.from_markup, which
    # returns Content untouched.
    help_content = cast(str, text(Inert(help))) if help else None
    return Hit(score, prompt, callback, text=command, help=help_content)


def listed(
    command: Inert, callback: Callable[[], Any], *, help: Inert | None = None
) -> DiscoveryHit:
    """A command palette entry shown before anything is typed, as Content like `hit`."""
    from textual.command import DiscoveryHit

    help_content = cast(str, text(Inert(help))) if help else None
    return DiscoveryHit(text(Inert(command)), callback, text=Inert(command), help=help_content)


class InertLabel(Label):
    def __init__(self, content: Shown = EMPTY, **kwargs: Any) -> None:
        super().__init__(shown(content), markup=False, **kwargs)

    def update(self, content: Shown = EMPTY, *, layout: bool = True) -> None:  # type: ignore[override]
        super().update(shown(content), layout=layout)


class InertStatic(Static):
    def __init__(self, content: Shown = EMPTY, **kwargs: Any) -> None:
        super().__init__(shown(content), markup=False, **kwargs)

    def update(self, content: Shown = EMPTY, *, layout: bool = True) -> None:  # type: ignore[override]
        super().update(shown(content), layout=layout)
