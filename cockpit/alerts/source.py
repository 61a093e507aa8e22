"""[[alerts]] kind "alertmanager": the alerts that page, and the silences over them.

Every member of the HA cluster is asked each round, at once. The members gossip, so each holds
(about) the same alerts: they are deduplicated by fingerprint (the newest `updatedAt` wins) and
silences by id. One member down is said (`Alerts.unreachable`) while the others answer; all of
them down or answering garbage makes the poll fail, so the panel is stale with the reason.
A member that stops answering is named as stale since its first failed round, until it answers
again; what the others hold is shown meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from cockpit.alerts.api import AlertmanagerClient, AlertmanagerError, host_of
from cockpit.alerts.matchers import covers
from cockpit.config.alerts import AlertmanagerConfig
from cockpit.model import Alert, Alerts, Category, Silence
from cockpit.sources.base import SourceError
from cockpit.timeutil import local_hms, utcnow


def merge(
    answers: list[tuple[tuple[Alert, ...], tuple[Silence, ...]]],
) -> tuple[tuple[Alert, ...], tuple[Silence, ...]]:
    alerts: dict[str, Alert] = {}
    silences: dict[str, Silence] = {}
    for member_alerts, member_silences in answers:
        for alert in member_alerts:
            held = alerts.get(alert.fingerprint)
            newer = (
                (alert.updated_at or alert.starts_at) > (held.updated_at or held.starts_at)
                if held
                else True
            )
            if newer:
                alerts[alert.fingerprint] = alert
        for silence in member_silences:
            silences.setdefault(silence.id, silence)
    ordered = sorted(alerts.values(), key=lambda a: (a.starts_at, a.fingerprint))
    return tuple(ordered), tuple(sorted(silences.values(), key=lambda s: s.ends_at))


class AlertmanagerSource:
    kind = "alertmanager"
    category = Category.ALERTS

    def __init__(self, cfg: AlertmanagerConfig, *, clock: Callable[[], datetime] = utcnow):
        self.cfg = cfg
        self._clock = clock
        self._down_since: dict[str, datetime] = {}  # member url -> its first failed round
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.matchers = cfg.matcher_list
        self.client = AlertmanagerClient(cfg)

    @property
    def target(self) -> str:
        return ", ".join(host_of(u) for u in self.client.urls)

    async def _member(self, url: str) -> tuple[tuple[Alert, ...], tuple[Silence, ...]]:
        alerts, silences = await asyncio.gather(
            self.client.alerts(url, self.matchers),
            self.client.silences(url),
            return_exceptions=True,
        )
        for failed in (alerts, silences):  # what is wrong with the alerts is said first
            if isinstance(failed, BaseException):
                raise failed
        assert isinstance(alerts, tuple) and isinstance(silences, tuple)
        # The server filters by the matchers; filtering again keeps a server that ignores
        # the filter from putting other teams' alerts on this screen.
        return tuple(a for a in alerts if not self.matchers or covers(self.matchers, a)), silences

    async def poll(self) -> Alerts:
        urls = self.client.urls
        answers = await asyncio.gather(*(self._member(u) for u in urls), return_exceptions=True)
        now = self._clock()
        good: list[tuple[tuple[Alert, ...], tuple[Silence, ...]]] = []
        members: list[str] = []
        down: list[str] = []
        stale: list[tuple[str, datetime]] = []
        reasons: list[str] = []
        for url, answer in zip(urls, answers, strict=True):
            host = host_of(url)
            if isinstance(answer, BaseException):
                if not isinstance(answer, AlertmanagerError):
                    raise answer
                since = self._down_since.setdefault(url, now)
                why = str(answer).removeprefix(f"{host}: ").replace(f" by {host}", "")
                reasons.append(str(answer))
                down.append(f"{host} stale since {local_hms(since)}: {why}")
                stale.append((host, since))
            else:
                self._down_since.pop(url, None)
                good.append(answer)
                members.append(host)
        if not good:
            raise SourceError("; ".join(reasons))
        alerts, silences = merge(good)
        alerts = tuple(replace(a, source=self.name) for a in alerts)
        return Alerts(self.name, alerts, silences, tuple(members), tuple(down), tuple(stale))

    async def aclose(self) -> None:
        await self.client.aclose()
