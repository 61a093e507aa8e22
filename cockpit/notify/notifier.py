"""Telling every configured channel about an incident event, without ever holding it up.

Each (incident, channel, event) is claimed in the store before it is sent and settled after,
so a failure is kept with its reason and attempt count, a later `retry_failed` sends exactly
what did not go out, and two processes never send the same notification twice. Outcomes are
timeline events too: the postmortem shows who was told, and when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from cockpit.config import Config
from cockpit.config.notify import ACKNOWLEDGED, EVENT_ORDER
from cockpit.incident.store.notifications import Notification
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Incident, IncidentStatus, TimelineEvent
from cockpit.notify.channels import Channel, DeliveryError, channels_from_config
from cockpit.notify.message import Announcement
from cockpit.timeutil import utcnow

log = logging.getLogger(__name__)

DRILL_POLICIES = ("mark", "suppress")
# A send ends within its channel's timeout, so a claim older than that plus this margin
# belongs to a process that died mid-send.
CLAIM_MARGIN = timedelta(seconds=5)
RETRY_HINT = "`cockpit incident retry` sends it again"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one notification ended in this call."""

    channel: str
    event: str
    status: str  # "sent", "failed", "suppressed"
    error: str = ""
    attempts: int = 0


@dataclass
class Notifier:
    store: IncidentStore
    channels: Sequence[Channel]
    service: str = "service"
    environment: str = "production"
    drill: bool = False  # the cockpit runs a drill: every incident counts as one
    drill_policy: str = "mark"
    claim_margin: timedelta = CLAIM_MARGIN
    _tasks: set[asyncio.Task[list[Delivery]]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if self.drill_policy not in DRILL_POLICIES:
            raise ValueError(f"drill policy must be one of {DRILL_POLICIES}")

    @classmethod
    def from_config(cls, store: IncidentStore, config: Config) -> Notifier:
        section = config.cockpit
        return cls(
            store,
            channels_from_config(config.notify),
            service=section.service,
            environment=section.environment,
            drill=section.drill,
            drill_policy=section.drill_notifications,
        )

    # -- sending --------------------------------------------------------------------------------

    def start(self, incident: Incident, event: str) -> asyncio.Task[list[Delivery]]:
        """Send in the background (needs a running loop); the caller goes on at once."""
        task = asyncio.get_running_loop().create_task(
            self.send(incident, event), name=f"notify-{incident.id}-{event}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> list[Delivery]:
        """Wait for everything `start` began; what a script does before it exits."""
        out: list[Delivery] = []
        while self._tasks:
            for result in await asyncio.gather(*self._tasks, return_exceptions=True):
                if isinstance(result, BaseException):
                    log.warning("notification task failed: %s", type(result).__name__)
                else:
                    out.extend(result)
        return out

    async def aclose(self) -> None:
        """Cancel background sends (what was claimed stays retryable)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, incident: Incident, event: str) -> list[Delivery]:
        """Tell every channel that wants `event`; never raises for a channel's failure."""
        if event not in EVENT_ORDER:
            raise ValueError(f"notify event {event!r} is not one of {EVENT_ORDER}")
        targets = [c for c in self.channels if c.wants(event)]
        if not targets:
            return []
        drill = self.drill or incident.drill
        if drill and self.drill_policy == "suppress":
            return [await self._suppress(incident, c, event) for c in targets]
        async with httpx.AsyncClient(follow_redirects=False) as client:
            results = await asyncio.gather(
                *(self._send_then_ack(client, incident, c, event, drill) for c in targets)
            )
        return [d for sent in results for d in sent]

    async def retry_failed(self, incident_id: int | None = None) -> list[Delivery]:
        """Send again what failed (or was left mid-send by a process that died)."""
        pending = [
            n
            for n in await asyncio.to_thread(self.store.notifications, incident_id)
            if n.status in ("failed", "sending")
        ]
        pending.sort(key=lambda n: (n.incident_id, EVENT_ORDER.index(n.event)))
        by_name = {c.name: c for c in self.channels}
        out: list[Delivery] = []
        async with httpx.AsyncClient(follow_redirects=False) as client:
            for note in pending:
                channel = by_name.get(note.channel)
                incident = await asyncio.to_thread(self.store.get, note.incident_id)
                if channel is None or incident is None:
                    continue  # the channel left the config; its failure stays on record
                if self._alert_would_be_orphaned(channel, note, incident):
                    out.append(
                        await self._settle(
                            incident,
                            channel,
                            note.event,
                            "suppressed",
                            "not sent: the incident was resolved before the retry",
                        )
                    )
                    continue
                drill = self.drill or incident.drill
                out += await self._send_then_ack(client, incident, channel, note.event, drill)
        return out

    # -- one channel ----------------------------------------------------------------------------

    @staticmethod
    def _alert_would_be_orphaned(channel: Channel, note: Notification, incident: Incident) -> bool:
        # A late PagerDuty trigger for a resolved incident would page someone for nothing.
        return (
            channel.kind == "pagerduty"
            and note.event in ("declared", ACKNOWLEDGED)
            and incident.status == IncidentStatus.RESOLVED
        )

    async def _send_then_ack(
        self,
        client: httpx.AsyncClient,
        incident: Incident,
        channel: Channel,
        event: str,
        drill: bool,
    ) -> list[Delivery]:
        """One send; a trigger that went out is acknowledged at once on the channels that
        take acknowledgements (PagerDuty), with the same dedup key, after it (PagerDuty
        ignores an acknowledge for an alert it does not have yet)."""
        sent = await self._send_one(client, incident, channel, event, drill)
        out = [sent] if sent is not None else []
        if (
            event == "declared"
            and sent is not None
            and sent.status == "sent"
            and channel.wants(ACKNOWLEDGED)
        ):
            ack = await self._send_one(client, incident, channel, ACKNOWLEDGED, drill)
            if ack is not None:
                out.append(ack)
        return out

    async def _send_one(
        self,
        client: httpx.AsyncClient,
        incident: Incident,
        channel: Channel,
        event: str,
        drill: bool,
    ) -> Delivery | None:
        stale = timedelta(seconds=channel.timeout) + self.claim_margin
        claim = await asyncio.to_thread(
            self.store.claim_notification, incident.id, channel.name, event, stale_after=stale
        )
        if claim is None:
            return None  # sent already, or another process is sending it right now
        try:
            key = await asyncio.to_thread(self.store.notify_key, incident.id)
            announcement = Announcement(
                incident, event, utcnow(), drill, self.service, self.environment
            )
            payload = channel.payload(announcement, key)
            if payload is None:
                reason = f"{channel.kind} has no action for {event}"
                return await self._settle(incident, channel, event, "suppressed", reason)
            await channel.deliver(client, payload)
        except DeliveryError as exc:
            return await self._settle(incident, channel, event, "failed", str(exc), claim.attempts)
        except asyncio.CancelledError:
            raise  # the claim goes stale and a retry picks it up
        except Exception as exc:  # a bug here must not lose the record of the attempt
            reason = f"unexpected {type(exc).__name__}"
            return await self._settle(incident, channel, event, "failed", reason, claim.attempts)
        return await self._settle(incident, channel, event, "sent", "", claim.attempts)

    async def _suppress(self, incident: Incident, channel: Channel, event: str) -> Delivery:
        return await self._settle(
            incident, channel, event, "suppressed", "drill: notifications suppressed"
        )

    async def _settle(
        self,
        incident: Incident,
        channel: Channel,
        event: str,
        status: str,
        error: str,
        attempts: int = 0,
    ) -> Delivery:
        error = channel.scrub(error)
        await asyncio.to_thread(
            self.store.finish_notification, incident.id, channel.name, event, status, error
        )
        who = f"{channel.name} ({channel.kind})"
        if status == "sent":
            text = f"notified {who} of {event}"
        elif status == "failed":
            text = f"notifying {who} of {event} failed (attempt {attempts}): {error}; {RETRY_HINT}"
        else:
            text = f"{who} not told of {event}: {error}"
        timeline = TimelineEvent(utcnow(), f"notify.{status}", text, "notify")
        await asyncio.to_thread(self.store.add_event, timeline, incident.id)
        return Delivery(channel.name, event, status, error, attempts)
