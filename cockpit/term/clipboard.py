"""OSC 52: put text on the clipboard of the terminal the engineer sits at, through SSH.

A cockpit on a bastion cannot reach the laptop's clipboard any other way; the terminal
emulator does it when it reads this escape sequence. Only the sequence is built here (no I/O),
so the headless core stays free of the TUI; the app writes it to its terminal.
"""

from __future__ import annotations

import base64

# Terminals cap what they accept (xterm and others around 100 kB of base64); a longer draft
# is better saved to a file than silently truncated by the terminal.
MAX_PAYLOAD = 100_000


class ClipboardTooLarge(ValueError):
    def __init__(self, size: int):
        self.size = size
        super().__init__(
            f"{size} bytes encoded is more than a terminal accepts ({MAX_PAYLOAD}); "
            "use the saved file instead"
        )


def osc52(text: str, *, selection: str = "c", tmux: bool = False) -> str:
    """The sequence that sets the clipboard (`c`) or primary selection (`p`) to `text`.

    Inside tmux the plain sequence works with `set-clipboard on` (what `cockpit doctor`
    checks); `tmux=True` wraps it for DCS passthrough instead (needs `allow-passthrough on`).
    The payload is base64, so no byte of `text` can act as a control.
    """
    if selection not in ("c", "p", "s", "cp"):
        raise ValueError(f"selection must be c, p, s or cp, not {selection!r}")
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if len(payload) > MAX_PAYLOAD:
        raise ClipboardTooLarge(len(payload))
    sequence = f"\x1b]52;{selection};{payload}\x07"
    if tmux:
        # tmux passes a DCS-wrapped sequence through, with every ESC inside doubled.
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence
