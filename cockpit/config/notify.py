"""[[notify]]: channels told when an incident is declared or changes status."""

from __future__ import annotations

from typing import Any

NotifyConfig = Any

NOTIFY_KINDS: dict[str, type] = {}
