"""Each channel's documented request body for an Announcement.

- Slack incoming webhook: `text` (the notification fallback) and Block Kit `blocks`.
  https://api.slack.com/messaging/webhooks
- PagerDuty Events API v2: routing_key, event_action (trigger/acknowledge/resolve), dedup_key,
  and for a
  trigger payload.summary/source/severity. https://developer.pagerduty.com/docs/events-api-v2
- Generic webhook: one JSON document naming its format and version.
"""

from __future__ import annotations

from typing import Any

from cockpit.notify.message import Announcement
from cockpit.timeutil import iso_utc

SLACK_HEADER_LIMIT = 150  # Block Kit header text
PAGERDUTY_SUMMARY_LIMIT = 1024
WEBHOOK_FORMAT = "oncall-cockpit.incident-event"
WEBHOOK_VERSION = 1

# Our severities onto PagerDuty's; a drill is always "info" so nobody is woken by it.
PAGERDUTY_SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters; nothing else needs escaping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(a: Announcement) -> dict[str, Any]:
    headline = a.headline()
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(headline, SLACK_HEADER_LIMIT)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{slack_escape(value)}"}
                for label, value in a.details()
            ],
        },
    ]
    if a.summary():
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(a.summary())}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"oncall-cockpit · {slack_escape(iso_utc(a.at))}"}
            ],
        }
    )
    # `text` is what notifications and clients without blocks show, so it carries it all.
    return {"text": slack_escape(headline), "blocks": blocks}


def pagerduty_payload(a: Announcement, routing_key: str, dedup_key: str) -> dict[str, Any] | None:
    """The Events v2 body, or None for events PagerDuty has no action for."""
    if a.event == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    if a.event == "acknowledged":
        return {"routing_key": routing_key, "event_action": "acknowledge", "dedup_key": dedup_key}
    if a.event != "declared":
        return None
    severity = "info" if a.drill else PAGERDUTY_SEVERITY.get(a.incident.severity, "error")
    details: dict[str, Any] = {label.lower().replace(" ", "_"): v for label, v in a.details()}
    if a.summary():
        details["summary"] = a.summary()
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "oncall-cockpit",
        "payload": {
            "summary": _clip(a.headline(), PAGERDUTY_SUMMARY_LIMIT),
            "source": a.service,
            "severity": severity,
            "timestamp": iso_utc(a.incident.declared_at),
            "component": a.service,
            "group": a.environment,
            "class": "incident",
            "custom_details": details,
        },
    }


def webhook_payload(a: Announcement) -> dict[str, Any]:
    return {
        "format": WEBHOOK_FORMAT,
        "version": WEBHOOK_VERSION,
        "event": a.event,
        "drill": a.drill,
        "text": a.headline(),
        "service": a.service,
        "environment": a.environment,
        "sent_at": iso_utc(a.at),
        "incident": a.incident_json(),
    }
