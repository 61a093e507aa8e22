"""A Sentry issue's latest event on a screen of its own: the exception, then the stack trace with
the most recent call first, frames of the application's own code emphasised and shown with the
code around the line, library frames one line each (`a` shows their code too).

Everything shown comes from the event payload, so it is shown Inert (widgets.inert), never
parsed as markup. `o` opens the issue in a browser when this session can show one, and otherwise
copies the link to the local clipboard through the terminal (OSC 52), which also works over SSH.
"""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser
from collections.abc import Callable, Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.sentry.event import SentryEventDetail, SentryFrame
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_stamp
from widgets.inert import (
    InertContent,
    InertStatic,
    Part,
    clip,
    split_lines,
    styled,
    text,
    toast,
)
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


def header_text(detail: SentryEventDetail) -> InertContent:
    parts: list[Part] = []
    if detail.short_id:
        parts += [(one_line(detail.short_id, 60), "bold"), Inert("  ")]
    parts += [one_line(detail.title or "(untitled)", 1000), Inert("\n")]
    if detail.exception_type:
        parts.append((one_line(detail.exception_type, 200), "bold red"))
        if detail.exception_value:
            parts += [Inert(": "), Inert(detail.exception_value)]
    elif detail.message:
        parts.append(Inert(detail.message))
    facts = [
        detail.platform,
        detail.environment and f"env {detail.environment}",
        detail.release and f"release {detail.release}",
        detail.received_at and f"received {local_stamp(detail.received_at)}",
    ]
    shown = [fact for fact in facts if fact]
    if shown:
        facts_shown = Inert("  ·  ".join(one_line(fact, 300) for fact in shown))
        parts += [Inert("\n"), (facts_shown, "dim")]
    parts.append(Inert("\n"))
    if detail.permalink:
        parts += [(one_line(detail.permalink, 1000), "underline")]
        parts += [(Inert("  (o: open or copy)"), "dim")]
    else:
        parts.append((Inert("no link to this issue"), "dim"))
    return text(*parts)


def frame_text(frame: SentryFrame, *, with_code: bool) -> InertContent:
    """`file:line in function`, then the code around the line with the line itself marked."""
    look = "bold" if frame.in_app else "dim"
    parts: list[Part] = [(one_line(frame.where, 500), look)]
    if frame.lineno is not None:
        parts.append((Inert(f":{frame.lineno}"), look))
    parts += [(Inert(" in "), "dim"), (one_line(frame.function or "?", 300), look)]
    if not frame.in_app:
        parts.append((Inert("  (library)"), "dim"))
    source = [*frame.pre_context, frame.context_line or "", *frame.post_context]
    if not with_code or frame.context_line is None:
        return text(*parts)
    # One line of code per line of the frame, whatever a line held.
    code = highlight(
        "\n".join(Inert(line).replace("\n", " ") for line in source),
        lexer_name_for(frame.filename, frame.platform),
    )
    first = frame.lineno - len(frame.pre_context) if frame.lineno is not None else None
    width = len(str(first + len(source))) if first is not None else 0
    for index, line in enumerate(split_lines(code)):
        current = index == len(frame.pre_context)
        number = f"{first + index:>{width}}" if first is not None else ""
        parts += [
            Inert("\n"),
            (Inert("→ " if current else "  "), "bold" if current else ""),
            (Inert(f"{number} │ "), "bold" if current else "dim"),
            styled(line, "bold") if current else line,
        ]
    return text(*parts)


def chain_text(detail: SentryEventDetail) -> InertContent | None:
    """The exceptions that led to the raised one, oldest first."""
    causes = detail.chain[:-1]
    if not causes:
        return None
    parts: list[Part] = [(Inert("Raised while handling:"), "dim")]
    for cause in causes:
        parts += [Inert("\n  "), (one_line(cause.type, 200), "bold")]
        if cause.value:
            parts += [Inert(": "), one_line(cause.value.splitlines()[0], 1000)]
    return styled(text(*parts), "dim")


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
        yield InertStatic(header_text(detail), id="sentry-header")
        with VerticalScroll(id="frames"):
            if detail.frames:
                yield InertStatic(Inert("Most recent call first"), classes="note")
            elif detail.exception_type:
                yield InertStatic(Inert("This event has no stack trace."), classes="note")
            for index, frame in enumerate(reversed(detail.frames)):
                yield InertStatic(
                    frame_text(frame, with_code=frame.in_app),
                    id=f"frame-{index}",
                    classes="frame in-app" if frame.in_app else "frame library",
                )
            if detail.frames_omitted:
                note = f"… {detail.frames_omitted} outer frames not shown"
                yield InertStatic(Inert(note), classes="note")
            causes = chain_text(detail)
            if causes is not None:
                yield InertStatic(causes, classes="note")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_library(self) -> None:
        self._library_code = not self._library_code
        for index, frame in enumerate(reversed(self.detail.frames)):
            if not frame.in_app:
                widget = self.query_one(f"#frame-{index}", InertStatic)
                widget.update(frame_text(frame, with_code=self._library_code))

    def action_open_link(self) -> None:
        url = self.detail.permalink
        if not url:
            toast(self, Inert("This issue has no link to open."), severity="warning")
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
            toast(self, Inert("Opened in the browser."))
        else:
            self._copy(url)

    def _copy(self, url: str) -> None:
        link = one_line(url, 2000)  # the clipboard gets outside text too: Inert, like the screen
        copied = clip(self, link)
        said = "Link copied to the clipboard (via the terminal)" if copied else "Link"
        toast(self, Inert(f"{said}: {link}"), title=Inert("No browser here"))
