"""What the terminal at the other end can show: Unicode or ASCII, how many colours, whether a
multiplexer sits in between, its size. Read from the environment an SSH session carries.

Nothing here asks the terminal itself (no escape-sequence queries): on a slow link an answer can
take seconds, and the first frame must not wait for one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

Colors = Literal["none", "16", "256", "truecolor"]
Multiplexer = Literal["tmux", "screen"]

# Terminals that draw box characters and block elements badly or not at all.
_ASCII_TERMS = frozenset({"dumb", "linux", "vt52", "vt100", "vt102", "vt220", "ansi", "cons25"})
# rich (and so Textual) picks its colour system from the same variables; `textual_color_system`
# maps our answer onto its names so both agree.
_TEXTUAL_SYSTEMS: dict[Colors, str] = {
    "none": "standard",  # with NO_COLOR Textual also strips colour itself
    "16": "standard",
    "256": "256",
    "truecolor": "truecolor",
}


class _Stream(Protocol):
    @property
    def encoding(self) -> str | None: ...

    def isatty(self) -> bool: ...

    def fileno(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TermCaps:
    unicode: bool
    colors: Colors
    no_color: bool
    multiplexer: Multiplexer | None
    size: tuple[int, int] | None  # (columns, rows); None when not a terminal
    term: str = ""
    locale: str = ""
    tty: bool = True

    @property
    def textual_color_system(self) -> str:
        """The TEXTUAL_COLOR_SYSTEM value matching these capabilities."""
        return _TEXTUAL_SYSTEMS[self.colors]

    def summary(self) -> str:
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "not a terminal"
        parts = [
            "unicode" if self.unicode else "ASCII only",
            "no colour (NO_COLOR)" if self.no_color else f"{self.colors} colours",
            f"in {self.multiplexer}" if self.multiplexer else "",
            size,
            f"TERM={self.term or '(unset)'}",
            f"locale {self.locale or '(unset)'}",
        ]
        return ", ".join(p for p in parts if p)


# Python started in the C locale sets LC_CTYPE to one of these itself (PEP 538), so a user's
# LANG=C would look like UTF-8 from inside; LANG still says what the user asked for.
_COERCED = frozenset({"C.UTF-8", "C.utf8", "UTF-8"})


def locale_name(env: Mapping[str, str]) -> str:
    """The locale that decides character encoding: LC_ALL, then LC_CTYPE, then LANG."""
    if not env.get("LC_ALL") and env.get("LC_CTYPE") in _COERCED and env.get("LANG"):
        return env["LANG"]
    for key in ("LC_ALL", "LC_CTYPE", "LANG"):
        if env.get(key):
            return env[key]
    return ""


def _utf8(name: str) -> bool:
    return "utf8" in name.lower().replace("-", "").replace("_", "")


def unicode_ok(env: Mapping[str, str], encoding: str | None) -> bool:
    """Box drawing and block glyphs are safe: a UTF-8 locale (or none set, as with many SSH
    setups that pass no locale), output encoded as UTF-8, and a terminal that draws them."""
    term = env.get("TERM", "")
    if term in _ASCII_TERMS:
        return False
    name = locale_name(env)
    if name and not _utf8(name):
        return False  # "C", "POSIX", "en_US.ISO-8859-1" ...
    return encoding is None or _utf8(encoding)


def color_depth(env: Mapping[str, str]) -> Colors:
    if env.get("NO_COLOR"):  # https://no-color.org: set and not empty
        return "none"
    term = env.get("TERM", "").lower()
    if not term or term == "dumb":
        return "none"
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit") or term.endswith("-direct"):
        return "truecolor"
    if "256" in term:
        return "256"
    return "16"


def multiplexer(env: Mapping[str, str]) -> Multiplexer | None:
    # TMUX and STY are set by the multiplexer itself; TERM is a weaker hint (tmux defaults to
    # TERM=screen, so TMUX is asked first).
    if env.get("TMUX"):
        return "tmux"
    if env.get("STY"):
        return "screen"
    term = env.get("TERM", "")
    if term.startswith("tmux"):
        return "tmux"
    if term.startswith("screen"):
        return "screen"
    return None


def terminal_size(stdout: _Stream) -> tuple[int, int] | None:
    try:
        if not stdout.isatty():
            return None
        size = os.get_terminal_size(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return size.columns, size.lines


def _isatty(stdout: _Stream) -> bool:
    try:
        return bool(stdout.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def detect(env: Mapping[str, str] | None = None, stdout: _Stream | None = None) -> TermCaps:
    """The capabilities of the terminal `stdout` writes to, as the environment describes it."""
    import sys

    env = os.environ if env is None else env
    stdout = sys.stdout if stdout is None else stdout
    colors = color_depth(env)
    return TermCaps(
        unicode=unicode_ok(env, getattr(stdout, "encoding", None)),
        colors=colors,
        no_color=bool(env.get("NO_COLOR")),
        multiplexer=multiplexer(env),
        size=terminal_size(stdout),
        term=env.get("TERM", ""),
        locale=locale_name(env),
        tty=_isatty(stdout),
    )
