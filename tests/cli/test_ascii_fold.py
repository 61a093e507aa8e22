"""Text folded for an ASCII terminal: one ASCII character for each character, so spans and
match offsets into the text still hold, and look-alikes where there are any; what the
commands print to such a terminal is folded the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pty_harness import PtyRun

from cockpit.term.ascii import to_ascii
from cockpit.term.textsafe import MARK

COCKPIT = Path(sys.executable).with_name("cockpit")


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


def test_commands_print_ascii_on_an_ascii_terminal(tmp_path: Path) -> None:
    """Under LANG=C what a command prints is folded like the screen: a scenario titled in
    UTF-8 reads "Cafe drill - a test", not the bytes an ASCII terminal shows as junk."""
    (tmp_path / "mine.toml").write_text(
        SCENARIO.replace("My drill", "Caf\u00e9 drill \u2014 a t\u00e9st"), encoding="utf-8"
    )
    run = PtyRun(
        [str(COCKPIT), "drill", "list"],
        env={"LANG": "C", "LC_ALL": "C", "TERM": "xterm", "COCKPIT_SCENARIOS": str(tmp_path)},
        record=True,
    )
    try:
        assert run.wait_exit(30) == 0, run.text()
        run.pump_for(0.2)  # what is still in the terminal's buffer
        written = b"".join(data for _, data in run.writes)
        assert b"Cafe drill - a test" in written, written
        assert written.isascii(), [c for c in written.decode("utf-8", "replace") if ord(c) > 127]
    finally:
        run.stop()
    # A pipe keeps UTF-8: it is not the terminal.
    piped = subprocess.run(
        [str(COCKPIT), "drill", "list"],
        env={**os.environ, "LANG": "C", "LC_ALL": "C", "COCKPIT_SCENARIOS": str(tmp_path)},
        capture_output=True,
        timeout=30,
    )
    assert "Caf\u00e9 drill \u2014 a t\u00e9st".encode() in piped.stdout


SCENARIO = """\
name = "mine"
title = "My drill"
start = "2024-01-05T23:00:00-05:00"
end = "+1d 01:00"
speed = 120

[[schedule]]
at = "23:30"
fault = "bad_deploy"

[reference]
impact_start = "23:30"
declared = "+1d 00:10"
mitigated = "+1d 00:20"

[best]
mitigated = 5
"""
