"""`cockpit demo` as a user starts it: a real pseudo-terminal at 80x24, the drill world in a
child process, and `q` stopping both."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pty_harness import PtyRun

COCKPIT = Path(sys.executable).with_name("cockpit")


def world_processes(data_dir: str) -> list[int]:
    """Drill-world processes started by the demo whose environment points at our data dir."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"world" in cmdline and f"COCKPIT_DATA_DIR={data_dir}".encode() in environ:
            found.append(int(pid))
    return found


def test_demo_shows_the_incident_at_80x24_and_q_stops_everything(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run = PtyRun(
        [str(COCKPIT), "demo", "--bad-deploy-after", "1"],
        cols=80,
        rows=24,
        env={"COCKPIT_DATA_DIR": data},
    )
    try:
        assert run.wait_for(lambda t: "FAIL session-x4" in t, 40), run.text()
        assert run.wait_for(lambda t: "SUSPECT" in t, 20), run.text()
        screen = run.text()
        for words in (
            "Probes",
            "Recent deploys",
            "5xx",
            "Sentry",
            "Timeline",
            "DRILL",
            "d Declare",
            "R Revert",
            "x Export",
            "q Quit",
            "UTC",
        ):
            assert words in screen, words
        assert world_processes(data), "the drill world runs beside the cockpit"
        run.send(b"q")
        assert run.wait_exit(15) == 0
        deadline = time.monotonic() + 10
        while world_processes(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not world_processes(data), "the drill world stops with the cockpit"
    finally:
        run.stop()
