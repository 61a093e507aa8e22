"""What the hub needs from a source. One module per kind of source implements it."""

from __future__ import annotations

from typing import Protocol

from cockpit.model import Category, Reading


class SourceError(Exception):
    """A poll failed for a reason worth showing as-is on the panel ("connection refused")."""


class Source(Protocol):
    name: str
    kind: str  # the config kind, e.g. "http", "jsonl", "nginx_combined", "sentry"
    category: Category
    interval: float  # seconds between the end of one poll and the start of the next
    timeout: float  # a poll that takes longer is cancelled and counts as failed

    @property
    def target(self) -> str:
        """What it watches (URL, path), for screens and `cockpit check`; never holds secrets."""
        ...

    async def poll(self) -> Reading:
        """One round. Raises SourceError (or any exception) on failure; never blocks the loop."""
        ...

    async def aclose(self) -> None: ...


# A source that holds sessions open on a server may also have `endpoint: str` ("host:port"):
# the hub lets the sources of one endpoint take turns (see cockpit.hub).
