"""Run a terminal program in a pseudo-terminal, emulate its screen with pyte, time what it shows.

Also what a bad SSH link does to a terminal: the window resized (SIGWINCH), the reader stalled.
Every write the program makes can be kept with its time (`record=True`) for bench analysis.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Callable, Mapping, Sequence

import pyte

# What a terminal answers when asked; a program waiting for an answer must not wait forever.
_ANSWERS: tuple[tuple[bytes, Callable[[pyte.Screen], bytes]], ...] = (
    (b"\x1b[6n", lambda s: f"\x1b[{s.cursor.y + 1};{s.cursor.x + 1}R".encode()),
    (b"\x1b[c", lambda s: b"\x1b[?62;22c"),
)


class PtyRun:
    def __init__(
        self,
        argv: Sequence[str],
        cols: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
        *,
        record: bool = False,
    ):
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes_read = 0
        self.record = record
        self.writes: list[tuple[float, bytes]] = []  # (perf_counter, bytes) when recording
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            # Under pytest the process environment holds COLUMNS and LINES (set below
            # os.environ, so only an explicit environment keeps them out). Textual reads its
            # size through shutil.get_terminal_size(), which prefers them to the terminal's,
            # and would never follow a resize. A user's shell does not export them.
            child = {
                k: v
                for k, v in os.environ.items()
                if k not in ("COLUMNS", "LINES") and not k.startswith("PYTEST_")
            }
            child["TERM"] = "xterm-256color"  # env may override it (16-colour tests)
            child.update(env or {})
            os.execvpe(argv[0], list(argv), child)
        self.pid, self.fd = pid, fd
        self.exited = False
        self._set_size(cols, rows)

    def _set_size(self, cols: int, rows: int) -> None:
        # On the master side the kernel sends SIGWINCH to the program, as a real terminal does.
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.screen.resize(rows, cols)
        self._set_size(cols, rows)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self, timeout: float) -> int:
        """Read what is ready within timeout; returns the number of bytes read."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return 0
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return 0
        self.bytes_read += len(data)
        if self.record:
            self.writes.append((time.perf_counter(), data))
        self.stream.feed(data)
        for query, answer in _ANSWERS:
            if query in data:
                os.write(self.fd, answer(self.screen))
        return len(data)

    def pump_for(self, seconds: float) -> int:
        """Read everything the program writes for `seconds`; returns the bytes read."""
        total = 0
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            total += self.pump(min(0.05, left))
        return total

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> float | None:
        """Seconds from start until predicate(screen text) holds, or None on timeout."""
        if predicate(self.text()):
            return time.perf_counter() - self.started
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.pump(0.02) and predicate(self.text()):
                return time.perf_counter() - self.started
        return None

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the program ends by itself, or None on timeout."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.pump(0.05)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.exited = True
                return os.waitstatus_to_exitcode(status)
        return None

    def hangup(self, timeout: float) -> int | None:
        """What a dropped SSH link does: the terminal goes away (the master side closes), the
        kernel sends SIGHUP to the program. Its exit status, or None if it did not end."""
        os.close(self.fd)
        self.fd = os.open(os.devnull, os.O_RDONLY)  # so that stop() and pump() stay harmless
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.exited = True
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        if self.exited:
            os.close(self.fd)
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.perf_counter() + 3
            while time.perf_counter() < deadline:
                self.pump(0.05)
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.exited = True
                    os.close(self.fd)
                    return
        os.close(self.fd)


# -- the cockpit's screen --------------------------------------------------------------------------

PANEL_TITLES = ("Probes", "Changes", "5xx", "Sentry", "Timeline")


def layout_problems(lines: Sequence[str]) -> list[str]:
    """What is wrong with a cockpit screen, as a person would see it: the header on top, each
    panel's box whole (as many tops as bottoms, titles on top edges), the footer at the bottom.
    Empty when the screen reads right."""
    problems = []
    if not lines or "UTC" not in lines[0]:
        problems.append("no header clock on the first row")
    if not lines or "Declare" not in lines[-1]:  # the footer's first key
        problems.append("no footer on the last row")
    tops = sum(line.count("╭") for line in lines)
    bottoms = sum(line.count("╰") for line in lines)
    if tops != bottoms:
        problems.append(f"{tops} box tops but {bottoms} box bottoms")
    for title in PANEL_TITLES:
        if not any(title in line for line in lines):
            problems.append(f"panel {title!r} missing")
    return problems
