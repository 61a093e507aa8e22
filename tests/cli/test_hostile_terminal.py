"""The real `cockpit` in a real terminal against hostile servers: the bytes it writes to the pty
carry none of the sequences the servers sent (its own escape sequences, of course, it writes),
and inside tmux with `set-clipboard on` nothing from outside reaches the clipboard."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile_servers import FORBIDDEN_OUTPUT, SECRETS, HostileWorld, hostile_world, leaks
from programs import program
from pty_harness import PtyRun

COCKPIT = Path(sys.executable).with_name("cockpit")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HostileWorld]:
    with hostile_world(tmp_path) as w:
        yield w


def user_env(world: HostileWorld, **extra: str) -> dict[str, str]:
    drop = ("TMUX", "STY", "NO_COLOR", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    return {**env, **world.env, **extra}


def test_the_bytes_written_to_the_terminal_carry_nothing_from_outside(
    world: HostileWorld,
) -> None:
    run = PtyRun(
        [str(COCKPIT), "--config", str(world.config)],
        cols=120,
        rows=40,
        env=user_env(world),
        record=True,
    )
    try:
        assert run.wait_for(lambda t: "you sent ***" in t and "Issue 0" in t, 40), run.text()
        run.send(b"R")
        assert run.wait_for(lambda t: "to confirm" in t, 15), run.text()
        run.send(b"files-web\r")
        # The deploy API's reason phrase carries OSC 52, a clear screen and a title.
        assert run.wait_for(lambda t: "FAILED" in t and "HTTP 500" in t, 30), run.text()
        run.pump_for(0.5)
        assert world.http.answered.is_set()
        written = b"".join(data for _, data in run.writes).decode("utf-8", "replace")
        assert not leaks(written), leaks(written)
        alive, _ = os.waitpid(run.pid, os.WNOHANG)
        assert alive == 0  # still running
        screen = run.text()
        assert "Internal" in screen and "\ufffd" in screen
        run.send(b"\x1b")  # close the revert screen
        assert run.wait_for(lambda t: "to confirm" not in t, 10), run.text()
        run.send(b"q")
        assert run.wait_exit(20) == 0
    finally:
        run.stop()


class Tmux:
    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"cockpit-hostile-{uuid.uuid4().hex[:8]}"
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
            check=check,
        )

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "cockpit").stdout

    def wait(self, predicate: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            assert time.monotonic() < deadline, text
            time.sleep(0.1)

    def buffers(self) -> list[str]:
        listed = self("list-buffers", "-F", "#{buffer_name}", check=False).stdout.split()
        return [self("show-buffer", "-b", name).stdout for name in listed]


def test_inside_tmux_nothing_from_outside_reaches_the_clipboard(
    world: HostileWorld, tmp_path: Path
) -> None:
    program("tmux")
    tmux = Tmux(user_env(world, TERM="xterm-256color"))
    command = f"{shlex.quote(str(COCKPIT))} --config {shlex.quote(str(world.config))}"
    tmux("new-session", "-d", "-s", "cockpit", "-x", "120", "-y", "40", "sleep 600")
    try:
        # OSC 52 from the pane sets tmux's buffers (and the outer terminal's clipboard).
        tmux("set-option", "-g", "set-clipboard", "on")
        tmux("respawn-pane", "-k", "-t", "cockpit", command)
        tmux.wait(lambda t: "you sent ***" in t and "Issue 0" in t, 40)
        tmux("send-keys", "-t", "cockpit", "R")
        tmux.wait(lambda t: "to confirm" in t, 15)
        tmux("send-keys", "-t", "cockpit", "files-web", "Enter")
        screen = tmux.wait(lambda t: "FAILED" in t, 30)
        assert not leaks(screen)
        assert tmux.buffers() == []  # the servers' OSC 52 set nothing
        tmux("send-keys", "-t", "cockpit", "Escape")
        tmux.wait(lambda t: "to confirm" not in t, 10)

        # Exporting copies the draft on purpose: what arrives holds no secret, no sequence.
        tmux("send-keys", "-t", "cockpit", "d")
        tmux.wait(lambda t: "Declare an incident" in t, 15)
        tmux("send-keys", "-t", "cockpit", "Enter")
        tmux.wait(lambda t: "INCIDENT #1" in t, 15)
        assert tmux.buffers() == []
        tmux("send-keys", "-t", "cockpit", "x")
        tmux.wait(lambda t: "Save to" in t, 15)
        tmux("send-keys", "-t", "cockpit", "s")
        deadline = time.monotonic() + 20
        while not tmux.buffers():
            assert time.monotonic() < deadline, tmux.screen()
            time.sleep(0.1)
        (draft,) = tmux.buffers()
        assert "Timeline" in draft or "timeline" in draft.lower()
        assert not leaks(draft), leaks(draft)
        assert not any(s in draft for s in SECRETS)
        assert not any(seq in draft for seq in FORBIDDEN_OUTPUT)
        tmux("send-keys", "-t", "cockpit", "q")
    finally:
        tmux("kill-server", check=False)
