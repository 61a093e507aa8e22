"""Running one operator command: argv only (never a shell), output kept in a file, read back as
inert lines.

The command writes straight into an output file (stdout and stderr merged, O_APPEND), never
into a pipe: whoever watches it may go away (a cockpit whose SSH link dropped) without the
command getting SIGPIPE halfway through a revert. The file is read back while it runs.

The command gets its own session, so on timeout the whole process group is stopped, not just
the first process. Waiting ends when the first process exits, even if a leftover child keeps
running (and writing to the file).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cockpit.term.textsafe import strip_controls

MAX_LINE = 2000  # characters; a longer run without a newline is cut into several lines
KILL_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL
READ_EVERY = 0.05  # seconds between reads of the output file while the command runs
READ_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None when it could not start; negative: killed by that signal
    timed_out: bool
    start_error: str  # why it could not start; empty when it ran
    seconds: float
    pid: int | None = None  # also its process group

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

    @property
    def pending_bytes(self) -> int:
        """Bytes fed that are not in an emitted line yet (the last, unfinished line)."""
        buffered, _ = self._decoder.getstate()
        return len(self._partial.encode(errors="replace")) + len(buffered)

    def close(self) -> None:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self._line(rest)

    def _line(self, raw: str) -> None:
        self._emit(strip_controls(raw).rstrip())


class FileReader:
    """Reads a growing file from an offset on, as lines; what a watcher of a run uses too."""

    def __init__(
        self,
        fd: int,
        emit: Callable[[str], None],
        offset: int = 0,
        on_read: Callable[[int], None] | None = None,
    ):
        self.fd = fd
        self.offset = offset
        self.splitter = LineSplitter(emit)
        self.on_read = on_read

    def read_available(self) -> int:
        total = 0
        while True:
            data = os.pread(self.fd, READ_CHUNK, self.offset)
            if not data:
                if total and self.on_read is not None:
                    with contextlib.suppress(Exception):
                        self.on_read(self.offset - self.splitter.pending_bytes)
                return total
            self.offset += len(data)
            total += len(data)
            self.splitter.feed(data)

    def close(self) -> None:
        self.splitter.close()


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    on_line: Callable[[str], None],
    output_fd: int | None = None,
    pass_fds: Sequence[int] = (),
    on_read: Callable[[int], None] | None = None,
    kill_grace: float = KILL_GRACE_SECONDS,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run argv with stdin from /dev/null, stdout and stderr merged into `output_fd` (a file
    opened for appending; a temporary one when None), its lines passed to `on_line`.

    `on_line` is called from the event loop as output arrives; it must not block. `pass_fds`
    stay open in the command (the service lock, so that it lives as long as the command).
    `on_read` is told the offset in `output_fd` read up to, after each read that got data.
    Cancelling the caller kills the process group and re-raises.
    """
    argv = tuple(argv)
    started = time.monotonic()

    def emit(line: str) -> None:
        # A failing display callback must not abandon a half-done command.
        with contextlib.suppress(Exception):
            on_line(line)

    own_fd = None
    if output_fd is None:
        own_fd, name = tempfile.mkstemp(prefix="cockpit-output-")
        os.unlink(name)
        output_fd = own_fd
    try:
        reader = FileReader(
            output_fd, emit, offset=os.lseek(output_fd, 0, os.SEEK_END), on_read=on_read
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=output_fd,
                stderr=output_fd,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
                env=env,
            )
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            name = argv[0] if argv else "(empty)"
            return CommandResult(argv, None, False, f"cannot start {name}: {reason}", 0.0)
        pgid = process.pid
        timed_out = False
        try:
            try:
                async with asyncio.timeout(timeout):
                    await _wait_reading(process, reader)
            except TimeoutError:
                timed_out = True
                await _stop_group(pgid, process, kill_grace)
        except BaseException:
            # Cancelled: nothing may keep running on our behalf. Wait for the exit so the caller
            # can say "stopped" truthfully; a second cancel only skips the wait.
            _signal_group(pgid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.shield(_wait_exit(process, kill_grace))
            raise
        finally:
            with contextlib.suppress(OSError):
                reader.read_available()
            reader.close()
        return CommandResult(
            argv, process.returncode, timed_out, "", time.monotonic() - started, pgid
        )
    finally:
        if own_fd is not None:
            os.close(own_fd)


async def _wait_reading(process: asyncio.subprocess.Process, reader: FileReader) -> None:
    waiting = asyncio.ensure_future(process.wait())
    try:
        while not waiting.done():
            reader.read_available()
            await asyncio.wait({waiting}, timeout=READ_EVERY)
    finally:
        if not waiting.done():
            waiting.cancel()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while children remain; a vanished group is fine.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_exit(process: asyncio.subprocess.Process, limit: float) -> None:
    async with asyncio.timeout(limit):
        await process.wait()


async def _stop_group(pgid: int, process: asyncio.subprocess.Process, grace: float) -> None:
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await _wait_exit(process, grace)
    _signal_group(pgid, signal.SIGKILL)  # also ends children that ignored SIGTERM
    with contextlib.suppress(TimeoutError):
        await _wait_exit(process, grace)
