"""What the terminal's clipboard (OSC 52) can carry.

A cockpit on a bastion reaches the laptop's clipboard only through the terminal emulator, which
reads the OSC 52 sequence Textual writes (`App.copy_to_clipboard`; inside tmux it needs
`set-clipboard on`, which `cockpit doctor` checks). Terminals cap what they accept (xterm and
others around 100 kB of base64) and silently drop or cut a longer payload, so a long draft is
pointed to in its saved file instead of being half-copied.
"""

from __future__ import annotations

MAX_PAYLOAD = 100_000  # bytes of base64


def encoded_size(text: str) -> int:
    """Bytes of base64 that OSC 52 carries for `text`."""
    return (len(text.encode("utf-8")) + 2) // 3 * 4


def fits_clipboard(text: str) -> bool:
    return encoded_size(text) <= MAX_PAYLOAD
