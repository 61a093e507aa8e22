"""Pygments tokens -> Content, in the terminal's own 16 colours.

The code is made Inert, then each token becomes a plain span with a style, never markup. Named ANSI
colours follow the user's terminal palette (light or dark) and survive a 16-colour SSH session.
Source shown in a stack trace is a fragment, so lexing errors are shown unstyled, never in red.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (
    Comment,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    _TokenType,
)
from pygments.util import ClassNotFound

from cockpit.term.textsafe import Inert
from widgets.inert import InertContent, Part, text

PLAIN = "text"

# Most specific first: the first ancestor of a token type found here gives its style.
_STYLES: dict[_TokenType, str] = {
    Comment: "dim italic",
    Keyword.Constant: "cyan",
    Keyword: "magenta",
    Operator.Word: "magenta",
    Name.Builtin: "cyan",
    Name.Function: "blue",
    Name.Class: "bold blue",
    Name.Decorator: "cyan",
    Name.Exception: "bold blue",
    String: "green",
    Number: "yellow",
    # Markdown (the export preview): headings, emphasis, list markers.
    Generic.Heading: "bold cyan",
    Generic.Subheading: "bold cyan",
    Generic.Strong: "bold",
    Generic.Emph: "italic",
}

# Sentry's event `platform` -> a pygments lexer, for frames whose file name says nothing.
_PLATFORMS = {
    "python": "python",
    "javascript": "javascript",
    "node": "javascript",
    "java": "java",
    "ruby": "ruby",
    "php": "php",
    "go": "go",
    "csharp": "csharp",
    "elixir": "elixir",
    "perl": "perl",
    "cocoa": "swift",
    "native": "c",
    "c": "c",
    "rust": "rust",
    "dart": "dart",
    "kotlin": "kotlin",
}


def lexer_name_for(filename: str, platform: str = "") -> str:
    """The pygments lexer name for a file, else for the platform, else plain text."""
    name = PurePosixPath(filename.replace("\\", "/")).name if filename else ""
    if name:
        try:
            return str(get_lexer_for_filename(name).aliases[0])
        except (ClassNotFound, IndexError):
            pass
    return _PLATFORMS.get(platform.lower(), PLAIN)


@lru_cache(maxsize=32)
def _lexer(lexer_name: str) -> Lexer | None:
    if lexer_name == PLAIN:
        return None
    try:
        # Keep the text exactly as given: line counts must match the caller's.
        return get_lexer_by_name(lexer_name, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return None


def _style(token: _TokenType) -> str:
    while token is not None:
        style = _STYLES.get(token)
        if style is not None:
            return style
        token = token.parent
    return ""


def highlight(code: str, lexer_name: str) -> InertContent:
    """Code as Content with a style per token; unknown lexers give plain (still inert) text."""
    inert = Inert(code)
    lexer = _lexer(lexer_name)
    if lexer is None:
        return text(inert)
    parts: list[Part] = []
    for token, value in lexer.get_tokens(inert):
        style = _style(token)
        parts.append((Inert(value), style) if style else Inert(value))
    return text(*parts)
