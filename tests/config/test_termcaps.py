"""Terminal capabilities from the environment an SSH session carries, and from real terminals:
a pseudo-terminal, tmux and screen."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from programs import program
from pty_harness import PtyRun

from cockpit.term.caps import TermCaps, color_depth, detect, locale_name, multiplexer, unicode_ok

REPORT = (
    "import json, dataclasses; from cockpit.term.caps import detect; "
    "print('CAPS' + json.dumps(dataclasses.asdict(detect())))"
)


def piped(encoding: str = "utf-8") -> io.TextIOWrapper:
    """Not a terminal, with the encoding a pipe would have."""
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "en_US.UTF-8", "TERM": "xterm-256color"}, True),
        ({"LANG": "de_DE.utf8", "TERM": "xterm"}, True),
        ({"LANG": "C", "TERM": "xterm"}, False),
        ({"LANG": "POSIX", "TERM": "xterm"}, False),
        ({"LANG": "en_US.ISO-8859-1", "TERM": "xterm"}, False),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8", "TERM": "xterm"}, False),  # LC_ALL wins
        ({"LC_CTYPE": "en_US.UTF-8", "LANG": "C", "TERM": "xterm"}, True),  # LC_CTYPE first
        # LANG=C, and Python's own C.UTF-8 coercion in LC_CTYPE: the user asked for C.
        ({"LC_CTYPE": "C.UTF-8", "LANG": "C", "TERM": "xterm"}, False),
        ({"LC_CTYPE": "C.UTF-8", "TERM": "xterm"}, True),
        ({"TERM": "xterm"}, True),  # no locale passed over SSH: the encoding decides
        ({"LANG": "en_US.UTF-8", "TERM": "linux"}, False),  # the Linux console
        ({"LANG": "en_US.UTF-8", "TERM": "vt100"}, False),
    ],
)
def test_unicode_follows_the_locale_and_the_terminal(env: dict[str, str], expected: bool) -> None:
    assert unicode_ok(env, "utf-8") is expected


def test_output_that_is_not_utf8_means_ascii() -> None:
    assert not unicode_ok({"LANG": "en_US.UTF-8", "TERM": "xterm"}, "ascii")
    assert not detect({"LANG": "en_US.UTF-8", "TERM": "xterm"}, piped("latin-1")).unicode


def test_locale_order() -> None:
    assert locale_name({"LANG": "a", "LC_CTYPE": "b", "LC_ALL": "c"}) == "c"
    assert locale_name({"LANG": "a", "LC_CTYPE": "b", "LC_ALL": ""}) == "b"
    assert locale_name({}) == ""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "xterm"}, "16"),
        ({"TERM": "screen"}, "16"),
        ({"TERM": "linux"}, "16"),
        ({"TERM": "xterm-256color"}, "256"),
        ({"TERM": "tmux-256color"}, "256"),
        ({"TERM": "screen.xterm-256color"}, "256"),
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor"),
        ({"TERM": "xterm", "COLORTERM": "24bit"}, "truecolor"),
        ({"TERM": "xterm-direct"}, "truecolor"),
        ({"TERM": "dumb"}, "none"),
        ({}, "none"),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, "none"),
        ({"TERM": "xterm-256color", "NO_COLOR": ""}, "256"),  # no-color.org: empty is unset
    ],
)
def test_colour_depth(env: dict[str, str], expected: str) -> None:
    assert color_depth(env) == expected


def test_no_color_is_reported_and_mapped_for_textual() -> None:
    caps = detect({"TERM": "xterm-256color", "NO_COLOR": "yes", "LANG": "C.UTF-8"}, piped())
    assert caps.no_color and caps.colors == "none"
    assert "NO_COLOR" in caps.summary()
    assert detect({"TERM": "xterm"}, piped()).textual_color_system == "standard"
    assert detect({"TERM": "xterm-256color"}, piped()).textual_color_system == "256"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "screen"}, "tmux"),
        ({"TERM": "tmux-256color"}, "tmux"),
        ({"STY": "1234.pts-0.host", "TERM": "screen.xterm-256color"}, "screen"),
        ({"TERM": "screen"}, "screen"),
        ({"TERM": "xterm-256color"}, None),
    ],
)
def test_multiplexer(env: dict[str, str], expected: str | None) -> None:
    assert multiplexer(env) == expected


def test_a_pipe_has_no_size() -> None:
    caps = detect({"TERM": "xterm", "LANG": "C.UTF-8"}, piped())
    assert caps.size is None and not caps.tty
    assert "not a terminal" in caps.summary()


def _caps_from(text: str) -> TermCaps:
    line = next(line for line in text.splitlines() if line.startswith("CAPS"))
    fields = json.loads(line.removeprefix("CAPS"))
    fields["size"] = tuple(fields["size"]) if fields["size"] else None
    return TermCaps(**fields)


def test_size_and_colours_in_a_real_pseudo_terminal() -> None:
    run = PtyRun(
        [sys.executable, "-c", REPORT + "; import time; time.sleep(30)"],
        cols=100,
        rows=30,
        env={"TERM": "xterm", "LANG": "C", "LC_ALL": "", "LC_CTYPE": "", "NO_COLOR": ""},
    )
    try:
        assert run.wait_for(lambda text: "CAPS" in text and "}" in text, 20), run.text()
        # pyte wraps the long line at 100 columns; join it back.
        text = "".join(line.rstrip("\n") for line in run.screen.display)
        caps = _caps_from(text.replace("}", "}\n"))
    finally:
        run.stop()
    assert caps.size == (100, 30) and caps.tty
    assert caps.colors == "16"
    assert caps.unicode is False  # LANG=C


def _run_in_tmux(command: str, tmp_path: Path, term: str | None = None) -> str:
    socket = f"cockpit-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "caps.txt"
    shell = f"{command} > {out} 2>&1; sleep 30"
    argv = ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "90", "-y", "25"]
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY")}
    if term:
        env["TERM"] = term
    subprocess.run([*argv, shell], check=True, env=env, timeout=20)
    try:
        deadline = time.monotonic() + 20
        while "CAPS" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline, "tmux never ran the command"
            time.sleep(0.05)
        return out.read_text()
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, timeout=20)


def test_inside_tmux(tmp_path: Path) -> None:
    program("tmux")
    caps = _caps_from(_run_in_tmux(f"{sys.executable} -c {_quote(REPORT)}", tmp_path, "xterm"))
    # The command's stdout is a file, so size is None; TMUX still tells where we are.
    assert caps.multiplexer == "tmux"


def test_inside_screen(tmp_path: Path) -> None:
    program("screen")
    out = tmp_path / "caps.txt"
    name = f"cockpit-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY")}
    shell = f"{sys.executable} -c {_quote(REPORT)} > {out} 2>&1; sleep 30"
    subprocess.run(["screen", "-dmS", name, "sh", "-c", shell], check=True, env=env, timeout=20)
    try:
        deadline = time.monotonic() + 20
        while "CAPS" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline, "screen never ran the command"
            time.sleep(0.05)
        caps = _caps_from(out.read_text())
    finally:
        subprocess.run(["screen", "-S", name, "-X", "quit"], check=False, timeout=20)
    assert caps.multiplexer == "screen"
    assert caps.colors in ("16", "256")  # screen sets TERM=screen or screen.<outer TERM>


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
