"""The one place that knows about clocks and how times are written."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; a naive one is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_utc_precise(when: datetime) -> str:
    """To the microsecond: for records a time is read back from (a run's start and end)."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def local_hms(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def local_clock(when: datetime, now: datetime | None = None, seconds: bool = True) -> str:
    """Local time of day, with the date in front when it is not today's: a timeline that spans
    midnight or yesterday's deploy must not look like today's."""
    local = when.astimezone()
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    today = (now or utcnow()).astimezone().date()
    return clock if local.date() == today else f"{local:%b%d} {clock}"


def local_hm(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M")


def utc_hm(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%H:%M")


def utc_hms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%H:%M:%S")


def local_stamp(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def utc_stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(when: datetime, now: datetime | None = None) -> str:
    """Compact age such as 45s, 12m, 3h, 2d."""
    seconds = max(0, int(((now or utcnow()) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration(seconds: float) -> str:
    """Human duration such as 2m 05s or 1h 03m."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
