"""Background traffic: customers using the service, so the access log and Sentry have a story.

About seven requests a second, mostly file reads and single sessions; some customers open two
or three sessions at once (which the bad release breaks); /report about every 10-20 s (an
unrelated bug that does reach Sentry, so an issue exists before the incident starts). With a
WebDAV port, some ticks are WebDAV listings instead, sometimes several at once (sync jobs).
About a third of the clients are the mobile app (by User-Agent), which matters after a
failover, when mobile requests keep failing more often than desktop ones. A fixed pool of
worker threads sends the requests; when it is busy a tick is skipped, never queued.
"""

from __future__ import annotations

import base64
import http.client
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cockpit.world.accounts import CUSTOMERS, Accounts
from cockpit.world.service import USER_HEADER

log = logging.getLogger("cockpit.world")

_CUSTOMERS = CUSTOMERS
_AGENTS = (
    "rclone/v1.68.1",
    "WinSCP/6.3.5",
    "Cyberduck/9.0.4",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "lftp/4.9.2",
)
_MOBILE_AGENTS = (
    "FilesApp/5.2.1 (iPhone; iOS 17.5)",
    "FilesApp/5.2.1 (Android 14; Pixel 8)",
)
_MOBILE_SHARE = 0.3
_WEBDAV_SHARE = 0.15
_DAV_FOLDERS = ("/", "/exports/", "/inbox/", "/invoices/", "/shared/")
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
        webdav_port: int | None = None,
        accounts: Accounts | None = None,
        downloads: bool = False,
    ):
        self.host = host
        self.port = port
        self.webdav_port = webdav_port if accounts is not None else None
        self._accounts = accounts
        self.downloads = downloads  # some customers download several files at once (ZIP)
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
            if self.webdav_port is not None and rnd.random() < _WEBDAV_SHARE:
                # A WebDAV listing; now and then a sync job lists several folders at once.
                count = rnd.choice((1, 1, 2, 3))
                self._send_dav([rnd.choice(_DAV_FOLDERS) for _ in range(count)], customer)
                continue
            roll = rnd.random()
            if self.downloads and roll < 0.1:
                folder = rnd.choice(_FOLDERS)
                count = rnd.choice((1, 2, 3, 5))
                names = ",".join(f"{folder}/{rnd.randrange(1, 5000):05d}.dat" for _ in range(count))
                self._send([f"/download?files={names}"], customer)
            elif roll < 0.6:
                path = f"/files/{rnd.choice(_FOLDERS)}/{rnd.randrange(1, 5000):05d}.dat"
                self._send([path], customer)
            elif roll < 0.85:
                self._send(["/session"], customer)
            else:
                # A sync job opening several connections at once, like SFTP clients do.
                self._send(["/session"] * rnd.choice((2, 3)), customer)

    def _agent(self) -> str:
        if self._random.random() < _MOBILE_SHARE:
            return self._random.choice(_MOBILE_AGENTS)
        return self._random.choice(_AGENTS)

    def _send_dav(self, folders: list[str], customer: str) -> None:
        assert self._accounts is not None and self.webdav_port is not None
        secret = f"{customer}:{self._accounts.password_for(customer)}".encode()
        headers = {
            "Authorization": "Basic " + base64.b64encode(secret).decode(),
            "Depth": "1",
            "User-Agent": self._agent(),
            "Connection": "close",
        }
        for folder in folders:
            if not self._submit(self.webdav_port, "PROPFIND", folder, headers):
                return

    def _send(self, paths: list[str], customer: str) -> None:
        headers = {"User-Agent": self._agent(), USER_HEADER: customer, "Connection": "close"}
        for path in paths:
            if not self._submit(self.port, "GET", path, headers):
                return

    def _submit(self, port: int, method: str, path: str, headers: dict[str, str]) -> bool:
        pool = self._pool
        if pool is None:
            return False
        if not self._slots.acquire(blocking=False):
            return False  # every worker is busy: skip rather than pile up
        try:
            pool.submit(self._request, port, method, path, headers)
        except RuntimeError:  # the pool is shutting down
            self._slots.release()
            return False
        return True

    def _request(self, port: int, method: str, path: str, headers: dict[str, str]) -> None:
        connection = http.client.HTTPConnection(self.host, port, timeout=_REQUEST_TIMEOUT)
        try:
            connection.request(method, path, headers=headers)
            connection.getresponse().read()
            with self._sent_lock:
                self._sent += 1
        except (OSError, http.client.HTTPException) as exc:
            log.debug("traffic: %s %s failed: %s", method, path, exc)
        finally:
            connection.close()
            self._slots.release()
