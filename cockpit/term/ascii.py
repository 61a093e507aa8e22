"""Text folded to ASCII for a terminal that shows nothing else (`LANG=C`, `ascii = true`).

Our own glyphs have ASCII forms (widgets.glyphs), but text reaches the screen from everywhere:
an issue title with an accent, an ellipsis the core cut a line with, the MARK where control
characters were removed. Each character outside ASCII becomes exactly one ASCII character, so
offsets into the text (highlighted spans, a palette match) still point at the same places:
letters lose their accents, dashes, quotes, arrows and box lines become their plain look-alikes,
and whatever has none becomes "?".
"""

from __future__ import annotations

import codecs
import io
import unicodedata

_KNOWN = {
    "\u2026": "~",  # ellipsis, as widgets.glyphs.ASCII cuts text
    "\u00b7": "-",  # middle dot, a separator
    "\u2022": "*",  # bullet
    "\u00a0": " ",
    "\u00d7": "x",
    "\u00b0": "o",
    "\u2713": "v",  # check mark
    "\u2714": "v",
    "\u2717": "x",
    "\u2718": "x",
    "\u25b2": "^",
    "\u25bc": "v",
    "\u25b6": ">",
    "\u25c0": "<",
    "\u25c6": "!",
    "\u25cf": "*",
    "\u2191": "^",
    "\u2193": "v",
    "\u2190": "<",
    "\u2192": ">",
    "\u21d2": ">",
    "\u00ab": '"',
    "\u00bb": '"',
}


def _fold(char: str) -> str:
    known = _KNOWN.get(char)
    if known is not None:
        return known
    category = unicodedata.category(char)
    if category == "Pd":
        return "-"  # hyphens, en and em dashes
    if category in ("Pi", "Pf"):
        return "'" if unicodedata.name(char, "").find("SINGLE") >= 0 else '"'
    if category == "Zs":
        return " "
    code = ord(char)
    if 0x2500 <= code <= 0x257F:  # box drawing
        name = unicodedata.name(char, "")
        if "VERTICAL" in name and "HORIZONTAL" not in name:
            return "|"
        if "HORIZONTAL" in name and "VERTICAL" not in name:
            return "-"
        return "+"
    if 0x2190 <= code <= 0x21FF or 0x27F0 <= code <= 0x27FF:  # arrows
        name = unicodedata.name(char, "")
        for word, plain in (("LEFT", "<"), ("RIGHT", ">"), ("UP", "^"), ("DOWN", "v")):
            if word in name:
                return plain
    base = unicodedata.normalize("NFKD", char)
    for part in base:
        if part.isascii() and part.isprintable() and not unicodedata.combining(part):
            return part  # e -> e, the first letter of a ligature
    return "?"


class _Table(dict[int, str]):
    """str.translate's table, filled as characters are met (the cache stays small: one entry
    per distinct character ever shown)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = char if char.isascii() else _fold(char)
        self[code] = folded
        return folded


_table = _Table()


def to_ascii(text: str) -> str:
    """`text` with every character outside ASCII replaced by one ASCII character."""
    if text.isascii():
        return text
    return text.translate(_table)


def _fold_error(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return to_ascii(error.object[error.start : error.end]), error.end


_ERRORS = "cockpit-ascii"
codecs.register_error(_ERRORS, _fold_error)


def fold_stream(stream: object) -> None:
    """Text written to `stream` (a terminal that shows ASCII only) folded as on the screen,
    instead of UTF-8 bytes the terminal would show as two or three junk characters each."""
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="ascii", errors=_ERRORS)
