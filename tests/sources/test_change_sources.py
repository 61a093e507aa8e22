"""Change sources against their real formats: dpkg.log and apt's history.log written by the
real dpkg and apt-get, rotated by the real logrotate; unattended-upgrades' log in the format
its source writes; maintenance JSON lines; a real git repository; a real JSON-printing program.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from config_repos import Repo
from debian_logs import Host, build_deb, logrotate, unattended_upgrades_log

from cockpit.config import ConfigError, parse
from cockpit.config.changes import (
    AptHistoryChangesConfig,
    CommandChangesConfig,
    DpkgChangesConfig,
    GitChangesConfig,
    MaintenanceChangesConfig,
    UnattendedUpgradesChangesConfig,
)
from cockpit.model import Changes, Deploy
from cockpit.sources.base import SourceError
from cockpit.sources.changes.command import CommandChanges
from cockpit.sources.changes.git import GitChanges
from cockpit.sources.changes.logs import LogChanges
from cockpit.sources.changes.merge import merge_changes
from cockpit.sources.registry import build_source
from cockpit.timeutil import utcnow

PKG = "cockpit-demo"


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("debs")
    return {v: build_deb(folder, PKG, v) for v in ("1.0-1", "1.1-1")}


def near_now(at: datetime) -> bool:
    return at.tzinfo is UTC and abs(utcnow() - at) < timedelta(minutes=10)


async def test_dpkg_log_written_by_dpkg(tmp_path: Path, debs: dict[str, Path]) -> None:
    host = Host(tmp_path)
    host.dpkg("-i", str(debs["1.0-1"]))
    host.dpkg("-i", str(debs["1.1-1"]))
    host.dpkg("-r", PKG)
    source = LogChanges(DpkgChangesConfig(name="web-2-dpkg", host="web-2", path=host.dpkg_log))

    reading = await source.poll()

    assert isinstance(reading, Changes) and reading.source == "web-2-dpkg"
    removed, upgraded, installed = reading.changes
    assert [c.id for c in reading.changes] == ["remove", "upgrade", "install"]
    assert (upgraded.kind, upgraded.host, upgraded.subject) == ("package", "web-2", PKG)
    assert (upgraded.old, upgraded.new) == ("1.0-1", "1.1-1")
    assert upgraded.what == f"{PKG} 1.0-1 -> 1.1-1 (upgrade)"
    assert (installed.old, installed.new) == ("", "1.0-1")
    assert (removed.old, removed.new) == ("1.1-1", "")
    assert all(near_now(c.at) for c in reading.changes)
    assert source.bad == 0  # status, configure and startup lines are steps, not junk


async def test_rotated_logs_read_as_logrotate_leaves_them(
    tmp_path: Path, debs: dict[str, Path]
) -> None:
    host = Host(tmp_path)
    host.dpkg("-i", str(debs["1.0-1"]))
    logrotate(host.dpkg_log)
    host.dpkg("-i", str(debs["1.1-1"]))
    logrotate(host.dpkg_log)
    host.dpkg("-r", PKG)
    names = sorted(p.name for p in host.logs.iterdir() if p.name.startswith("dpkg.log"))
    assert names == ["dpkg.log", "dpkg.log.1", "dpkg.log.2.gz"]  # delaycompress, then gzip

    both = await LogChanges(DpkgChangesConfig(name="d", path=host.dpkg_log)).poll()
    assert [c.id for c in both.changes] == ["remove", "upgrade", "install"]
    only = DpkgChangesConfig(name="d", path=host.dpkg_log, rotated=False)
    current = await LogChanges(only).poll()
    assert [c.id for c in current.changes] == ["remove"]
    # Limited to the newest: the older files are not needed, and not read.
    one = await LogChanges(DpkgChangesConfig(name="d", path=host.dpkg_log, max_changes=1)).poll()
    assert [c.id for c in one.changes] == ["remove"]


async def test_apt_history_written_by_apt_get_joins_dpkg_log(
    tmp_path: Path, debs: dict[str, Path]
) -> None:
    host = Host(tmp_path)
    host.apt_get("install", str(debs["1.0-1"]))
    host.apt_get("install", str(debs["1.1-1"]))
    apt = LogChanges(AptHistoryChangesConfig(name="apt", host="web-2", path=host.history_log))
    dpkg = LogChanges(DpkgChangesConfig(name="dpkg", host="web-2", path=host.dpkg_log))

    history = await apt.poll()
    upgraded, installed = history.changes
    assert (installed.id, installed.new, installed.subject) == ("install", "1.0-1", PKG)
    assert (upgraded.id, upgraded.old, upgraded.new) == ("upgrade", "1.0-1", "1.1-1")
    assert upgraded.by == "apt-get" and "/usr/bin/apt-get" in upgraded.detail
    assert all(near_now(c.at) and c.host == "web-2" for c in history.changes)

    # dpkg.log and history.log report the same two changes: listed once each, with who.
    merged = merge_changes((), [history, await dpkg.poll()])
    assert [(c.id, c.by) for c in merged] == [("upgrade", "apt-get"), ("install", "apt-get")]


def local(text: str) -> datetime:
    """A wall-clock time on this host, as the Debian tools write it."""
    return datetime.fromisoformat(text).astimezone()


async def test_unattended_upgrades_log(tmp_path: Path) -> None:
    log = tmp_path / "unattended-upgrades.log"
    upgrading = "Packages that will be upgraded: "
    writing = "Writing dpkg log to /var/log/unattended-upgrades/unattended-upgrades-dpkg.log"
    unattended_upgrades_log(
        log,
        [
            (local("2023-03-07 06:00:05"), "INFO", "Starting unattended upgrades script"),
            (local("2023-03-07 06:00:05"), "INFO", "Option --dry-run given, *not* performing"),
            (local("2023-03-07 06:00:09"), "INFO", upgrading + "openssl"),
            (local("2023-03-07 06:00:30"), "INFO", "All upgrades installed"),
            (local("2023-03-08 06:00:41"), "INFO", "Starting unattended upgrades script"),
            (local("2023-03-08 06:00:41"), "INFO", "Allowed origins are: origin=Debian"),
            (local("2023-03-08 06:00:44"), "INFO", upgrading + "libsystemd0 systemd"),
            (local("2023-03-08 06:00:44"), "INFO", writing),
            (local("2023-03-08 06:01:30"), "INFO", "All upgrades installed"),
            (local("2023-03-09 06:00:41"), "INFO", "Starting unattended upgrades script"),
            (local("2023-03-09 06:00:44"), "INFO", upgrading + "curl"),
            (local("2023-03-09 06:00:50"), "ERROR", "Installing the upgrades failed!"),
        ],
    )  # fmt: skip
    source = LogChanges(UnattendedUpgradesChangesConfig(name="uu", host="web-2", path=log))
    reading = await source.poll()
    assert [(c.subject, c.by, c.detail) for c in reading.changes] == [
        ("curl", "unattended-upgrades", "installing the upgrades failed"),
        ("systemd", "unattended-upgrades", "all upgrades installed"),
        ("libsystemd0", "unattended-upgrades", "all upgrades installed"),
    ]  # the dry run changed nothing; of one moment, the one logged later first
    assert reading.changes[1].at == datetime(2023, 3, 8, 6, 0, 44).astimezone().astimezone(UTC)


async def test_timezone_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "dpkg.log"
    log.write_text("2023-03-08 06:00:44 upgrade systemd:amd64 252.5-2 252.6-1\n")
    cfg = DpkgChangesConfig(name="d", path=log, timezone="America/New_York")
    (change,) = (await LogChanges(cfg).poll()).changes
    assert change.at == datetime(2023, 3, 8, 11, 0, 44, tzinfo=UTC)
    assert change.detail == "arch amd64 dpkg.log"


async def test_maintenance_runs_dry_runs_are_not_changes(tmp_path: Path) -> None:
    log = tmp_path / "maintenance.jsonl"
    runs = [
        {"at": "2014-01-10T17:30:00Z", "script": "os-upgrade", "hosts": ["db-1", "db-2"],
         "what": "reinstall idle machines", "by": "cron", "dry_run": True, "id": "run-41"},
        {"at": "2014-01-10T17:40:00Z", "script": "os-upgrade", "hosts": ["db-1", "db-2"],
         "what": "reinstall idle machines", "by": "cron", "dry_run": False, "id": "run-42"},
        {"at": "2014-01-10T17:45:00Z", "what": "rotate certs", "host": "web-1"},
    ]  # fmt: skip
    log.write_text("\n".join(json.dumps(r) for r in runs) + "\nnot json\n")
    source = LogChanges(MaintenanceChangesConfig(name="maint", path=log))
    reading = await source.poll()
    assert [(c.host, c.subject, c.id) for c in reading.changes] == [
        ("web-1", "", ""),
        ("db-2", "os-upgrade", "run-42"),
        ("db-1", "os-upgrade", "run-42"),
    ]
    assert reading.changes[1].what == "os-upgrade (reinstall idle machines)"
    assert reading.changes[1].kind == "maintenance" and reading.changes[1].by == "cron"
    assert source.bad == 1


async def test_a_file_of_another_format_is_stale_not_empty(tmp_path: Path) -> None:
    wrong = tmp_path / "access.log"
    wrong.write_text('127.0.0.1 - - [10/Jan/2014:17:40:00 +0000] "GET / HTTP/1.1" 200 5\n' * 3)
    for cfg in (
        DpkgChangesConfig(name="d", path=wrong),
        AptHistoryChangesConfig(name="a", path=wrong),
        UnattendedUpgradesChangesConfig(name="u", path=wrong),
        MaintenanceChangesConfig(name="m", path=wrong),
    ):
        with pytest.raises(SourceError, match="reads as a"):
            await LogChanges(cfg).poll()


async def test_unreadable_logs_say_why(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        await LogChanges(DpkgChangesConfig(name="d", path=tmp_path / "missing.log")).poll()
    with pytest.raises(SourceError, match="is a directory"):
        await LogChanges(DpkgChangesConfig(name="d", path=tmp_path)).poll()
    gz = tmp_path / "dpkg.log"
    gz.write_text("")
    (tmp_path / "dpkg.log.2.gz").write_bytes(b"not gzip at all")
    with pytest.raises(SourceError, match="not gzip"):
        await LogChanges(DpkgChangesConfig(name="d", path=gz)).poll()


async def test_another_hosts_log_through_a_command(tmp_path: Path, debs: dict[str, Path]) -> None:
    host = Host(tmp_path)
    host.dpkg("-i", str(debs["1.0-1"]))
    cfg = DpkgChangesConfig(name="web-3", host="web-3", command=("cat", str(host.dpkg_log)))
    (change,) = (await LogChanges(cfg).poll()).changes
    assert (change.host, change.subject, change.new) == ("web-3", PKG, "1.0-1")
    failing = DpkgChangesConfig(name="x", host="web-3", command=("cat", str(tmp_path / "nope")))
    with pytest.raises(SourceError, match="cat failed"):
        await LogChanges(failing).poll()


async def test_config_commits_with_path_filters(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "config")
    repo.commit("nginx/site.conf", "a", "nginx: first", when="2025-11-18T10:00:00Z")
    repo.commit("app/flags.json", "{}", "app: flags", who="Bob", when="2025-11-18T10:30:00Z")
    sha = repo.commit(
        "nginx/site.conf",
        "b",
        "nginx: \x1b[2Jcap multi-file downloads\n\nBody: why we did it",
        who="Carol",
        when="2025-11-18T11:05:00Z",
    )
    cfg = GitChangesConfig(name="cfg", repo=repo.path, paths=("nginx/",), service="files-web")
    reading = await GitChanges(cfg).poll()
    assert [c.what for c in reading.changes] == [
        "nginx: \ufffdcap multi-file downloads",  # inert: the escape is not passed on
        "nginx: first",
    ]
    top = reading.changes[0]
    assert (top.kind, top.id, top.subject, top.by) == ("config", sha, sha[:7], "Carol")
    assert top.paths == ("nginx/site.conf",) and top.detail == "Body: why we did it"
    assert top.at == datetime(2025, 11, 18, 11, 5, tzinfo=UTC) and top.service == "files-web"
    every = await GitChanges(GitChangesConfig(name="cfg", repo=repo.path)).poll()
    assert len(every.changes) == 3 and every.changes[1].paths == ("app/flags.json",)
    with pytest.raises(SourceError, match="no such directory"):
        await GitChanges(GitChangesConfig(name="cfg", repo=tmp_path / "nope")).poll()
    with pytest.raises(SourceError, match="git failed"):
        await GitChanges(GitChangesConfig(name="cfg", repo=tmp_path)).poll()


FLAGS = """\
import json
print(json.dumps({"kind": "flag", "at": "2025-11-18T11:05:00Z", "subject": "bot-features",
                  "old": "v41", "new": "v42", "by": "perm-migration",
                  "paths": ["features/bot.json"]}))
print(json.dumps({"kind": "flag", "at": "2025-11-18T09:00:00Z", "what": "dark mode on",
                  "host": "web-1", "detail": "\\u001b]0;owned\\u0007 title"}))
"""


async def test_command_prints_changes_as_json(tmp_path: Path) -> None:
    script = tmp_path / "flags.py"
    script.write_text(FLAGS)
    cfg = CommandChangesConfig(name="flags", command=(sys.executable, str(script)))
    first, second = (await CommandChanges(cfg).poll()).changes
    assert (first.kind, first.subject) == ("flag", "bot-features")
    assert (first.old, first.new) == ("v41", "v42")
    assert first.what == "bot-features v41 -> v42" and first.host == ""
    assert first.paths == ("features/bot.json",) and first.by == "perm-migration"
    assert second.host == "web-1" and "\x1b" not in second.detail and "\x07" not in second.detail
    for body, said in (
        ("print('not json')", "not JSON"),
        ('print(\'[{"what": "x"}]\')', 'no "at"'),
        ("import sys; sys.exit(3)", "exit 3"),
    ):
        script.write_text(body)
        with pytest.raises(SourceError, match=said):
            await CommandChanges(cfg).poll()


CONFIG = """\
[[changes]]
name = "web-2-dpkg"
kind = "dpkg"
host = "web-2"
path = "logs/dpkg.log"
revert = ["apt-get", "install", "-y", "--allow-downgrades", "{package}={old_version}"]

[[changes]]
name = "apt"
kind = "apt-history"

[[changes]]
name = "uu"
kind = "unattended-upgrades"
command = ["ssh", "web-3", "cat", "/var/log/unattended-upgrades/unattended-upgrades.log"]
host = "web-3"

[[changes]]
name = "maint"
kind = "maintenance"
path = "maintenance.jsonl"

[[changes]]
name = "config"
kind = "git"
repo = "config-repo"
paths = ["nginx/"]

[[changes]]
name = "flags"
kind = "command"
command = ["flagctl", "history", "--json"]
revert = ["flagctl", "set", "{subject}", "{old}"]
"""


def test_config_sections(tmp_path: Path) -> None:
    config = parse(CONFIG, tmp_path / "config.toml", env={})
    dpkg, apt, uu, maint, git, flags = config.changes
    assert dpkg.log_path == tmp_path / "logs" / "dpkg.log" and dpkg.host_name == "web-2"
    assert apt.log_path == Path("/var/log/apt/history.log")
    assert uu.log_path is None and uu.command[0] == "ssh"
    assert git.revert == ("git", "-C", "{repo}", "revert", "--no-edit", "{commit}")
    assert flags.revert == ("flagctl", "set", "{subject}", "{old}") and maint.revert is None
    assert config.change_source("config") is git
    assert [s.kind for s in map(build_source, config.changes)] == [
        "dpkg", "apt-history", "unattended-upgrades", "maintenance", "git", "command",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[[changes]]\nname = "m"\nkind = "maintenance"\n', "1: changes[0].path", "missing"),
        ('[[changes]]\nname = "x"\nkind = "rpm"\n', "3: changes[0].kind", "unknown kind 'rpm'"),
        (
            '[[changes]]\nname = "g"\nkind = "git"\nrepo = "r"\nrevert = ["git", "{sha}"]\n',
            "5: changes[0].revert",
            "unknown placeholder {sha}",
        ),
        ('[[changes]]\nname = "g"\nkind = "git"\n', "1: changes[0].repo", "missing required key"),
        (
            '[[changes]]\nname = "d"\nkind = "dpkg"\ntimezone = "Mars/Olympus"\n',
            "4: changes[0].timezone",
            "unknown time zone",
        ),
        (
            '[[changes]]\nname = "d"\nkind = "dpkg"\npath = "a"\ncommand = ["cat", "a"]\n',
            "5: changes[0].command",
            "not both",
        ),
    ],
)
def test_config_errors_name_file_line_and_key(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        parse(text, path, env={})
    assert str(info.value).startswith(f"{path}:{where}: ")
    assert words in str(info.value)


def test_deploys_become_changes_of_kind_deploy() -> None:
    at = datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    deploy = Deploy("files-web", "2024.08.02-1", "alice", at, "pool sessions", "deploys")
    (change,) = merge_changes((deploy,), [])
    assert (change.kind, change.service, change.subject, change.by) == (
        "deploy", "files-web", "2024.08.02-1", "alice",
    )  # fmt: skip
    assert change.deploy is deploy and change.at == at and change.host == ""


def test_check_json_names_the_changes_and_the_broken_source(
    tmp_path: Path, debs: dict[str, Path]
) -> None:
    host = Host(tmp_path / "web-2")
    host.dpkg("-i", str(debs["1.0-1"]))
    host.dpkg("-i", str(debs["1.1-1"]))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[changes]]\nname = "web-2-dpkg"\nkind = "dpkg"\nhost = "web-2"\n'
        f'path = "{host.dpkg_log}"\n\n'
        f'[[changes]]\nname = "maint"\nkind = "maintenance"\npath = "{tmp_path / "none.jsonl"}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COCKPIT_DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 1, done.stderr  # one source fails: never shown healthy
    reports = {r["source"]: r for r in map(json.loads, done.stdout.splitlines())}
    good, bad = reports["web-2-dpkg"], reports["maint"]
    assert good["ok"] and good["kind"] == "dpkg" and good["changes"] == 2
    latest = good["latest_change"]
    assert (latest["kind"], latest["host"], latest["subject"]) == ("package", "web-2", PKG)
    assert (latest["old"], latest["new"]) == ("1.0-1", "1.1-1")
    assert [c["id"] for c in good["recent_changes"]] == ["upgrade", "install"]
    assert not bad["ok"] and bad["error"] == f"no such file: {tmp_path / 'none.jsonl'}"
