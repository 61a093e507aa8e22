"""What a drill replays: the service's deploy history, the bad deploy and who made it.

files-com  Files.com 2024-08-02: a routine deploy breaks every second simultaneous session
           while single-connection health checks stay green and the failing code path is
           excluded from Sentry.
dropbox    Dropbox 2014-01-10: the same kind of service, with an innocent recent deploy; the
           drill applies "db_reinstall", then "failover" and "restore" (see World.apply), and
           reverting that deploy is the tempting move that changes nothing. The maintenance
           script's runs are logged (a dry run first, then the run that reinstalls).
datadog    Datadog 2023-03-08: four nodes behind the service; unattended-upgrades installs a
           systemd update on the two whose images still had the security channel, and their
           network goes (the package logs on each node say so).
cloudflare Cloudflare 2025-11-18: the proxy loads a bot-management feature file; a grants
           change makes the generator's next file twice too big, and an innocent deploy lands
           in between.
files-com-2023  Files.com 2023-10-10: a config commit hardening HTTP headers breaks downloads
           of more than one file (the ZIP path); single files keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.world.configrepo import ConfigCommit
from cockpit.world.fleet import FleetShape, PastInstall


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
    # A routine release the "deploy" fault ships: it changes nothing that fails.
    innocent_who: str = "deploy-bot"
    innocent_summary: str = "Routine dependency bumps"
    fleet: FleetShape | None = None  # hosts behind the service, with their package logs
    config_history: tuple[ConfigCommit, ...] = ()  # a config repository, when not empty
    bad_config: ConfigCommit | None = None  # what the "config_change" fault commits
    features: bool = False  # the proxy loads a feature file (Cloudflare 2025)
    maintenance_hosts: tuple[str, ...] = ()  # what the maintenance script acts on


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
    # The OS upgrade script's targets: meant to be idle, they held the active databases.
    maintenance_hosts=("db-meta-1", "db-meta-2", "db-meta-3", "db-meta-4"),
)

# Ubuntu 22.04's systemd security update of March 2023 (USN-5928-1), as the nodes got it.
_SYSTEMD_OLD, _SYSTEMD_NEW = "249.11-0ubuntu3.6", "249.11-0ubuntu3.7"
_SYSTEMD_PACKAGES = (
    "libnss-systemd",
    "libpam-systemd",
    "libsystemd0",
    "libudev1",
    "systemd",
    "systemd-sysv",
    "systemd-timesyncd",
    "udev",
)

DATADOG = Scenario(
    name="datadog",
    description=(
        "Datadog 2023-03-08: unattended-upgrades installs a systemd update on half the "
        "nodes outside the deploy pipeline; their network goes"
    ),
    service="intake",
    environment="drill",
    sentry_org="intake",
    history=(
        PastDeploy(timedelta(days=1), "deploy-bot", "Intake: batch size 500 -> 800"),
        PastDeploy(timedelta(hours=3), "priya", "Retry metric writes with jitter"),
    ),
    bad_who="deploy-bot",
    bad_summary="(no bad release in this scenario)",
    fleet=FleetShape(
        hosts=("node-1", "node-2", "node-3", "node-4"),
        installed={
            **{p: _SYSTEMD_OLD for p in _SYSTEMD_PACKAGES},
            "openssl": "3.0.2-0ubuntu1.7",
            "libssl3": "3.0.2-0ubuntu1.7",
            "tzdata": "2022g-0ubuntu0.22.04.1",
        },
        sources={
            **{p: "systemd" for p in _SYSTEMD_PACKAGES},
            "libssl3": "openssl",
        },
        upgrade={p: _SYSTEMD_NEW for p in _SYSTEMD_PACKAGES},
        # The node images that still had the legacy security update channel enabled.
        upgraded_hosts=("node-2", "node-4"),
        breaking_package="systemd",
        history=(
            PastInstall(
                timedelta(days=6), {"openssl": "3.0.2-0ubuntu1.8", "libssl3": "3.0.2-0ubuntu1.8"}
            ),
            PastInstall(timedelta(days=2), {"htop": "3.0.5-7build2"}, by="priya"),
        ),
    ),
)

CLOUDFLARE = Scenario(
    name="cloudflare",
    description=(
        "Cloudflare 2025-11-18: a database grants change makes the bot-management feature "
        "file twice too big; the proxy fails every request; an innocent deploy in between"
    ),
    service="edge-proxy",
    environment="drill",
    sentry_org="edge",
    history=(
        PastDeploy(timedelta(days=1), "deploy-bot", "FL2: new header normalisation"),
        PastDeploy(timedelta(hours=5), "sam", "Rate limiter: per-colo buckets"),
    ),
    bad_who="deploy-bot",
    bad_summary="(no bad release in this scenario)",
    innocent_who="lena",
    innocent_summary="Dashboard: WAF analytics chart colours",
    features=True,
)

_HEADERS_PATH = "files-web/http-headers.conf"
_HEADERS = """\
# Response headers the web front end adds to every response.
Strict-Transport-Security: max-age=31536000; includeSubDomains
X-Content-Type-Options: nosniff
Referrer-Policy: strict-origin-when-cross-origin
"""

FILES_COM_2023 = Scenario(
    name="files-com-2023",
    description=(
        "Files.com 2023-10-10: a config change hardening HTTP headers breaks downloads of "
        "more than one file at a time; single-file downloads and health checks stay green"
    ),
    service="files-web",
    environment="drill",
    sentry_org="files",
    history=FILES_COM.history,
    bad_who="alice",
    bad_summary="(no bad release in this scenario)",
    config_history=(
        ConfigCommit(
            {_HEADERS_PATH: _HEADERS},
            "Kim Berg <kim@files.invalid>",
            "Response headers for the web front end",
            age=timedelta(days=30),
        ),
        ConfigCommit(
            {"files-web/uploads.conf": "chunk_size = 64MiB\nmax_parallel = 8\n"},
            "Maria Lopez <maria@files.invalid>",
            "Uploads: 64 MiB chunks",
            age=timedelta(days=6),
        ),
    ),
    bad_config=ConfigCommit(
        {
            _HEADERS_PATH: _HEADERS
            + "Cross-Origin-Resource-Policy: same-origin\n"
            + "Cross-Origin-Embedder-Policy: require-corp\n"
        },
        "Sec Eng <security@files.invalid>",
        "Harden HTTP response headers (CORP, COEP)\n\n"
        "Adds Cross-Origin-Resource-Policy and Cross-Origin-Embedder-Policy to every response.",
    ),
)
# The header that breaks the ZIP path: the ZIP builder fetches each file from another origin.
ZIP_BREAKING_HEADER = "Cross-Origin-Resource-Policy: same-origin"
HEADERS_PATH = _HEADERS_PATH

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (FILES_COM, DROPBOX, DATADOG, CLOUDFLARE, FILES_COM_2023)
}


def versions_for(times: list[datetime]) -> list[str]:
    """Date-based versions, numbered per day in deploy order: 2026.11.21-1, 2026.11.21-2 ..."""
    per_day: dict[str, int] = {}
    out = []
    for at in times:
        day = f"{at:%Y.%m.%d}"
        per_day[day] = per_day.get(day, 0) + 1
        out.append(f"{day}-{per_day[day]}")
    return out
