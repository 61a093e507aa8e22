"""Times as the store keeps them: fixed-width UTC ISO text, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.timeutil import parse_iso


def to_text(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store keeps aware UTC times")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def opt_text(when: datetime | None) -> str | None:
    return None if when is None else to_text(when)


def opt_time(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)
