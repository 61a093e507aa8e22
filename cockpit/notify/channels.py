"""Channels: where a notification goes and how one HTTP attempt is judged.

Error texts are composed here, never taken from the HTTP library: its messages quote the URL,
and a webhook URL is a secret. Whatever comes back from the server is scrubbed of every secret
the channel holds before it is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from cockpit.config.base import not_configured
from cockpit.config.notify import (
    NotifyConfig,
    PagerDutyNotifyConfig,
    SlackNotifyConfig,
    WebhookNotifyConfig,
)
from cockpit.notify.message import Announcement
from cockpit.notify.payloads import pagerduty_payload, slack_payload, webhook_payload
from cockpit.term.textsafe import one_line

USER_AGENT = "oncall-cockpit"
_BODY_SNIPPET = 120
# Parts of a secret URL shorter than this are left alone ("services", "v2" are not secrets).
_MIN_SECRET_PART = 6


class DeliveryError(Exception):
    """One attempt failed; the message is safe to store and show."""


@dataclass(frozen=True)
class Channel:
    """One configured destination. `url` and `secret` are never shown."""

    name: str
    kind: str
    url: str
    events: tuple[str, ...]
    timeout: float
    secret: str = ""  # a routing key sent in the body
    url_is_secret: bool = True
    # A secret it needs is not set in this environment: every send fails with this reason and
    # stays retryable (`cockpit incident retry` from a shell that has it sends it).
    not_configured: str = ""
    _hidden: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hidden = {self.secret} if self.secret else set()
        if self.url_is_secret:
            hidden |= _url_parts(self.url)
        # Longest first, so a part inside a longer one does not leave the rest showing.
        object.__setattr__(self, "_hidden", tuple(sorted(hidden, key=len, reverse=True)))

    def payload(self, a: Announcement, dedup_key: str) -> dict[str, Any] | None:
        if self.kind == "slack":
            return slack_payload(a)
        if self.kind == "pagerduty":
            return pagerduty_payload(a, self.secret, dedup_key)
        return webhook_payload(a)

    def wants(self, event: str) -> bool:
        return event in self.events

    def scrub(self, text: str) -> str:
        """The text without anything secret: the key, the secret URL or any part of it a
        server may echo (its path, a path segment, a query value)."""
        for secret in self._hidden:
            text = text.replace(secret, "***")
        return text

    async def deliver(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
        """POST the payload; raise DeliveryError with a safe reason unless the server took it."""
        if self.not_configured:
            raise DeliveryError(self.not_configured)
        try:
            # One deadline for the whole exchange (httpx's applies per phase), so a claim on
            # this notification is known to be dead once it is older than the timeout.
            async with asyncio.timeout(self.timeout):
                response = await client.post(
                    self.url,
                    json=payload,
                    timeout=self.timeout,
                    headers={"User-Agent": USER_AGENT},
                )
        except (TimeoutError, httpx.TimeoutException):
            raise DeliveryError(f"no answer within {self.timeout:g}s") from None
        except httpx.ConnectError:
            raise DeliveryError("could not connect (refused or unreachable)") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"request failed ({type(exc).__name__})") from None
        if 200 <= response.status_code < 300:
            return
        body = one_line(self.scrub(response.text), limit=_BODY_SNIPPET)
        reason = f"HTTP {response.status_code}"
        raise DeliveryError(f"{reason}: {body}" if body else reason)


def _url_parts(url: str) -> set[str]:
    parts = urlsplit(url)
    pieces = {url, parts.path, parts.query, f"{parts.path}?{parts.query}", parts.netloc}
    pieces.update(parts.path.split("/"))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces.update((value, f"{key}={value}"))
    if parts.password:
        pieces.add(parts.password)
    return {p for p in pieces if len(p) >= _MIN_SECRET_PART and p != parts.netloc}


def channel_from_config(config: NotifyConfig) -> Channel:
    missing = not_configured(config)
    if missing:
        url = config.url if isinstance(config.url, str) else ""
        return Channel(
            config.name, config.kind, url, config.events, config.timeout, not_configured=missing
        )
    if isinstance(config, PagerDutyNotifyConfig):
        return Channel(
            config.name,
            "pagerduty",
            config.url,
            config.events,
            config.timeout,
            secret=config.routing_key.reveal(),
            url_is_secret=False,
        )
    if isinstance(config, SlackNotifyConfig | WebhookNotifyConfig):
        return Channel(config.name, config.kind, config.url.reveal(), config.events, config.timeout)
    raise TypeError(f"unknown notify config {type(config).__name__}")


def channels_from_config(configs: Sequence[NotifyConfig]) -> list[Channel]:
    return [channel_from_config(c) for c in configs]
