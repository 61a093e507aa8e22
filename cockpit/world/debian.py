"""A host's package state and logs, written the way Debian's own tools write them.

    host = DebianHost(directory, "web-2", installed={"systemd": "249.11-0ubuntu3.6", ...})
    host.unattended_upgrade({"systemd": "249.11-0ubuntu3.7", ...})   # the 06:00 timer run
    host.install({"systemd": "249.11-0ubuntu3.6"}, by="alice", downgrade=True)
    host.version("systemd")

Under `directory` (a host's root, as on the host itself):

    var/log/dpkg.log                                       dpkg's own log
    var/log/apt/history.log                                apt's transaction log
    var/log/unattended-upgrades/unattended-upgrades.log    unattended-upgrades' log
    var/lib/dpkg/status                                    what is installed (dpkg's format)

The line formats are copied from the programs, not invented: dpkg stamps every line with its
local time to the second (`2023-03-08 06:01:12 upgrade systemd:amd64 OLD NEW`) and logs a
downgrade as an `upgrade` too; apt opens each entry with a blank line and `Start-Date:` with
two spaces between date and time; unattended-upgrades logs through Python's logging with
`%(asctime)s %(levelname)s %(message)s`. A change source reading these files reads what it would
read on a real host.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.host.files import write_file
from cockpit.timeutil import utcnow

DPKG_LOG = Path("var/log/dpkg.log")
APT_HISTORY = Path("var/log/apt/history.log")
UNATTENDED_LOG = Path("var/log/unattended-upgrades/unattended-upgrades.log")
UNATTENDED_DPKG_LOG = "/var/log/unattended-upgrades/unattended-upgrades-dpkg.log"
DPKG_STATUS = Path("var/lib/dpkg/status")
UNATTENDED_COMMAND = "/usr/bin/unattended-upgrade"
ARCH = "amd64"
# What unattended-upgrades prints for Ubuntu 22.04's default origins.
ALLOWED_ORIGINS = (
    "o=Ubuntu,a=jammy, o=Ubuntu,a=jammy-security, "
    "o=UbuntuESMApps,a=jammy-apps-security, o=UbuntuESM,a=jammy-infra-security"
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# Packages whose maintainer scripts fire these triggers (so their lines appear, as on a host).
_TRIGGERS = (("libc-bin", "2.35-0ubuntu3.1"), ("man-db", "2.10.2-1"))


def dpkg_time(at: datetime) -> str:
    """dpkg's stamp: local time, to the second, no zone."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def apt_time(at: datetime) -> str:
    """apt's history stamp: local time, two spaces between date and time."""
    return at.astimezone().strftime("%Y-%m-%d  %H:%M:%S")


def logging_time(at: datetime) -> str:
    """Python logging's default asctime: local time with milliseconds after a comma."""
    local = at.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S},{local.microsecond // 1000:03d}"


@dataclass(frozen=True)
class PackageChange:
    package: str
    old: str | None  # None: newly installed
    new: str


def dpkg_lines(at: datetime, changes: Iterable[PackageChange]) -> list[str]:
    """One dpkg run unpacking then configuring `changes`, as dpkg logs it."""
    changes = list(changes)
    t = dpkg_time(at)
    out = [f"{t} startup archives unpack"]
    for c in changes:
        name = f"{c.package}:{ARCH}"
        if c.old is None:
            out += [
                f"{t} install {name} <none> {c.new}",
                f"{t} status half-installed {name} {c.new}",
                f"{t} status unpacked {name} {c.new}",
            ]
        else:
            out += [
                f"{t} upgrade {name} {c.old} {c.new}",
                f"{t} status half-configured {name} {c.old}",
                f"{t} status unpacked {name} {c.old}",
                f"{t} status half-installed {name} {c.old}",
                f"{t} status unpacked {name} {c.new}",
            ]
    trigger, trigger_version = _TRIGGERS[0]
    out.append(f"{t} status triggers-pending {trigger}:{ARCH} {trigger_version}")
    out.append(f"{t} startup packages configure")
    for c in changes:
        name = f"{c.package}:{ARCH}"
        out += [
            f"{t} configure {name} {c.new} <none>",
            f"{t} status unpacked {name} {c.new}",
            f"{t} status half-configured {name} {c.new}",
            f"{t} status installed {name} {c.new}",
        ]
    for trigger, version in _TRIGGERS:
        name = f"{trigger}:{ARCH}"
        out += [
            f"{t} trigproc {name} {version} <none>",
            f"{t} status half-configured {name} {version}",
            f"{t} status installed {name} {version}",
        ]
    return out


def apt_history_entry(
    start: datetime,
    end: datetime,
    changes: Iterable[PackageChange],
    *,
    commandline: str,
    requested_by: str | None = None,
) -> list[str]:
    """One apt transaction in history.log: Install, Upgrade and Downgrade groups."""
    groups: dict[str, list[str]] = {"Install": [], "Upgrade": [], "Downgrade": []}
    for c in changes:
        name = f"{c.package}:{ARCH}"
        if c.old is None:
            groups["Install"].append(f"{name} ({c.new})")
        elif _older(c.new, c.old):
            groups["Downgrade"].append(f"{name} ({c.old}, {c.new})")
        else:
            groups["Upgrade"].append(f"{name} ({c.old}, {c.new})")
    out = ["", f"Start-Date: {apt_time(start)}", f"Commandline: {commandline}"]
    if requested_by:
        out.append(f"Requested-By: {requested_by}")
    out += [f"{group}: {', '.join(items)}" for group, items in groups.items() if items]
    out.append(f"End-Date: {apt_time(end)}")
    return out


def unattended_lines(at: datetime, packages: Iterable[str], *, done: datetime) -> list[str]:
    """One unattended-upgrades run; no packages: the run that finds nothing to do."""
    packages = sorted(packages)
    head = [
        (at, "INFO Starting unattended upgrades script"),
        (at, f"INFO Allowed origins are: {ALLOWED_ORIGINS}"),
        (at, "INFO Initial blacklist: "),
        (at, "INFO Initial whitelist (not strict): "),
    ]
    if not packages:
        tail = [
            (
                done,
                "INFO No packages found that can be upgraded unattended and no pending "
                "auto-removals",
            )
        ]
    else:
        tail = [
            (done, f"INFO Packages that will be upgraded: {' '.join(packages)}"),
            (done, f"INFO Writing dpkg log to {UNATTENDED_DPKG_LOG}"),
            (done, "INFO All upgrades installed"),
        ]
    return [f"{logging_time(when)} {text}" for when, text in [*head, *tail]]


def status_file(installed: Mapping[str, str], sources: Mapping[str, str]) -> str:
    """/var/lib/dpkg/status for these packages (the stanzas dpkg keeps, trimmed to the
    fields a reader needs; `Source:` where the source package has another name)."""
    stanzas = []
    for package in sorted(installed):
        source = sources.get(package, package)
        stanzas.append(
            f"Package: {package}\n"
            "Status: install ok installed\n"
            "Priority: optional\n"
            f"Architecture: {ARCH}\n"
            + (f"Source: {source}\n" if source != package else "")
            + f"Version: {installed[package]}\n"
        )
    return "\n".join(stanzas)


def read_sources(text: str) -> dict[str, str]:
    """Package -> its source package, from a dpkg status file."""
    out: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(
            (k.strip(), v.strip())
            for k, sep, v in (line.partition(":") for line in stanza.splitlines())
            if sep
        )
        if "Package" in fields:
            out[fields["Package"]] = fields.get("Source", fields["Package"]).split(" ")[0]
    return out


def read_status(text: str) -> dict[str, str]:
    """Package -> version from a dpkg status file (installed packages only)."""
    out: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith(" "):
                fields[key.strip()] = value.strip()
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            out[fields["Package"]] = fields.get("Version", "")
    return out


def _older(a: str, b: str) -> bool:
    """Whether version a sorts before b, by Debian's rules for the versions the world uses
    (digits compare as numbers, `~` before anything, letters before other symbols)."""
    return _version_key(a) < _version_key(b)


def _version_key(version: str) -> list[tuple[int, int | str]]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    key: list[tuple[int, int | str]] = [(1, int(epoch or 0))]
    for part in re.findall(r"\d+|[^\d]+", rest):
        if part.isdigit():
            key.append((1, int(part)))
        else:
            key.append((0, "".join(_char_order(ch) for ch in part)))
    return key


def _char_order(ch: str) -> str:
    if ch == "~":
        return "\x00"
    if ch.isalpha():
        return chr(0x100 + ord(ch))
    return chr(0x200 + ord(ch))


class DebianHost:
    """One host's packages: the status file and the three logs, kept in step."""

    def __init__(
        self,
        directory: Path,
        name: str,
        installed: Mapping[str, str],
        sources: Mapping[str, str] | None = None,
    ):
        self.directory = directory
        self.name = name
        self._lock = threading.Lock()
        write_file(directory / DPKG_STATUS, status_file(installed, sources or {}), parents=True)
        for log in (DPKG_LOG, APT_HISTORY, UNATTENDED_LOG):
            (directory / log).parent.mkdir(parents=True, exist_ok=True)
            (directory / log).touch()

    @classmethod
    def open(cls, directory: Path) -> DebianHost:
        """A host made earlier (by the world), for a tool acting on it from outside."""
        host = cls.__new__(cls)
        host.directory = directory
        host.name = directory.name
        host._lock = threading.Lock()
        if not (directory / DPKG_STATUS).is_file():
            raise FileNotFoundError(f"{directory} holds no {DPKG_STATUS}")
        return host

    @property
    def dpkg_log(self) -> Path:
        return self.directory / DPKG_LOG

    @property
    def apt_history(self) -> Path:
        return self.directory / APT_HISTORY

    @property
    def unattended_log(self) -> Path:
        return self.directory / UNATTENDED_LOG

    @property
    def status_path(self) -> Path:
        return self.directory / DPKG_STATUS

    def installed(self) -> dict[str, str]:
        try:
            return read_status(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def version(self, package: str) -> str | None:
        return self.installed().get(package)

    def sources(self) -> dict[str, str]:
        try:
            return read_sources(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _append(self, log: Path, lines: list[str]) -> None:
        # One write per run in append mode, as each tool appends its own records.
        with (self.directory / log).open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))

    def _apply(
        self,
        wanted: Mapping[str, str],
        *,
        at: datetime,
        commandline: str,
        requested_by: str | None,
    ) -> list[PackageChange]:
        current = self.installed()
        changes = [
            PackageChange(package, current.get(package), version)
            for package, version in sorted(wanted.items())
            if current.get(package) != version
        ]
        if not changes:
            return []
        done = at + timedelta(seconds=1)
        self._append(DPKG_LOG, dpkg_lines(at, changes))
        self._append(
            APT_HISTORY,
            apt_history_entry(
                at, done, changes, commandline=commandline, requested_by=requested_by
            ),
        )
        # The status file last: what is installed changes when dpkg has configured it.
        write_file(self.status_path, status_file({**current, **wanted}, self.sources()))
        return changes

    def _with_siblings(
        self, packages: Mapping[str, str], current: Mapping[str, str]
    ) -> dict[str, str]:
        """The packages apt moves along: the binaries built from the same source at the same
        version depend on each other at exactly that version (systemd on libsystemd0 (= v)),
        so changing one changes them all."""
        sources = self.sources()
        out = dict(packages)
        for package, version in packages.items():
            source, old = sources.get(package, package), current.get(package)
            for other, other_version in current.items():
                if (
                    other not in out
                    and sources.get(other, other) == source
                    and other_version == old
                ):
                    out[other] = version
        return out

    def unattended_upgrade(
        self, upgrades: Mapping[str, str], at: datetime | None = None
    ) -> list[PackageChange]:
        """The apt-daily-upgrade timer's run: upgrades whichever of `upgrades` are installed
        at another version, or logs that it found nothing (an empty mapping: a host whose
        allowed origins offer nothing)."""
        at = at or utcnow()
        with self._lock:
            current = self.installed()
            wanted = {p: v for p, v in upgrades.items() if p in current and current[p] != v}
            changes = self._apply(wanted, at=at, commandline=UNATTENDED_COMMAND, requested_by=None)
            self._append(
                UNATTENDED_LOG, unattended_lines(at, [c.package for c in changes], done=at)
            )
            return changes

    def install(
        self,
        packages: Mapping[str, str],
        *,
        by: str,
        uid: int = 1000,
        downgrade: bool = False,
        at: datetime | None = None,
    ) -> list[PackageChange]:
        """`sudo apt-get install -y [--allow-downgrades] pkg=version ...` by `by`."""
        for package, version in packages.items():
            if not _NAME.match(package) or not version or any(c.isspace() for c in version):
                raise ValueError(f"not a package=version: {package}={version}")
        argv = ["apt-get", "install", "-y"]
        if downgrade:
            argv.append("--allow-downgrades")
        argv += [f"{p}={v}" for p, v in packages.items()]
        with self._lock:
            current = self.installed()
            packages = self._with_siblings(packages, current)
            for package, version in packages.items():
                old = current.get(package)
                if old is not None and _older(version, old) and not downgrade:
                    raise ValueError(
                        f"{package} {version} is older than the installed {old}: "
                        "a downgrade needs --allow-downgrades"
                    )
            return self._apply(
                packages,
                at=at or utcnow(),
                commandline=shlex.join(argv),
                requested_by=f"{by} ({uid})",
            )
