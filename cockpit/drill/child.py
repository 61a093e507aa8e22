"""The drill world as a child process: the scenario's world, its schedule on the compressed
clock, and injected faults; every fault it applies is recorded in faults.jsonl.

    python -m cockpit.drill.child --scenario FILE --dir DIR [--speed X]

Protocol with the parent: one line `ready <absolute config path>` on stdout once the world
listens, is warm (Sentry already holds the unrelated issue, so a silent failure is a real blind
spot) and the clock is anchored in DIR/drill.json. It then runs until SIGTERM/SIGINT/SIGHUP or
until stdin reaches end of file (the parent died). Faults can be injected by writing
`inject <fault> [<request id>]` lines to the DIR/control FIFO (see `cockpit.drill.inject`).
Diagnostics go to stderr only.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import selectors
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from cockpit.config.base import ConfigError
from cockpit.drill.scenario import FAULTS, Scenario, load_scenario
from cockpit.drill.schedule import (
    DrillClock,
    DueFault,
    FaultRecord,
    alert_timing,
    append_fault,
    plan,
    slow_delay,
    write_clock,
)
from cockpit.term.textsafe import one_line
from cockpit.timeutil import utcnow

log = logging.getLogger("cockpit.drill")

CONTROL_FIFO = "control"
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_WARM_TIMEOUT = 5.0
_WARM_MARGIN = timedelta(seconds=1.0)  # deploy logs keep whole seconds
_MAX_LINE = 512
_SYNC_EVERY = 0.5


class DrillWorld:
    """A started world plus what a drill needs around it: warm-up, faults, the record."""

    def __init__(self, scenario: Scenario, directory: Path, speed: float):
        from cockpit.world.database import SLOW_DELAY
        from cockpit.world.world import World

        self.scenario = scenario
        self.directory = directory
        self.world = World(
            directory,
            scenario=scenario.world,
            bad_deploy_after=None,
            traffic=scenario.traffic,
            protocols=scenario.protocols,
            slow_delay=slow_delay(speed, SLOW_DELAY),
            alertmanager=scenario.alertmanager,
            alert_timing=alert_timing(speed),
        )
        self._known = 0  # how many of world.faults are already in faults.jsonl

    def start(self) -> None:
        self.world.start()

    def sync(self) -> None:
        """Record faults the world took from elsewhere (a responder's `deployctl failover`)."""
        faults = self.world.faults
        for at, fault in faults[self._known :]:
            append_fault(self.directory, FaultRecord(at, fault, "control", True))
        self._known = len(faults)

    def stop(self) -> None:
        self.world.stop()

    @property
    def config_path(self) -> Path:
        path = self.world.config_path
        assert path is not None
        return path

    def warm_up(self, timeout: float = _WARM_TIMEOUT) -> bool:
        """Wait (bounded) until Sentry knows an issue from before now: the unrelated bug the
        background traffic trips. Without traffic there is nothing to wait for."""
        if not self.scenario.traffic:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.world.flush_sentry(timeout=0.5)
            cutoff = utcnow() - _WARM_MARGIN
            issues = self.world.sentry.store.all()
            if any(i.first_seen is not None and i.first_seen < cutoff for i in issues):
                return True
            time.sleep(0.05)
        return False

    def apply(self, fault: str, origin: str, due: Any = None, request: str = "") -> FaultRecord:
        self.sync()

        def refused(reason: str) -> FaultRecord:
            return FaultRecord(utcnow(), fault, origin, False, reason, due, request)

        if fault not in FAULTS:
            record = refused("unknown fault")
        elif origin == "inject" and (why := self._why_not(fault)):
            # Asked for by hand: a fault that would change nothing now (a bad release that
            # already shipped and was reverted) is refused with the reason, not taken as done.
            record = refused(why)
        else:
            try:
                detail = self._apply(fault)
                record = FaultRecord(utcnow(), fault, origin, True, detail, due, request)
            except Exception as exc:  # the drill goes on; the record says what went wrong
                log.exception("fault %s failed", fault)
                record = refused(one_line(str(exc), 200) or type(exc).__name__)
        self._known = len(self.world.faults)
        append_fault(self.directory, record)
        log.info("fault %s (%s): %s", fault, origin, "ok" if record.ok else record.detail)
        return record

    def _why_not(self, fault: str) -> str:
        try:
            return self.world.why_not(fault)
        except Exception as exc:  # not running: applying says so in its own words
            log.debug("why_not %s: %s", fault, exc)
            return ""

    def _apply(self, fault: str) -> str:
        self.world.apply(fault)
        return f"deployed {self.world.bad_version}" if fault == "bad_deploy" else ""


# -- the process ------------------------------------------------------------------------------


def run(scenario_path: Path, directory: Path, speed: float | None = None) -> int:
    """0: stopped cleanly; 1: the world could not start; 2: the scenario is broken."""
    try:
        scenario = load_scenario(scenario_path)
    except ConfigError as exc:
        print(f"cockpit drill: {exc}", file=sys.stderr)
        return 2
    directory = directory.expanduser().resolve()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    try:
        with _log_to_stderr(), _stop_signals(wake_write):
            return _run(scenario, directory, speed or scenario.speed, wake_read)
    finally:
        os.close(wake_read)
        os.close(wake_write)


def _run(scenario: Scenario, directory: Path, speed: float, wake_fd: int) -> int:
    from cockpit.world.world import WorldError

    try:
        drill = DrillWorld(scenario, directory, speed)
    except WorldError as exc:
        print(f"cockpit drill: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        try:
            drill.start()
        except (WorldError, OSError) as exc:
            print(f"cockpit drill: cannot start: {exc}", file=sys.stderr)
            return 1
        if not drill.warm_up():
            log.warning("Sentry holds no earlier issue; blind spot figures may differ")
        fifo = directory / CONTROL_FIFO
        with contextlib.suppress(FileNotFoundError):
            fifo.unlink()
        os.mkfifo(fifo, 0o600)
        clock = DrillClock(scenario.start, utcnow(), speed)
        write_clock(
            directory,
            clock,
            {"scenario": scenario.name, "config": str(drill.config_path), "pid": os.getpid()},
        )
        try:
            print(f"ready {drill.config_path}", flush=True)
        except OSError:
            return 1
        _loop(drill, plan(clock, scenario.schedule), fifo, wake_fd)
        return 0
    finally:
        drill.stop()
        with contextlib.suppress(OSError):
            (directory / CONTROL_FIFO).unlink()
        log.info("stopped")


def _loop(drill: DrillWorld, due: list[DueFault], fifo: Path, wake_fd: int) -> None:
    """Apply faults when they fall due; serve inject requests; return when told to stop.
    Blocks in select between events: an idle drill costs nothing."""
    control = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # RDWR: no end of file when writers go
    pending = b""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(wake_fd, selectors.EVENT_READ, "stop")
            selector.register(control, selectors.EVENT_READ, "control")
            stdin = _stdin_fd()
            if stdin is None:
                return
            try:
                selector.register(stdin, selectors.EVENT_READ, "stdin")
            except (OSError, ValueError):
                return  # stdin is a file or closed: the parent is not watching over us
            while True:
                while due and due[0].real_at <= utcnow():
                    step = due.pop(0)
                    drill.apply(step.fault.fault, "schedule", step.real_at)
                drill.sync()
                # Faults pulled through the world's own control door leave no trace but its
                # list: look at it now and then.
                timeout = _SYNC_EVERY
                if due:
                    timeout = min(timeout, max(0.0, (due[0].real_at - utcnow()).total_seconds()))
                for key, _ in selector.select(timeout):
                    if key.data == "stop":
                        return
                    if key.data == "stdin":
                        try:
                            if not os.read(stdin, 65536):
                                return
                        except OSError:
                            return
                    if key.data == "control":
                        pending = _serve(drill, control, pending)
    finally:
        os.close(control)


def _serve(drill: DrillWorld, fd: int, pending: bytes) -> bytes:
    try:
        pending += os.read(fd, 4096)
    except BlockingIOError:
        return pending
    except OSError as exc:
        if exc.errno != errno.EAGAIN:
            log.warning("control: %s", exc)
        return pending
    *lines, rest = pending.split(b"\n")
    for raw in lines:
        words = raw.decode("utf-8", "replace").split()
        if len(words) in (2, 3) and words[0] == "inject":
            drill.apply(words[1], "inject", request=words[2] if len(words) == 3 else "")
        elif words:
            log.warning("control: ignored %r", one_line(" ".join(words), 80))
    return rest[-_MAX_LINE:]


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _stop_signals(wake_fd: int) -> Iterator[None]:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(wake_fd, b"s")

    previous = {}
    try:
        for signum in _STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
    except ValueError:
        pass  # not the main thread
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    loggers = [logging.getLogger("cockpit.world"), log]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        handler.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cockpit.drill.child")
    parser.add_argument("--scenario", required=True, type=Path, help="the scenario file")
    parser.add_argument("--dir", required=True, type=Path, help="the world directory")
    parser.add_argument("--speed", type=float, help="scenario seconds per real second")
    args = parser.parse_args(argv)
    return run(args.scenario, args.dir, args.speed)


if __name__ == "__main__":
    sys.exit(main())
