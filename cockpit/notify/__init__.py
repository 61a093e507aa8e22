"""Incident notifications: Slack, PagerDuty Events v2 and generic JSON webhooks."""

from cockpit.notify.channels import Channel, DeliveryError, channel_from_config
from cockpit.notify.message import Announcement
from cockpit.notify.notifier import Delivery, Notifier

__all__ = [
    "Announcement",
    "Channel",
    "Delivery",
    "DeliveryError",
    "Notifier",
    "channel_from_config",
]
