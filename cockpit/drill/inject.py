"""Inject a fault now, for free practice: a request to the drill world's child, which applies
it and records it in faults.jsonl like a scheduled one.

    for name, what in available_faults(): ...
    inject_fault(world_dir, "slow_dependency")

The world dir is the one that holds the world's cockpit config, so a cockpit on a drill world
finds it as `config.path.parent`. The request goes through the child's control FIFO: writing
never blocks, and a world that is not running is reported at once, not waited for.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from cockpit.drill.child import CONTROL_FIFO
from cockpit.drill.scenario import FAULTS
from cockpit.drill.schedule import FaultRecord, read_faults


class InjectError(Exception):
    """The fault could not be requested; the message is fit to show."""


def available_faults() -> list[tuple[str, str]]:
    """(name, what it does) for every fault a drill world can be told to apply."""
    return list(FAULTS.items())


def inject_fault(world_dir: Path, fault: str) -> None:
    """Ask the drill world in `world_dir` to apply `fault` now. Returns once the request is
    delivered; the world records the outcome in faults.jsonl (see `injected`)."""
    if fault not in FAULTS:
        raise InjectError(f"unknown fault {fault!r}; one of: {', '.join(FAULTS)}")
    fifo = world_dir / CONTROL_FIFO
    try:
        if not stat.S_ISFIFO(fifo.stat().st_mode):
            raise InjectError(f"{fifo} is not a drill world's control channel")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InjectError(f"no drill world is running in {world_dir}") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads: the world is gone
            raise InjectError(f"the drill world in {world_dir} is not running") from None
        raise InjectError(f"cannot reach the drill world: {exc.strerror}") from None
    try:
        os.write(fd, f"inject {fault}\n".encode())  # short: one atomic write
    except OSError as exc:
        raise InjectError(f"cannot reach the drill world: {exc.strerror}") from None
    finally:
        os.close(fd)


def injected(world_dir: Path) -> list[FaultRecord]:
    """Faults applied on request so far, oldest first."""
    return [record for record in read_faults(world_dir) if record.origin == "inject"]
