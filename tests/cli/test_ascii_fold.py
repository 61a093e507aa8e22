"""Text folded for an ASCII terminal: one ASCII character for each character, so spans and
match offsets into the text still hold, and look-alikes where there are any."""

from __future__ import annotations

from cockpit.term.ascii import to_ascii
from cockpit.term.textsafe import MARK


def test_every_character_becomes_one_ascii_character() -> None:
    shown = (
        "caf\u00e9 \u2026 5xx \u00b7 30 min \u2192 \u2014 \u201cq\u201d "
        "\u2502\u2500\u256d \U0001f50e \u4e2d"
    )
    folded = to_ascii(shown + MARK)
    assert folded.isascii() and len(folded) == len(shown) + 1
    assert folded == 'cafe ~ 5xx - 30 min > - "q" |-+ ? ??'


def test_ascii_text_is_returned_as_it_is() -> None:
    text = "plain [bold]text[/bold] 100%"
    assert to_ascii(text) is text
