"""Inject a fault now, for free practice: a request to the drill world's child, which applies
it and records it in faults.jsonl like a scheduled one.

    for name, what in available_faults(): ...
    record = inject_fault(world_dir, "slow_dependency")   # InjectError: why not

The world dir is the one that holds the world's cockpit config, so a cockpit on a drill world
finds it as `config.path.parent`. The request goes through the child's control FIFO: writing
never blocks, and a world that is not running is reported at once, not waited for. The answer
comes back in faults.jsonl, under the request's id: applied, or refused with the world's reason
(a bad release that already shipped does not ship again after a revert).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from pathlib import Path

from cockpit.drill.child import CONTROL_FIFO
from cockpit.drill.scenario import FAULTS
from cockpit.drill.schedule import FaultRecord, read_faults


class InjectError(Exception):
    """The fault could not be requested; the message is fit to show."""


def available_faults() -> list[tuple[str, str]]:
    """(name, what it does) for every fault a drill world can be told to apply."""
    return list(FAULTS.items())


ANSWER_WAIT = 15.0  # seconds for the world to answer; it applies a fault in well under one
_ANSWER_POLL = 0.05


def inject_fault(world_dir: Path, fault: str, *, wait: float = ANSWER_WAIT) -> FaultRecord:
    """Ask the drill world in `world_dir` to apply `fault` now; returns its record once the
    world applied it. Raises InjectError when it could not be asked, did not answer, or
    refused (the message says why: the fault cannot apply now)."""
    request = secrets.token_hex(6)
    _send(world_dir, fault, request)
    deadline = time.monotonic() + wait
    while True:
        record = next((r for r in read_faults(world_dir) if r.request == request), None)
        if record is not None:
            if not record.ok:
                raise InjectError(f"{fault} not applied: {record.detail or 'the world refused'}")
            return record
        if time.monotonic() > deadline:
            raise InjectError(f"the drill world in {world_dir} did not answer within {wait:g}s")
        time.sleep(_ANSWER_POLL)  # the answer is a line appended to a file


def _send(world_dir: Path, fault: str, request: str) -> None:
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
        os.write(fd, f"inject {fault} {request}\n".encode())  # short: one atomic write
    except OSError as exc:
        raise InjectError(f"cannot reach the drill world: {exc.strerror}") from None
    finally:
        os.close(fd)


def injected(world_dir: Path) -> list[FaultRecord]:
    """Faults applied on request so far, oldest first."""
    return [record for record in read_faults(world_dir) if record.origin == "inject"]
