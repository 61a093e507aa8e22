"""Runs the drill world in a child process, for `cockpit demo` and tests.

The child watches its stdin: if the cockpit dies, even by kill -9, the pipe closes and the
world goes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

READY_TIMEOUT = 30.0


class WorldError(Exception):
    pass


class WorldChild:
    """A world in a child process (`python -m <module> ...`): started, awaited until it prints
    `ready <config path>`, and stopped by closing its stdin, then terminate, then kill.

    stderr goes to `log_path`: an undrained pipe would stall a chatty world, and its last line
    says why a world failed to start.
    """

    def __init__(self, args: list[str], log_path: Path, *, stop_grace: float = 5.0):
        self.args = args
        self.log_path = log_path
        self.stop_grace = stop_grace
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Path:
        with self.log_path.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            await self.stop()
            raise WorldError(f"the drill world did not start within {READY_TIMEOUT:g}s") from None
        text = line.decode(errors="replace").strip()
        if not text.startswith("ready "):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 2)
            detail = self.log_path.read_text(errors="replace").strip().splitlines()
            await self.stop()
            raise WorldError("the drill world failed to start: " + (detail[-1] if detail else text))
        return Path(text.removeprefix("ready ").strip())

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self.stop_grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


class WorldProcess:
    """`cockpit world` for the demo and tests, in a temporary directory removed at stop."""

    def __init__(
        self,
        *,
        bad_deploy_after: float = 20.0,
        scenario: str = "files-com",
        alertmanager: bool = False,
    ):
        self.bad_deploy_after = bad_deploy_after
        self.scenario = scenario
        self.alertmanager = alertmanager
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._child: WorldChild | None = None
        self.config_path: Path | None = None
        self.log_path: Path | None = None

    async def start(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="cockpit-world-")
        directory = Path(self._tmp.name)
        self.log_path = directory / "world.log"
        self._child = WorldChild(
            [
                "cockpit",
                "world",
                "--scenario",
                self.scenario,
                "--dir",
                str(directory),
                "--bad-deploy-after",
                str(self.bad_deploy_after),
                "--stop-on-stdin-eof",
                *(["--alertmanager"] if self.alertmanager else []),
            ],
            self.log_path,
        )
        self.config_path = await self._child.start()
        return self.config_path

    async def stop(self) -> None:
        if self._child is not None:
            await self._child.stop()
            self._child = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None
