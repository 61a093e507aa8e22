"""The drill world's alerting rule, evaluated the way Prometheus evaluates one: every few
seconds the 5xx ratio of the edge access log over the last window; while it is above the
threshold the alert is pushed to the world's Alertmanager (again each evaluation, `endsAt` a few
evaluations ahead, as Prometheus does), and once it falls back it is pushed with `endsAt` now.

So the Files.com scenario pages on the proxy's 5xx spike, not on anything the probes see.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.timeutil import utcnow
from cockpit.world.alertmanager.server import Alertmanager

log = logging.getLogger("cockpit.world")

EVALUATION = 2.0  # seconds between evaluations
WINDOW = 20.0  # seconds of requests a ratio is taken over
THRESHOLD = 0.05
MIN_REQUESTS = 5
# A lone 500 in a short window (the unrelated /report bug, a second after start) is no spike:
# the rule wants more than one error, over the threshold for FOR_EVALUATIONS evaluations in a
# row (Prometheus' `for:`), and resolves after as many in a row under it (`keep_firing_for`),
# so a short window on a drill's compressed clock neither pages on noise nor flaps.
MIN_ERRORS = 2
FOR_EVALUATIONS = 2
ALERTNAME = "FilesWeb5xxHigh"
# `... "GET /x HTTP/1.1" 503 12 ...`: the status right after the quoted request line.
_STATUS = re.compile(r'" (\d{3}) ')


class FiveXxRule:
    def __init__(
        self,
        alertmanager: Alertmanager,
        access_log: Path,
        service: str,
        stopping: threading.Event,
        *,
        evaluation: float = EVALUATION,
        window: float = WINDOW,
    ):
        self.alertmanager = alertmanager
        self.access_log = access_log
        self.service = service
        self.stopping = stopping
        self.evaluation = evaluation
        self.window = window
        self._over = 0  # evaluations in a row over the threshold
        self._under = 0  # ... and under it
        self._seen: deque[tuple[float, bool]] = deque()  # (monotonic, is 5xx)
        self._offset = 0
        self.firing_since: datetime | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="world-alert-rule", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self.stopping.wait(self.evaluation):
            try:
                self.evaluate()
            except Exception as exc:  # an Alertmanager restarting must not end the rule
                log.warning("alert rule: %s", exc)

    def _read(self) -> None:
        try:
            with self.access_log.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        self._offset += end
        now = time.monotonic()
        for line in data[:end].decode("ascii", "replace").splitlines():
            found = _STATUS.search(line)
            if found:
                self._seen.append((now, found.group(1).startswith("5")))
        while self._seen and self._seen[0][0] < now - self.window:
            self._seen.popleft()

    def ratio(self) -> tuple[int, int]:
        return sum(1 for _, bad in self._seen if bad), len(self._seen)

    def evaluate(self) -> None:
        self._read()
        errors, requests = self.ratio()
        over = requests >= MIN_REQUESTS and errors >= MIN_ERRORS and errors / requests >= THRESHOLD
        self._over = self._over + 1 if over else 0
        self._under = 0 if over else self._under + 1
        now = utcnow()
        if self.firing_since is not None and not over and self._under < FOR_EVALUATIONS:
            over = True  # still firing: one quiet evaluation is not a recovery
        if over and (self.firing_since is not None or self._over >= FOR_EVALUATIONS):
            if self.firing_since is None:
                self.firing_since = now
            ratio = errors / requests if requests else 0.0
            self._push(
                f"5xx ratio {ratio:.0%} over the last {self.window:.3g}s "
                f"({errors} of {requests} requests)",
                ends_at=now + timedelta(seconds=self.evaluation * 4),
            )
        elif self.firing_since is not None:
            self._push("5xx ratio back under 5%", ends_at=now)
            self.firing_since = None

    def _push(self, summary: str, ends_at: datetime) -> None:
        assert self.firing_since is not None
        self.alertmanager.push(
            {
                "alertname": ALERTNAME,
                "service": self.service,
                "severity": "critical",
                "instance": f"{self.service}-edge",
            },
            {"summary": summary, "runbook": "revert the latest deploy if it preceded the spike"},
            starts_at=self.firing_since,
            ends_at=ends_at,
        )
