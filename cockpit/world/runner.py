"""Running a drill world as a process: what `cockpit world` and `cockpit demo` call.

The protocol with the parent: one line `ready <absolute config path>` on stdout once every
server listens and the config is written; then the world runs until SIGTERM, SIGINT or SIGHUP
(or, when asked, until stdin reaches end of file, so a world whose parent died goes too).
A few lines of diagnostics go to stderr, never stdout: `cockpit demo` sends the world's stderr
to a file, so they never land on the screen the cockpit draws.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from cockpit.world.scenarios import SCENARIOS
from cockpit.world.world import World, WorldError

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
log = logging.getLogger("cockpit.world")


def run_world(
    *,
    directory: Path | None,
    write_config: Path | None,
    bad_deploy_after: float = 20.0,
    scenario: str = "files-com",
    stop_on_stdin_eof: bool = False,
    alertmanager: bool = False,
) -> int:
    """Run a drill world until told to stop. 0: stopped cleanly, 1: could not start,
    2: unknown scenario. A negative bad_deploy_after means the bad deploy never happens."""
    if scenario not in SCENARIOS:
        known = ", ".join(sorted(SCENARIOS))
        print(f"cockpit world: unknown scenario {scenario!r} (known: {known})", file=sys.stderr)
        return 2
    world = World(
        directory,
        scenario=scenario,
        bad_deploy_after=bad_deploy_after if bad_deploy_after >= 0 else None,
        write_config=write_config,
        alertmanager=alertmanager,
    )
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    try:
        with _log_to_stderr(), _stop_signals(wake_write):
            try:
                return _run(world, wake_read, watch_stdin=stop_on_stdin_eof)
            finally:
                world.stop()
                log.info("stopped")
    finally:
        os.close(wake_read)
        os.close(wake_write)


def _run(world: World, wake_fd: int, *, watch_stdin: bool) -> int:
    try:
        # FTP, SFTP and WebDAV already listen; they start serving right after the ready line,
        # so whoever waits for it (the first frame of `cockpit demo`) does not wait for them.
        world.start(wait_for_protocols=False)
    except (WorldError, OSError) as exc:
        print(f"cockpit world: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"ready {world.config_path}", flush=True)
    except OSError:  # nobody is listening any more
        return 1
    _wait_for_stop(wake_fd, watch_stdin=watch_stdin)
    log.info("stopping")
    return 0


@contextlib.contextmanager
def _stop_signals(wake_fd: int) -> Iterator[None]:
    """Stop signals write a byte to wake_fd; the previous handlers come back afterwards."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(wake_fd, b"s")

    previous = {}
    try:
        for signum in _STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
    except ValueError:
        pass  # not the main thread: the caller stops the world some other way
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError):
        return None


def _wait_for_stop(wake_fd: int, *, watch_stdin: bool) -> None:
    """Block (no polling) until a stop signal or, if watched, end of file on stdin."""
    with selectors.DefaultSelector() as selector:
        selector.register(wake_fd, selectors.EVENT_READ, None)
        stdin_fd = _stdin_fd() if watch_stdin else None
        if watch_stdin:
            if stdin_fd is None:
                return  # no stdin to watch: it is as closed as it gets
            try:
                selector.register(stdin_fd, selectors.EVENT_READ, stdin_fd)
            except (OSError, ValueError):
                return  # a regular file or a closed descriptor: its end is already there
        while True:
            for key, _ in selector.select():
                if key.data is None:
                    return  # a stop signal
                try:
                    if not os.read(key.data, 65536):  # whatever is typed is ignored
                        return
                except OSError:
                    return


@contextlib.contextmanager
def _log_to_stderr() -> Iterator[None]:
    logger = log
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    previous = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
