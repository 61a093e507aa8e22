"""[[notify]]: channels told when an incident is declared or changes status.

Webhook URLs carry their credential in the path (Slack's do), so they are secrets like the
PagerDuty routing key: read from `url_env` / `url_file`, never written in the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from cockpit.config.base import FieldError, Secret

# What a channel can be told about.
NOTIFY_EVENTS = ("declared", "identified", "mitigated", "resolved")
# PagerDuty only: the page acknowledged (sent right after the trigger, or asked for with a key).
ACKNOWLEDGED = "acknowledged"
EVENT_ORDER = ("declared", ACKNOWLEDGED, "identified", "mitigated", "resolved")
PAGERDUTY_EVENTS = ("declared", ACKNOWLEDGED, "resolved")  # trigger, acknowledge, resolve
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def _check_events(events: tuple[str, ...]) -> None:
    for index, event in enumerate(events):
        if event not in NOTIFY_EVENTS:
            raise FieldError(("events", index), f"one of: {', '.join(NOTIFY_EVENTS)}")


def _check_url(key: str, url: str, shown: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # A secret URL is described, never echoed.
        what = repr(url) if shown else "the URL read from there"
        raise FieldError(key, f"{what} is not an http(s) URL")


@dataclass(frozen=True)
class SlackNotifyConfig:
    """A Slack incoming webhook: a message with `text` and Block Kit `blocks`."""

    kind: ClassVar[str] = "slack"
    name: str
    url: Secret
    timeout: float = 10.0
    events: tuple[str, ...] = NOTIFY_EVENTS

    def check(self) -> None:
        if self.url.is_set:
            _check_url("url_env", self.url.reveal(), shown=False)
        _check_events(self.events)


@dataclass(frozen=True)
class PagerDutyNotifyConfig:
    """PagerDuty Events API v2: trigger on declare, then acknowledge (the engineer declaring
    is on it, so nobody else is escalated to), resolve; all with the same dedup_key."""

    kind: ClassVar[str] = "pagerduty"
    name: str
    routing_key: Secret
    url: str = PAGERDUTY_EVENTS_URL
    timeout: float = 10.0
    events: tuple[str, ...] = PAGERDUTY_EVENTS

    def check(self) -> None:
        _check_url("url", self.url, shown=True)
        for index, event in enumerate(self.events):
            if event not in PAGERDUTY_EVENTS:
                raise FieldError(("events", index), f"one of: {', '.join(PAGERDUTY_EVENTS)}")


@dataclass(frozen=True)
class WebhookNotifyConfig:
    """Any HTTP endpoint taking one JSON document per incident event."""

    kind: ClassVar[str] = "webhook"
    name: str
    url: Secret
    timeout: float = 10.0
    events: tuple[str, ...] = NOTIFY_EVENTS

    def check(self) -> None:
        if self.url.is_set:
            _check_url("url_env", self.url.reveal(), shown=False)
        _check_events(self.events)


NotifyConfig = SlackNotifyConfig | PagerDutyNotifyConfig | WebhookNotifyConfig

NOTIFY_KINDS: dict[str, type] = {
    "slack": SlackNotifyConfig,
    "pagerduty": PagerDutyNotifyConfig,
    "webhook": WebhookNotifyConfig,
}
