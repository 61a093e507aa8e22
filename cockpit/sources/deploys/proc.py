"""Running a read-only helper program for a deploy source (git, a site's own deploy lister).

argv only (never a shell), stdin from /dev/null, output bounded, its own session so that a
timeout or a cancelled poll stops the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line

STDERR_KEEP = 4096  # bytes of stderr kept for the message; the rest is read and dropped


@dataclass(frozen=True, slots=True)
class Output:
    exit_code: int
    stdout: bytes
    stderr: bytes

    def error_line(self) -> str:
        """The last non-empty stderr line, inert: git and most tools put the reason there."""
        lines = [line for line in self.stderr.decode("utf-8", "replace").splitlines() if line]
        return one_line(lines[-1], 300) if lines else ""


async def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float,
    max_bytes: int,
    env: Mapping[str, str] | None = None,
) -> Output:
    """Run argv to its end and return what it printed.

    Raises SourceError when it cannot start, prints more than `max_bytes`, or outlives
    `timeout`; in each case (and on cancellation) its process group is killed first.
    """
    program = argv[0] if argv else "(empty)"
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError:
        raise SourceError(f"cannot start {program}: not found") from None
    except PermissionError:
        raise SourceError(f"cannot start {program}: permission denied") from None
    except OSError as exc:
        raise SourceError(f"cannot start {program}: {exc.strerror or exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    out_stream = proc.stdout

    async def read_stdout() -> bytes | None:
        data = await _read_limited(out_stream, max_bytes)
        if data is None:
            _kill_group(proc.pid)  # it would block on a full pipe until the timeout
        return data

    try:
        async with asyncio.timeout(timeout):
            stdout, stderr, code = await asyncio.gather(
                read_stdout(),
                _read_tail(proc.stderr, STDERR_KEEP),
                proc.wait(),
            )
    except TimeoutError:
        raise SourceError(f"{program} timed out after {timeout:g}s") from None
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            # Reaping takes microseconds after SIGKILL; shielded so a cancel cannot leave a zombie.
            with contextlib.suppress(BaseException):
                await asyncio.shield(proc.wait())
        else:
            # The leader is gone; children it left behind must not outlive the poll either.
            _kill_group(proc.pid)
    if stdout is None:
        raise SourceError(f"{program} printed more than {max_bytes} bytes")
    return Output(code, stdout, stderr)


async def _read_limited(stream: asyncio.StreamReader, limit: int) -> bytes | None:
    """All of the stream, or None once it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:]
    return tail


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
