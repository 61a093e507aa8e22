"""Changes made by any cockpit, told to every other one at once: LISTEN on the channel each
write transaction NOTIFYs at its commit. An idle cockpit then reads the store only when told
(and now and then in case a notice was lost), instead of polling it every few seconds.

One thread and one connection per cockpit, waiting on the socket (no queries while idle).
When the connection drops it is opened again every RETRY seconds; each time it comes back
the cockpit is told to read the store, since what changed meanwhile was not announced.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.incident.store.pg.connect import PgTarget, close_quietly
from cockpit.incident.store.pg.store import CHANNEL

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

RETRY = 2.0  # seconds between attempts to listen again after the connection dropped
WAKE = 1.0  # how often the waiting thread looks whether it was asked to stop


class Listener:
    def __init__(self, target: PgTarget, on_change: Callable[[], None]):
        self.target = target
        self.on_change = on_change
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self.listening = threading.Event()  # set while LISTEN is in place
        self._thread = threading.Thread(target=self._run, name="store-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                conn = psycopg.connect(self.target.url, autocommit=True, **self.target.kwargs())
            except psycopg.Error:
                self._stop.wait(RETRY)
                continue
            self._conn = conn
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                self.listening.set()
                self._told()  # whatever happened while not listening
                while not self._stop.is_set():
                    # (Not nested: the generator holds the connection's lock while it yields.)
                    if list(conn.notifies(timeout=WAKE, stop_after=1)):
                        # A burst of commits is one re-read: take what else is queued.
                        list(conn.notifies(timeout=0.05))
                        self._told()
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    log.info("store listener: %s; listening again in %ss", exc, RETRY)
            finally:
                self.listening.clear()
                self._conn = None
                close_quietly(conn)
            self._stop.wait(RETRY)

    def _told(self) -> None:
        try:
            self.on_change()
        except Exception:  # the listener outlives a bad callback
            log.exception("store change callback failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WAKE + 1)
