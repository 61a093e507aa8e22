"""The drill world's changes beyond deploys, in the formats of the real tools, and what each does
to the service: unattended-upgrades on a fleet (Datadog 2023), a config commit in a git
repository (Files.com 2023), a feature file made from a database query (Cloudflare 2025), a
maintenance script's runs (Dropbox 2014); and the revert each change has."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from world_helpers import TEST_SESSION_HOLD, wait_until

from cockpit.config import load
from cockpit.timeutil import utcnow
from cockpit.world.configfile import change_kinds
from cockpit.world.control import FaultNotApplicable
from cockpit.world.debian import PackageChange, apt_history_entry, dpkg_lines
from cockpit.world.world import World

# dpkg's log grammar (src/main/ and lib/dpkg/log.c): a local stamp to the second, then one of
# these records.
DPKG_LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (?:"
    r"startup (?:archives unpack|packages configure|packages remove)"
    r"|(?:install|upgrade|configure|trigproc|remove|purge) [a-z0-9][a-z0-9+.-]+:[a-z0-9]+ \S+ \S+"
    r"|status [a-z-]+ [a-z0-9][a-z0-9+.-]+:[a-z0-9]+ \S+"
    r"|conffile \S+ \S+)$"
)
UU_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (INFO|WARNING|ERROR|DEBUG) ")
REAL_DPKG_LOG = Path("/var/log/dpkg.log")
OLD, NEW = "249.11-0ubuntu3.6", "249.11-0ubuntu3.7"


def start_world(tmp_path: Path, scenario: str) -> World:
    return World(
        tmp_path / "world",
        scenario=scenario,
        bad_deploy_after=None,
        traffic=False,
        protocols=("http",),
        session_hold=TEST_SESSION_HOLD,
    )


@pytest.fixture
def fleet_world(tmp_path: Path) -> Iterator[World]:
    with start_world(tmp_path, "datadog") as world:
        yield world


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def shape(line: str) -> str:
    """A dpkg line with its stamp, package and versions taken out: what kind of record it is."""
    words = line.split()[2:]
    if words[0] in ("startup",):
        return " ".join(words)
    if words[0] == "status":
        return f"status {words[1]}"
    return words[0]


def test_dpkg_and_apt_lines_are_the_real_tools_lines() -> None:
    at = datetime(2023, 3, 8, 6, 1, 12).astimezone()
    lines = dpkg_lines(at, [PackageChange("systemd", "247.3-7", "247.3-7+deb11u2")])
    assert "2023-03-08 06:01:12 upgrade systemd:amd64 247.3-7 247.3-7+deb11u2" in lines
    assert "2023-03-08 06:01:12 status installed systemd:amd64 247.3-7+deb11u2" in lines
    assert "2023-03-08 06:01:12 configure systemd:amd64 247.3-7+deb11u2 <none>" in lines
    assert all(DPKG_LINE.match(line) for line in lines), lines
    entry = apt_history_entry(
        at,
        at,
        [PackageChange("systemd", "247.3-7+deb11u2", "247.3-7")],
        commandline="apt-get install -y --allow-downgrades systemd=247.3-7",
        requested_by="alice (1000)",
    )
    assert entry == [
        "",
        "Start-Date: 2023-03-08  06:01:12",
        "Commandline: apt-get install -y --allow-downgrades systemd=247.3-7",
        "Requested-By: alice (1000)",
        "Downgrade: systemd:amd64 (247.3-7+deb11u2, 247.3-7)",
        "End-Date: 2023-03-08  06:01:12",
    ]


@pytest.mark.skipif(not REAL_DPKG_LOG.is_file(), reason="no dpkg log on this host")
def test_the_world_writes_no_dpkg_record_this_hosts_dpkg_never_wrote() -> None:
    real = {shape(line) for line in REAL_DPKG_LOG.read_text(errors="replace").splitlines() if line}
    at = datetime(2023, 3, 8, 6, 1, 12).astimezone()
    ours = {
        shape(line)
        for line in dpkg_lines(
            at, [PackageChange("systemd", OLD, NEW), PackageChange("htop", None, "3.0.5-7build2")]
        )
    }
    assert ours <= real, ours - real


def test_unattended_upgrades_take_half_the_fleet_offline_and_a_downgrade_brings_a_node_back(
    fleet_world: World,
) -> None:
    world = fleet_world
    assert world.fleet is not None and world.urls is not None
    hosts = world.fleet.hosts
    assert all(healthy(h.url) for h in hosts.values())
    before = utcnow()
    world.apply("package_upgrade")
    assert [n for n, h in hosts.items() if not healthy(h.url)] == ["node-2", "node-4"]
    # requests the service routes to a node that is gone fail: a 5xx spike, no deploy
    statuses = [
        httpx.get(world.urls.session, params={"user": f"u{i}"}, timeout=5).status_code
        for i in range(8)
    ]
    assert sorted(set(statuses)) == [200, 502] and statuses.count(502) == 4

    node2 = hosts["node-2"].packages
    dpkg = node2.dpkg_log.read_text().splitlines()
    assert all(DPKG_LINE.match(line) for line in dpkg), [x for x in dpkg if not DPKG_LINE.match(x)]
    stamp = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    assert any(re.fullmatch(rf"{stamp} upgrade systemd:amd64 {OLD} {NEW}", x) for x in dpkg)
    history = node2.apt_history.read_text()
    last = history.split("\n\n")[-1]
    assert re.search(r"^Start-Date: \d{4}-\d{2}-\d{2}  \d{2}:\d{2}:\d{2}$", last, re.M)
    assert "Commandline: /usr/bin/unattended-upgrade\n" in last
    assert "Requested-By" not in last  # the timer runs as root
    assert f"systemd:amd64 ({OLD}, {NEW})" in last
    uu = node2.unattended_log.read_text().splitlines()
    assert all(UU_LINE.match(line) for line in uu)
    assert uu[-3].endswith(
        "INFO Packages that will be upgraded: "
        + " ".join(
            sorted(
                [
                    "libnss-systemd",
                    "libpam-systemd",
                    "libsystemd0",
                    "libudev1",
                    "systemd",
                    "systemd-sysv",
                    "systemd-timesyncd",
                    "udev",
                ]
            )
        )
    )
    assert uu[-1].endswith("INFO All upgrades installed")
    # a node whose image lacks the security channel ran too, and found nothing
    node1 = hosts["node-1"].packages
    assert (
        node1.unattended_log.read_text()
        .splitlines()[-1]
        .endswith(
            "INFO No packages found that can be upgraded unattended and no pending auto-removals"
        )
    )
    assert f"upgrade systemd:amd64 {OLD} {NEW}" not in node1.dpkg_log.read_text()
    # the stamps are the host's local time of the moment it happened
    when = datetime.strptime(dpkg[-1][:19], "%Y-%m-%d %H:%M:%S").astimezone()
    assert abs((when - before).total_seconds()) < 5

    # The revert a package change offers: apt-get install --allow-downgrades, as the world's
    # apt does it; apt moves the source package's other binaries along.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit.world.aptctl",
            "--root",
            str(node2.directory),
            "install",
            "-y",
            "--allow-downgrades",
            f"libudev1={OLD}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"USER": "alice", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    wait_until(lambda: healthy(hosts["node-2"].url), what="node-2 back")
    assert not healthy(hosts["node-4"].url)
    last = node2.apt_history.read_text().split("\n\n")[-1]
    assert (
        "Requested-By: alice (" in last
        and f"Downgrade: libnss-systemd:amd64 ({NEW}, {OLD})" in last
    )
    assert f"upgrade systemd:amd64 {NEW} {OLD}" in node2.dpkg_log.read_text()  # dpkg's word


def test_a_config_commit_breaks_only_the_multi_file_download_and_git_revert_fixes_it(
    tmp_path: Path,
) -> None:
    with start_world(tmp_path, "files-com-2023") as world:
        assert world.urls is not None and world.config_repo is not None
        url = f"{world.urls.service}/download"

        def download(files: str) -> int:
            return httpx.get(url, params={"files": files}, timeout=5).status_code

        assert download("a.dat,b.dat") == 200
        world.apply("config_change")
        assert download("a.dat,b.dat") == 500 and download("a.dat") == 200
        assert httpx.get(world.urls.healthz, timeout=5).status_code == 200
        with pytest.raises(FaultNotApplicable, match="already committed"):
            world.apply("config_change")
        log = subprocess.run(
            [
                "git",
                "-C",
                str(world.config_repo.path),
                "log",
                "--format=%H|%an|%s",
                "--",
                "files-web/",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert log[0] == f"{world.bad_commit}|Sec Eng|Harden HTTP response headers (CORP, COEP)"
        assert len(log) == 3  # and the repository's history before it

        # The ZIP failure reaches Sentry naming the file the commit changed.
        def issues() -> list[str]:
            world.flush_sentry()
            return [i.title for i in world.sentry.store.all()]

        titles = wait_until(issues, what="the ZIP error in Sentry")
        assert any("files-web/http-headers.conf" in t for t in titles), titles
        # The revert a config change offers, run as a responder would (whose git may know no
        # user: the repository names one).
        subprocess.run(
            ["git", "-C", str(world.config_repo.path), "revert", "--no-edit", world.bad_commit],
            check=True,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert download("a.dat,b.dat") == 200


def test_a_grants_change_then_a_bad_feature_file_and_its_rollback(tmp_path: Path) -> None:
    with start_world(tmp_path, "cloudflare") as world:
        assert world.urls is not None and world.directory is not None
        files = f"{world.urls.service}/files/inbox/a.dat"
        tool = [sys.executable, "-m", "cockpit.world.featurectl", "--root", str(world.directory)]

        def run(*args: str) -> str:
            done = subprocess.run([*tool, *args], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            return done.stdout

        world.apply("permission_change")
        world.apply("deploy")
        assert httpx.get(files, timeout=5).status_code == 200  # neither breaks anything
        world.apply("bad_feature_file")
        wait_until(lambda: httpx.get(files, timeout=5).status_code == 500, what="proxy failing")
        assert httpx.get(world.urls.healthz, timeout=5).status_code == 200
        published = [json.loads(line) for line in run("history").splitlines()]
        bad = published[-1]
        assert bad["kind"] == "feature-file" and bad["subject"] == "bot-features"
        assert bad["paths"] == ["features/bot-features.json"] and "240 features" in bad["what"]
        assert all("60 features" in p["what"] for p in published[:-1])
        (grant,) = [json.loads(line) for line in run("grants").splitlines()]
        assert grant["kind"] == "permission" and "r0" in grant["what"]
        assert world.innocent_deployed and world.releases is not None
        assert world.releases.current_version() == world.innocent_version
        # The revert the feature-file change offers: publish the version before it again.
        run("rollback", bad["subject"], bad["old"])
        wait_until(lambda: httpx.get(files, timeout=5).status_code == 200, what="proxy back")
        assert "rollback to" in json.loads(run("history").splitlines()[-1])["what"]


def test_the_maintenance_script_logs_its_dry_run_then_the_run(tmp_path: Path) -> None:
    with start_world(tmp_path, "dropbox") as world:
        assert world.maintenance is not None
        world.apply("maintenance_dry_run")
        assert httpx.get(world.urls.healthz, timeout=5).status_code == 200  # type: ignore[union-attr]
        world.apply("db_reinstall")
        runs = [json.loads(line) for line in world.maintenance.path.read_text().splitlines()]
        assert [r["dry_run"] for r in runs] == [True, False]
        assert runs[1]["script"] == "os-upgrade" and runs[1]["hosts"][0] == "db-meta-1"
        assert {"at", "script", "hosts", "what", "by", "dry_run", "id"} <= set(runs[1])


@pytest.mark.parametrize("scenario", ["datadog", "cloudflare", "files-com-2023", "dropbox"])
def test_each_world_writes_a_config_the_cockpit_loads(tmp_path: Path, scenario: str) -> None:
    with start_world(tmp_path, scenario) as world:
        assert world.config_path is not None
        config = load(world.config_path)
        assert {c.name for c in config.changes} and change_kinds(), "its changes are in it"
        names = {p.name for p in config.probes}
        if scenario == "datadog":
            assert {"node-1", "node-2", "node-3", "node-4"} <= names
        if scenario == "files-com-2023":
            assert {"download-1-file", "download-2-files"} <= names


def check_json(*configs: Path) -> list[dict[str, dict[str, object]]]:
    """One round of every source of each config through `cockpit check --json`, all at once;
    for each config its records by source name."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "cockpit", "check", "--config", str(config), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for config in configs
    ]
    out = []
    for run in runs:
        stdout, _ = run.communicate(timeout=60)
        records = [json.loads(line) for line in stdout.splitlines()]
        out.append({str(r.get("source") or r.get("name")): r for r in records})
    return out


def read_back(tmp_path: Path, scenario: str, *faults: str) -> tuple[World, dict[str, dict]]:
    """A world of `scenario` after `faults`, and what the cockpit's sources read from it."""
    with start_world(tmp_path / scenario, scenario) as world:
        for fault in faults:
            world.apply(fault)
        assert world.config_path is not None
        (sources,) = check_json(world.config_path)
        return world, sources


def test_the_cockpits_change_sources_read_what_the_world_wrote(tmp_path: Path) -> None:
    # One world at a time: each stops before the next starts.
    _, fleet = read_back(tmp_path, "datadog", "package_upgrade")
    node2 = fleet["node-2-apt"]
    assert node2["ok"], node2
    changes = node2["recent_changes"]
    assert isinstance(changes, list)
    systemd = next(c for c in changes if c["subject"] == "systemd")
    assert systemd["kind"] == "package" and systemd["host"] == "node-2"
    assert (systemd["old"], systemd["new"]) == (OLD, NEW)
    assert systemd["by"] == "unattended-upgrades"
    node1 = fleet["node-1-apt"]["recent_changes"]
    assert isinstance(node1, list) and all(c["subject"] != "systemd" for c in node1)

    _, edge = read_back(tmp_path, "cloudflare", "permission_change", "bad_feature_file")
    latest = edge["feature-files"]["latest_change"]
    assert isinstance(latest, dict)
    assert latest["kind"] == "feature-file" and latest["subject"] == "bot-features"
    assert latest["paths"] == ["features/bot-features.json"]
    grant = edge["db-grants"]["latest_change"]
    assert isinstance(grant, dict) and grant["kind"] == "permission"

    files_world, files = read_back(tmp_path, "files-com-2023", "config_change")
    commit = files["config-repo"]["latest_change"]
    assert isinstance(commit, dict) and commit["kind"] == "config"
    assert commit["id"] == files_world.bad_commit
    assert "files-web/http-headers.conf" in commit["paths"]

    _, sync = read_back(tmp_path, "dropbox", "maintenance_dry_run", "db_reinstall")
    runs = sync["maintenance"]
    assert runs["changes"] == 4  # one per host of the real run; the dry run is none
    latest_run = runs["latest_change"]
    assert isinstance(latest_run, dict) and latest_run["subject"] == "os-upgrade"
