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


class WorldProcess:
    def __init__(self, *, bad_deploy_after: float = 20.0, scenario: str = "files-com"):
        self.bad_deploy_after = bad_deploy_after
        self.scenario = scenario
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.config_path: Path | None = None
        self.log_path: Path | None = None

    async def start(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="cockpit-world-")
        directory = Path(self._tmp.name)
        self.log_path = directory / "world.log"
        # stderr goes to a file: an undrained pipe would stall a chatty world.
        with self.log_path.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cockpit",
                "world",
                "--scenario",
                self.scenario,
                "--dir",
                str(directory),
                "--bad-deploy-after",
                str(self.bad_deploy_after),
                "--stop-on-stdin-eof",
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
        self.config_path = Path(text.removeprefix("ready ").strip())
        return self.config_path

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None
