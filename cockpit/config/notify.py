"""[[notify]]: channels told when an incident is declared or changes status.

Webhook URLs carry their credential in the path (Slack's do), so they are secrets like the
PagerDuty routing key: read from `url_env` / `url_file`, never written in the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args
from urllib.parse import urlsplit

from cockpit.config.base import FieldError, Secret
from cockpit.config.schema import Name, Seconds

# What a channel can be told about.
NotifyEvent = Literal["declared", "identified", "mitigated", "resolved"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
# PagerDuty only: the page acknowledged (sent right after the trigger, or asked for with a key).
ACKNOWLEDGED = "acknowledged"
EVENT_ORDER = ("declared", ACKNOWLEDGED, "identified", "mitigated", "resolved")
PagerDutyEvent = Literal["declared", "acknowledged", "resolved"]  # trigger, acknowledge, resolve
PAGERDUTY_EVENTS: tuple[PagerDutyEvent, ...] = get_args(PagerDutyEvent)
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


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
    name: Name
    url: Secret
    timeout: Seconds = 10.0
    events: tuple[NotifyEvent, ...] = NOTIFY_EVENTS

    def check(self) -> None:
        if self.url.is_set:
            _check_url("url_env", self.url.reveal(), shown=False)


@dataclass(frozen=True)
class PagerDutyNotifyConfig:
    """PagerDuty Events API v2: trigger on declare, then acknowledge (the engineer declaring
    is on it, so nobody else is escalated to), resolve; all with the same dedup_key."""

    kind: ClassVar[str] = "pagerduty"
    name: Name
    routing_key: Secret
    url: str = PAGERDUTY_EVENTS_URL
    timeout: Seconds = 10.0
    events: tuple[PagerDutyEvent, ...] = PAGERDUTY_EVENTS

    def check(self) -> None:
        _check_url("url", self.url, shown=True)


@dataclass(frozen=True)
class WebhookNotifyConfig:
    """Any HTTP endpoint taking one JSON document per incident event."""

    kind: ClassVar[str] = "webhook"
    name: Name
    url: Secret
    timeout: Seconds = 10.0
    events: tuple[NotifyEvent, ...] = NOTIFY_EVENTS

    def check(self) -> None:
        if self.url.is_set:
            _check_url("url_env", self.url.reveal(), shown=False)


NotifyConfig = SlackNotifyConfig | PagerDutyNotifyConfig | WebhookNotifyConfig

NOTIFY_KINDS: dict[str, type] = {
    "slack": SlackNotifyConfig,
    "pagerduty": PagerDutyNotifyConfig,
    "webhook": WebhookNotifyConfig,
}
