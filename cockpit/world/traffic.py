"""Background traffic: customers using the service, so the access log and Sentry have a story.

About seven requests a second, mostly file reads and single sessions; some customers open two
or three sessions at once (which the bad release breaks); /report about every 10-20 s (an
unrelated bug that does reach Sentry, so an issue exists before the incident starts). A fixed
pool of worker threads sends the requests; when it is busy a tick is skipped, never queued.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cockpit.world.service import USER_HEADER

log = logging.getLogger("cockpit.world")

_CUSTOMERS = (
    "acme-backup",
    "globex-sync",
    "initech-etl",
    "umbrella-ftp",
    "hooli-media",
    "stark-archive",
    "wayne-reports",
    "tyrell-ingest",
)
_AGENTS = (
    "rclone/v1.68.1",
    "WinSCP/6.3.5",
    "Cyberduck/9.0.4",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "lftp/4.9.2",
)
_FOLDERS = ("inbox", "exports", "invoices", "backups/nightly", "media/raw", "shared")
_WORKERS = 6
_REQUEST_TIMEOUT = 5.0


class BackgroundTraffic:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        rate: float = 7.0,
        report_every: tuple[float, float] = (10.0, 20.0),
        seed: int | None = None,
    ):
        self.host = host
        self.port = port
        self.rate = rate
        self.report_every = report_every
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(_WORKERS)
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._sent = 0
        self._sent_lock = threading.Lock()

    @property
    def sent(self) -> int:
        """Requests answered so far (any status)."""
        with self._sent_lock:
            return self._sent

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="world-traffic")
        self._thread = threading.Thread(target=self._run, name="world-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run(self) -> None:
        rnd = self._random
        next_report = time.monotonic()  # the first report goes out at once
        while not self._stop.wait(rnd.expovariate(self.rate)):
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + rnd.uniform(*self.report_every)
                self._send(["/report"], rnd.choice(_CUSTOMERS))
                continue
            customer = rnd.choice(_CUSTOMERS)
            roll = rnd.random()
            if roll < 0.6:
                path = f"/files/{rnd.choice(_FOLDERS)}/{rnd.randrange(1, 5000):05d}.dat"
                self._send([path], customer)
            elif roll < 0.85:
                self._send(["/session"], customer)
            else:
                # A sync job opening several connections at once, like SFTP clients do.
                self._send(["/session"] * rnd.choice((2, 3)), customer)

    def _send(self, paths: list[str], customer: str) -> None:
        pool = self._pool
        if pool is None:
            return
        agent = self._random.choice(_AGENTS)
        for path in paths:
            if not self._slots.acquire(blocking=False):
                return  # every worker is busy: skip rather than pile up
            try:
                pool.submit(self._request, path, customer, agent)
            except RuntimeError:  # the pool is shutting down
                self._slots.release()
                return

    def _request(self, path: str, customer: str, agent: str) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=_REQUEST_TIMEOUT)
        try:
            connection.request(
                "GET",
                path,
                headers={"User-Agent": agent, USER_HEADER: customer, "Connection": "close"},
            )
            connection.getresponse().read()
            with self._sent_lock:
                self._sent += 1
        except (OSError, http.client.HTTPException) as exc:
            log.debug("traffic: %s failed: %s", path, exc)
        finally:
            connection.close()
            self._slots.release()
