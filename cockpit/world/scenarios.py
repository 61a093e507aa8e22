"""What a drill replays: the service's deploy history, the bad deploy and who made it.

files-com  Files.com 2024-08-02: a routine deploy breaks every second simultaneous session
           while single-connection health checks stay green and the failing code path is
           excluded from Sentry.
dropbox    Dropbox 2014-01-10: the same kind of service, with an innocent recent deploy; the
           drill applies "db_reinstall", then "failover" and "restore" (see World.apply), and
           reverting that deploy is the tempting move that changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PastDeploy:
    age: timedelta  # how long before the world starts it was deployed
    who: str
    summary: str


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    service: str
    environment: str
    sentry_org: str
    history: tuple[PastDeploy, ...]  # oldest first; the last one runs when the world starts
    bad_who: str
    bad_summary: str


FILES_COM = Scenario(
    name="files-com",
    description=(
        "Files.com 2024-08-02: a deploy breaks every second simultaneous session; "
        "health checks stay green, the failing path is not reported to Sentry"
    ),
    service="files-web",
    environment="drill",
    sentry_org="files",
    history=(
        PastDeploy(timedelta(days=1), "deploy-bot", "Upgrade TLS ciphers on the FTPS listener"),
        PastDeploy(
            timedelta(hours=2), "maria", "Faster directory listings for large WebDAV folders"
        ),
    ),
    bad_who="alice",
    bad_summary="Reuse pooled session handles across protocols (SFTP/FTP/WebDAV)",
)

DROPBOX = Scenario(
    name="dropbox",
    description=(
        "Dropbox 2014-01-10: maintenance reinstalls active databases; a revert changes "
        "nothing, a failover brings most users back, a long tail lingers"
    ),
    service="sync-web",
    environment="drill",
    sentry_org="sync",
    history=(
        PastDeploy(timedelta(days=2), "deploy-bot", "Rotate the metadata shard map"),
        PastDeploy(timedelta(minutes=40), "dmitri", "Thumbnail cache: raise TTL to 6h"),
    ),
    bad_who="jo",
    bad_summary="Reuse pooled session handles across protocols (SFTP/FTP/WebDAV)",
)

SCENARIOS: dict[str, Scenario] = {FILES_COM.name: FILES_COM, DROPBOX.name: DROPBOX}


def versions_for(times: list[datetime]) -> list[str]:
    """Date-based versions, numbered per day in deploy order: 2026.11.21-1, 2026.11.21-2 ..."""
    per_day: dict[str, int] = {}
    out = []
    for at in times:
        day = f"{at:%Y.%m.%d}"
        per_day[day] = per_day.get(day, 0) + 1
        out.append(f"{day}-{per_day[day]}")
    return out
