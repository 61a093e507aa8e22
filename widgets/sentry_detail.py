"""A Sentry issue's latest event on a screen of its own: the exception, then the stack trace with
the most recent call first, frames of the application's own code emphasised and shown with the
code around the line, library frames one line each (`a` shows their code too).

Everything shown comes from the event payload, so it is built as Text/Content spans, never
parsed as markup. `o` opens the issue in a browser when this session can show one, and otherwise
copies the link to the local clipboard through the terminal (OSC 52), which also works over SSH.
"""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser
from collections.abc import Callable, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from cockpit.sentry_event import SentryEventDetail, SentryFrame
from cockpit.timeutil import local_stamp
from widgets.syntax import highlight, lexer_name_for

Opener = Callable[[str], bool]

_SSH_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")
_DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")


def can_open_browser(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether a browser would appear in front of the person at this terminal.

    Over SSH without a forwarded display, a browser would start on the remote host where nobody
    sees it, or, worse, a text browser would take over the terminal: don't try.
    """
    display = any(env.get(name) for name in _DISPLAY_VARIABLES)
    if any(env.get(name) for name in _SSH_VARIABLES):
        return display
    if platform == "darwin" or platform.startswith("win"):
        return True
    return display or bool(env.get("BROWSER"))


def open_in_browser(url: str) -> bool:
    return webbrowser.open(url, new=2)


# -- building the text ----------------------------------------------------------------------------


def header_text(detail: SentryEventDetail) -> Text:
    text = Text()
    if detail.short_id:
        text.append(detail.short_id, "bold")
        text.append("  ")
    text.append(detail.title or "(untitled)")
    text.append("\n")
    if detail.exception_type:
        text.append(detail.exception_type, "bold red")
        if detail.exception_value:
            text.append(": ")
            text.append(detail.exception_value)
    elif detail.message:
        text.append(detail.message)
    facts = [
        detail.platform,
        detail.environment and f"env {detail.environment}",
        detail.release and f"release {detail.release}",
        detail.received_at and f"received {local_stamp(detail.received_at)}",
    ]
    shown = [fact for fact in facts if fact]
    if shown:
        text.append("\n")
        text.append("  ·  ".join(shown), "dim")
    text.append("\n")
    if detail.permalink:
        text.append(detail.permalink, "underline")
        text.append("  (o: open or copy)", "dim")
    else:
        text.append("no link to this issue", "dim")
    return text


def frame_text(frame: SentryFrame, *, with_code: bool) -> Text:
    """`file:line in function`, then the code around the line with the line itself marked."""
    text = Text()
    text.append(frame.where, "bold" if frame.in_app else "dim")
    if frame.lineno is not None:
        text.append(f":{frame.lineno}", "bold" if frame.in_app else "dim")
    text.append(" in ", "dim")
    text.append(frame.function or "?", "bold" if frame.in_app else "dim")
    if not frame.in_app:
        text.append("  (library)", "dim")
    lines = [*frame.pre_context, frame.context_line or "", *frame.post_context]
    if not with_code or frame.context_line is None:
        return text
    code = highlight("\n".join(lines), lexer_name_for(frame.filename, frame.platform))
    first = frame.lineno - len(frame.pre_context) if frame.lineno is not None else None
    width = len(str(first + len(lines))) if first is not None else 0
    for index, line in enumerate(code.split("\n", allow_blank=True)):
        current = index == len(frame.pre_context)
        number = f"{first + index:>{width}}" if first is not None else ""
        text.append("\n")
        text.append("→ " if current else "  ", "bold" if current else "")
        text.append(f"{number} │ ", "bold" if current else "dim")
        if current:
            line.stylize("bold")
        text.append_text(line)
    return text


def chain_text(detail: SentryEventDetail) -> Text | None:
    """The exceptions that led to the raised one, oldest first."""
    causes = detail.chain[:-1]
    if not causes:
        return None
    text = Text("Raised while handling:", "dim")
    for cause in causes:
        text.append("\n  ")
        text.append(cause.type, "bold")
        if cause.value:
            text.append(": ")
            text.append(cause.value.splitlines()[0] if cause.value else "")
    return text


# -- the screen -----------------------------------------------------------------------------------


class SentryDetailScreen(Screen[None]):
    DEFAULT_CSS = """
    SentryDetailScreen #sentry-header {
        padding: 0 1;
        border-bottom: solid $primary-muted;
    }
    SentryDetailScreen #frames {
        padding: 0 1;
    }
    SentryDetailScreen .frame {
        margin-top: 1;
        padding-left: 1;
    }
    SentryDetailScreen .frame.in-app {
        border-left: thick $accent;
    }
    SentryDetailScreen .frame.library {
        color: $text-muted;
    }
    SentryDetailScreen .note {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("o", "open_link", "Open/copy link"),
        Binding("a", "toggle_library", "Library code"),
    ]

    def __init__(
        self,
        detail: SentryEventDetail,
        *,
        env: Mapping[str, str] | None = None,
        opener: Opener = open_in_browser,
    ):
        super().__init__()
        self.detail = detail
        self._env = os.environ if env is None else env
        self._opener = opener
        self._library_code = False

    def compose(self) -> ComposeResult:
        detail = self.detail
        yield Static(header_text(detail), id="sentry-header")
        with VerticalScroll(id="frames"):
            if detail.frames:
                yield Static(Content("Most recent call first"), classes="note")
            elif detail.exception_type:
                yield Static(Content("This event has no stack trace."), classes="note")
            for index, frame in enumerate(reversed(detail.frames)):
                yield Static(
                    frame_text(frame, with_code=frame.in_app),
                    id=f"frame-{index}",
                    classes="frame in-app" if frame.in_app else "frame library",
                )
            if detail.frames_omitted:
                note = f"… {detail.frames_omitted} outer frames not shown"
                yield Static(Content(note), classes="note")
            causes = chain_text(detail)
            if causes is not None:
                yield Static(causes, classes="note")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_library(self) -> None:
        self._library_code = not self._library_code
        for index, frame in enumerate(reversed(self.detail.frames)):
            if not frame.in_app:
                widget = self.query_one(f"#frame-{index}", Static)
                widget.update(frame_text(frame, with_code=self._library_code))

    def action_open_link(self) -> None:
        url = self.detail.permalink
        if not url:
            self.notify("This issue has no link to open.", severity="warning", markup=False)
            return
        if can_open_browser(self._env):
            self.run_worker(self._open(url), group="open-link", exclusive=True, exit_on_error=False)
        else:
            self._copy(url)

    async def _open(self, url: str) -> None:
        try:
            # webbrowser may wait for the browser process to start: not on the event loop.
            opened = await asyncio.to_thread(self._opener, url)
        except Exception:
            opened = False
        if opened:
            self.notify("Opened in the browser.", markup=False)
        else:
            self._copy(url)

    def _copy(self, url: str) -> None:
        self.app.copy_to_clipboard(url)
        self.notify(
            f"Link copied to the clipboard (via the terminal): {url}",
            title="No browser here",
            markup=False,
        )
