"""Real Debian package logs for tests: tiny packages built with dpkg-deb, installed, upgraded
and removed by the real dpkg and apt-get into a private root and admin dir, their logs
(dpkg.log, apt's history.log) written where the test says; and logrotate run on them."""

from __future__ import annotations

import logging
import os
import subprocess
from datetime import datetime
from pathlib import Path

from programs import program


def build_deb(folder: Path, name: str, version: str) -> Path:
    """A package with one file, built by dpkg-deb."""
    tree = folder / f"tree-{name}-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: a test package\n"
    )
    (tree / "usr" / "share" / name).mkdir(parents=True)
    (tree / "usr" / "share" / name / "VERSION").write_text(version + "\n")
    deb = folder / f"{name}_{version}_all.deb"
    subprocess.run(
        [program("dpkg-deb", "dpkg"), "--build", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


class Host:
    """A private dpkg/apt installation: root, admin dir, apt state, logs."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / "root"
        self.admin = folder / "admin"
        self.logs = folder / "log"
        for sub in ("info", "updates"):
            (self.admin / sub).mkdir(parents=True, exist_ok=True)
        (self.admin / "status").touch()
        (self.admin / "available").touch()
        self.root.mkdir(exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.dpkg_log = self.logs / "dpkg.log"
        self.history_log = self.logs / "history.log"

    def dpkg(self, *args: str, tz: str | None = None) -> None:
        """dpkg with `args`; `tz` is the zone dpkg writes its local times in (a host whose
        clock says an earlier hour makes an older history, in dpkg's own format)."""
        env = {**os.environ, "TZ": tz} if tz is not None else None
        subprocess.run(
            [
                program("dpkg"),
                "--force-not-root",
                f"--root={self.root}",
                f"--admindir={self.admin}",
                f"--log={self.dpkg_log}",
                *args,
            ],
            check=True,
            capture_output=True,
            env=env,
        )

    def apt_get(self, *args: str) -> None:
        """The real apt-get, on local .deb files, with every directory its own."""
        apt = self.folder / "apt"
        for sub in ("etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d"):
            (apt / sub).mkdir(parents=True, exist_ok=True)
        (apt / "etc" / "sources.list").touch()
        for sub in ("state/lists/partial", "cache/archives/partial"):
            (apt / sub).mkdir(parents=True, exist_ok=True)
        options = {
            "Dir::Etc": apt / "etc",
            "Dir::State": apt / "state",
            "Dir::State::status": self.admin / "status",
            "Dir::Cache": apt / "cache",
            "Dir::Log": self.logs,
            "Dir::Log::History": self.history_log,
            "Debug::NoLocking": "1",
            "APT::Sandbox::User": "root",
        }
        argv = [program("apt-get", "apt"), "-q", "-y"]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        for option in (
            f"--root={self.root}",
            f"--admindir={self.admin}",
            "--force-not-root",
            f"--log={self.dpkg_log}",
        ):
            argv += ["-o", f"DPkg::Options::={option}"]
        subprocess.run([*argv, *args], check=True, capture_output=True)


def logrotate(log: Path, *, compress: bool = True) -> None:
    """One forced rotation by the real logrotate, as Debian configures dpkg's log (rotate,
    compress, delaycompress): log -> log.1 -> log.2.gz."""
    conf = log.parent / f"logrotate-{log.name}.conf"
    conf.write_text(
        f"{log} {{\n    rotate 12\n    {'compress' if compress else 'nocompress'}\n"
        "    delaycompress\n    missingok\n    notifempty\n    create 644 root root\n}\n"
    )
    state = log.parent / "logrotate.state"
    subprocess.run(
        [program("logrotate"), "--force", "--state", str(state), str(conf)],
        check=True,
        capture_output=True,
    )


def unattended_upgrades_log(path: Path, lines: list[tuple[datetime, str, str]]) -> None:
    """Lines written as unattended-upgrade writes its log: Python logging with its format
    string, '%(asctime)s %(levelname)s %(message)s' (unattended-upgrade 2.9, main()), each
    record dated `when` (local time, as asctime writes it)."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    try:
        for when, level, message in lines:
            record = logging.LogRecord("root", getattr(logging, level), "", 0, message, (), None)
            record.created = when.timestamp()
            record.msecs = (record.created % 1) * 1000
            handler.handle(record)
    finally:
        handler.close()
