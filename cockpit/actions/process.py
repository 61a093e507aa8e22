"""Running one operator command: argv only (never a shell), output streamed as inert lines.

The command gets its own session, so on timeout or cancellation the whole process group is
stopped, not just the first process. Waiting ends when the first process exits, even if a
leftover child keeps the output pipe open.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cockpit.textsafe import strip_controls

MAX_LINE = 2000  # characters; a longer run without a newline is cut into several lines
DRAIN_SECONDS = 2.0  # after exit, how long to wait for output still in the pipe
KILL_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None when it could not start; negative: killed by that signal
    timed_out: bool
    start_error: str  # why it could not start; empty when it ran
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self, timeout: float) -> str:
        """ "ok", "exit 3", "killed by SIGKILL", "timed out after 120s", "cannot start ..."."""
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {timeout:g}s"
        if self.exit_code is not None and self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = f"signal {-self.exit_code}"
            return f"killed by {name}"
        return "ok" if self.exit_code == 0 else f"exit {self.exit_code}"


class LineSplitter:
    """Bytes in, complete inert text lines out."""

    def __init__(self, emit: Callable[[str], None]):
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> None:
        text = self._partial + self._decoder.decode(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._line(line)
        while len(self._partial) > MAX_LINE:
            self._line(self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]

    def close(self) -> None:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self._line(rest)

    def _line(self, raw: str) -> None:
        self._emit(strip_controls(raw).rstrip())


class _CommandProtocol(asyncio.SubprocessProtocol):
    def __init__(self, emit: Callable[[str], None]):
        self.splitter = LineSplitter(emit)
        self.exited = asyncio.Event()
        self.output_closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.splitter.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.splitter.close()
        self.output_closed.set()

    def process_exited(self) -> None:
        self.exited.set()


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    on_line: Callable[[str], None],
    kill_grace: float = KILL_GRACE_SECONDS,
    drain: float = DRAIN_SECONDS,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run argv with stdin from /dev/null, stdout and stderr merged and passed line by line.

    `on_line` is called from the event loop as output arrives; it must not block. Cancelling
    the caller kills the process group and re-raises.
    """
    argv = tuple(argv)
    started = time.monotonic()
    loop = asyncio.get_running_loop()

    def emit(line: str) -> None:
        # A failing display callback must not abandon a half-done command.
        with contextlib.suppress(Exception):
            on_line(line)

    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _CommandProtocol(emit),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return CommandResult(
            argv, None, False, f"cannot start {argv[0] if argv else '(empty)'}: {reason}", 0.0
        )
    pgid = transport.get_pid()
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await protocol.exited.wait()
        except TimeoutError:
            timed_out = True
            await _stop_group(pgid, protocol, kill_grace)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain):
                await protocol.output_closed.wait()
    except BaseException:
        # Cancelled: nothing may keep running on our behalf. Wait for the exit so the caller
        # can say "stopped" truthfully; a second cancel only skips the wait.
        _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.shield(_wait_exit(protocol, kill_grace))
        raise
    finally:
        transport.close()
    return CommandResult(
        argv, transport.get_returncode(), timed_out, "", time.monotonic() - started
    )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while children remain; a vanished group is fine.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_exit(protocol: _CommandProtocol, limit: float) -> None:
    async with asyncio.timeout(limit):
        await protocol.exited.wait()


async def _stop_group(pgid: int, protocol: _CommandProtocol, grace: float) -> None:
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await protocol.exited.wait()
    _signal_group(pgid, signal.SIGKILL)  # also ends children that ignored SIGTERM
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await protocol.exited.wait()
