"""The states the screen keys on: which panel a source feeds, how fresh it is, where a probe
and an incident stand. A module of its own, without dataclasses, so the screen can be laid out
and drawn before the model and the detector are loaded."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Which panel a source feeds."""

    PROBE = "probe"
    DEPLOYS = "deploys"
    ERRORS = "errors"
    SENTRY = "sentry"
    ALERTS = "alerts"


class Freshness(StrEnum):
    LOADING = "loading"
    FRESH = "fresh"
    STALE = "stale"
    # A secret it needs is not set in this environment: never polled, `reason` says which.
    UNCONFIGURED = "not configured"


class ProbeState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
