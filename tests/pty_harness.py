"""Run a terminal program in a pseudo-terminal, emulate its screen with pyte, time what it shows."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Callable, Sequence

import pyte


class PtyRun:
    def __init__(
        self, argv: Sequence[str], cols: int = 80, rows: int = 24, env: dict | None = None
    ):
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes_read = 0
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.environ.update(env or {})
            os.environ["TERM"] = "xterm-256color"
            os.execvp(argv[0], list(argv))
        self.pid, self.fd = pid, fd
        self.exited = False
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

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
        self.stream.feed(data)
        return len(data)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> float | None:
        """Seconds from start until predicate(screen text) holds, or None on timeout."""
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
                    os.close(self.fd)
                    return
        os.close(self.fd)
