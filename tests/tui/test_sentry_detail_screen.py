"""The Sentry detail screen in a tiny host app, driven by Pilot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from fixtures.sentry.fake_sentry import load
from textual.app import App
from textual.content import Content
from textual.widgets import Static

from cockpit.model import SentryIssue
from cockpit.sentry.event import SentryEventDetail, parse_event
from widgets.sentry_detail import SentryDetailScreen, can_open_browser, frame_text
from widgets.syntax import highlight, lexer_name_for

LINK = "https://sentry.example.com/organizations/files-inc/issues/4501/"
HOSTILE_TITLE = "[bold red]pwned[/] $error \x1b]0;title\x07 done"


def detail(**changes: Any) -> SentryEventDetail:
    issue = SentryIssue(
        id="4501",
        short_id="FILES-WEB-1A",
        title=HOSTILE_TITLE,
        level="error",
        count=3,
        user_count=1,
        first_seen=None,
        last_seen=None,
        permalink=LINK,
    )
    event = load("event-4501-latest.json")
    event["title"] = HOSTILE_TITLE
    parsed = parse_event(event, issue, permalink=changes.pop("permalink", LINK))
    return parsed if not changes else _replace(parsed, **changes)


def _replace(value: SentryEventDetail, **changes: Any) -> SentryEventDetail:
    from dataclasses import replace

    return replace(value, **changes)


class Host(App[None]):
    def __init__(self, screen: SentryDetailScreen):
        super().__init__()
        self.detail_screen = screen
        self.closed = False

    def on_mount(self) -> None:
        def closed(_: None) -> None:
            self.closed = True

        self.push_screen(self.detail_screen, closed)


class Opener:
    def __init__(self, result: bool = True):
        self.result = result
        self.calls: list[str] = []

    def __call__(self, url: str) -> bool:
        self.calls.append(url)
        return self.result


def plain(widget: Static) -> str:
    content = widget.content
    assert isinstance(content, Content)
    return content.plain


def screen_for(env: Mapping[str, str], opener: Opener | None = None) -> SentryDetailScreen:
    return SentryDetailScreen(detail(), env=env, opener=opener or Opener())


async def test_shows_the_exception_and_frames_most_recent_first() -> None:
    app = Host(screen_for({}))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        screen = app.detail_screen
        assert app.screen is screen
        header = plain(screen.query_one("#sentry-header", Static))
        assert header.startswith("FILES-WEB-1A  [bold red]pwned[/] $error \ufffd done\n")
        # What is drawn is the text itself, not markup read from it.
        drawn = screen.query_one("#sentry-header", Static).visual
        assert "[bold red]pwned[/] $error \ufffd done" in str(drawn)
        assert "OperationalError: could not connect to server" in header
        assert "\x1b" not in header
        assert LINK in header
        frames = [screen.query_one(f"#frame-{i}", Static) for i in range(3)]
        assert [w.has_class("in-app") for w in frames] == [False, True, True]
        library, pool, handler = (plain(w) for w in frames)
        assert library == "asyncpg/pool.py:867 in _acquire_impl  (library)"
        assert pool.splitlines()[0] == "files/db/pool.py:119 in acquire"
        assert "→ 119 │         return await self._pool.acquire(timeout=self.timeout)" in pool
        assert "  117 │         if self._closed:" in pool
        assert handler.splitlines()[0] == "files/web/handlers/report.py:42 in get"
        causes = plain(screen.query_one(".note:last-of-type", Static))
        assert (
            causes
            == "Raised while handling:\n  ConnectionRefusedError: [Errno 111] Connection refused"
        )


async def test_escape_closes() -> None:
    app = Host(screen_for({}))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.closed
        assert not isinstance(app.screen, SentryDetailScreen)


async def test_library_code_on_demand() -> None:
    event = load("event-4501-latest.json")
    library = event["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]
    shown = parse_event(
        {
            **event,
            "entries": [
                {
                    "type": "exception",
                    "data": {
                        "values": [{"type": "E", "value": "v", "stacktrace": {"frames": [library]}}]
                    },
                }
            ],
        },
        permalink=LINK,
    )
    app = Host(SentryDetailScreen(shown, env={}))
    async with app.run_test() as pilot:
        await pilot.pause()
        frame = app.detail_screen.query_one("#frame-0", Static)
        assert "│" not in plain(frame)
        await pilot.press("a")
        await pilot.pause()
        assert "→ 802 │         tr, pr = await loop.create_connection(" in plain(frame)


async def test_o_without_a_display_copies_the_link() -> None:
    opener = Opener()
    ssh = {"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22", "BROWSER": "firefox"}
    app = Host(screen_for(ssh, opener))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        assert opener.calls == []
        assert app.clipboard == LINK
        (note,) = app._notifications
        assert note.message == f"Link copied to the clipboard (via the terminal): {LINK}"


async def test_o_with_a_display_opens_the_browser() -> None:
    opener = Opener()
    app = Host(screen_for({"DISPLAY": ":0"}, opener))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert opener.calls == [LINK]
        assert app.clipboard == ""
        assert [n.message for n in app._notifications] == ["Opened in the browser."]


async def test_o_falls_back_to_copying_when_no_browser_starts() -> None:
    opener = Opener(result=False)
    app = Host(screen_for({"WAYLAND_DISPLAY": "wayland-0"}, opener))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert opener.calls == [LINK]
        assert app.clipboard == LINK


async def test_o_without_a_link_says_so() -> None:
    opener = Opener()
    app = Host(SentryDetailScreen(detail(permalink="javascript:alert(1)"), env={}, opener=opener))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        assert opener.calls == [] and app.clipboard == ""
        assert [n.message for n in app._notifications] == ["This issue has no link to open."]


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"BROWSER": "firefox"}, "linux", True),
        ({"SSH_TTY": "/dev/pts/3", "BROWSER": "lynx"}, "linux", False),
        ({"SSH_CONNECTION": "a b c d", "DISPLAY": "localhost:10.0"}, "linux", True),
        ({}, "darwin", True),
        ({"SSH_CLIENT": "a b c"}, "darwin", False),
        ({}, "win32", True),
    ],
)
def test_when_a_browser_is_tried(env: dict[str, str], platform: str, expected: bool) -> None:
    assert can_open_browser(env, platform) is expected


def test_highlighting_is_inert_and_styled() -> None:
    text = highlight('return "[bold]x[/]"  # \x1b[2J note', "python")
    assert text.plain == 'return "[bold]x[/]"  # \ufffd note'
    styles = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styles["return"] == "magenta"
    assert "dim italic" in styles.values()
    assert highlight("a [b]", "no-such-lexer").plain == "a [b]"
    assert lexer_name_for("files/db/pool.py") == "python"
    assert lexer_name_for("bundle.min.js") == "javascript"
    assert lexer_name_for("", "node") == "javascript"
    assert lexer_name_for("<stdin>", "weird") == "text"


def test_a_frame_without_line_numbers_still_reads() -> None:
    frame = detail().frames[1]
    from dataclasses import replace

    text = frame_text(replace(frame, lineno=None), with_code=True).plain
    assert text.splitlines()[0] == "files/db/pool.py in acquire"
    assert "→  │         return await self._pool.acquire(timeout=self.timeout)" in text
