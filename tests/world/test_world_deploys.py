"""The drill world's deploy system and deployctl, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from world_helpers import REPO, TEST_SESSION_HOLD, current_version, simultaneous_gets, wait_until

from cockpit import config
from cockpit.timeutil import parse_iso, utcnow
from cockpit.world.releases import DeployError, ReleaseRoot
from cockpit.world.world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(
        tmp_path / "world", bad_deploy_after=0, traffic=False, session_hold=TEST_SESSION_HOLD
    ) as running:
        assert running.bad_deployed.wait(10), "the bad deploy never happened"
        yield running


def deployctl(
    root: Path, *args: str, user: str = "oncall-tester"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "USER": user, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "cockpit.world.deployctl", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def log_records(world: World) -> list[dict[str, object]]:
    return [json.loads(line) for line in world.deploy_log_path.read_text().splitlines()]


def test_history_then_the_bad_deploy(world: World) -> None:
    records = log_records(world)
    assert [r["who"] for r in records] == ["deploy-bot", "maria", "alice"]
    assert {tuple(r) for r in records} == {
        ("service", "version", "who", "at", "summary", "reverts")
    }
    assert all(r["service"] == "files-web" and r["reverts"] is None for r in records)
    bad = records[-1]
    assert bad["version"] == world.bad_version
    assert bad["summary"] == "Reuse pooled session handles across protocols (SFTP/FTP/WebDAV)"
    now = utcnow()
    ages = [now - parse_iso(str(r["at"])) for r in records]
    assert timedelta(hours=23) < ages[0] < timedelta(hours=25)
    assert timedelta(hours=1) < ages[1] < timedelta(hours=3)
    assert ages[2] < timedelta(minutes=5)
    assert str(bad["at"]).endswith("Z")

    assert world.releases is not None
    releases = world.releases.releases()
    assert [r.version for r in releases] == [r["version"] for r in records]
    assert all((r.path / "VERSION").read_text().strip() == r.version for r in releases)
    link = os.readlink(world.releases.current_link)
    assert not os.path.isabs(link)
    assert Path(world.releases.root / link).resolve() == releases[-1].path.resolve()


def test_rollback_subprocess_switches_current_logs_and_fixes_the_service(world: World) -> None:
    assert world.urls is not None and world.releases is not None
    assert simultaneous_gets(world.urls.session, 4) == [200, 503, 503, 503]
    before = world.deploy_log_path.read_text()

    done = deployctl(world.releases.root, "rollback", "--to", world.good_version)
    assert done.returncode == 0, done.stderr
    assert world.good_version in done.stdout and world.bad_version in done.stdout

    assert world.releases.current_version() == world.good_version
    after = world.deploy_log_path.read_text()
    assert after.startswith(before)
    record = json.loads(after[len(before) :])
    assert record == {
        "service": "files-web",
        "version": world.good_version,
        "who": "oncall-tester",
        "at": record["at"],
        "summary": f"rollback to {world.good_version}",
        "reverts": world.bad_version,
    }
    assert utcnow() - parse_iso(record["at"]) < timedelta(minutes=5)

    wait_until(
        lambda: current_version(world.urls.healthz) == world.good_version,  # type: ignore[union-attr]
        what="the service to notice the rollback",
    )
    assert simultaneous_gets(world.urls.session, 4) == [200, 200, 200, 200]

    again = deployctl(world.releases.root, "rollback", "--to", world.good_version)
    assert again.returncode == 0
    assert "nothing changed" in again.stdout
    assert world.deploy_log_path.read_text() == after


def test_rollback_to_an_unknown_version_changes_nothing(world: World) -> None:
    assert world.releases is not None
    log_before = world.deploy_log_path.read_bytes()
    link_before = os.readlink(world.releases.current_link)

    failed = deployctl(world.releases.root, "rollback", "--to", "1999.01.01-9")
    assert failed.returncode == 1
    assert "1999.01.01-9" in failed.stderr
    assert failed.stdout == ""
    assert world.deploy_log_path.read_bytes() == log_before
    assert os.readlink(world.releases.current_link) == link_before


def test_check_and_status(world: World) -> None:
    assert world.releases is not None
    root = world.releases.root
    ok = deployctl(root, "check", world.good_version)
    assert ok.returncode == 0
    missing = deployctl(root, "check", "no-such-version")
    assert missing.returncode == 1
    assert "no-such-version" in missing.stderr
    status = deployctl(root, "status")
    assert status.returncode == 0
    assert status.stdout.strip() == world.bad_version
    listing = deployctl(root, "list")
    assert listing.returncode == 0
    assert f"* {world.bad_version}" in listing.stdout


def test_deployctl_outside_a_deploy_root(tmp_path: Path) -> None:
    result = deployctl(tmp_path / "nowhere", "status")
    assert result.returncode == 1
    assert "not a deploy root" in result.stderr


def test_the_configs_revert_and_preflight_commands_work(world: World) -> None:
    """The commands the cockpit will run, taken from the config the world wrote."""
    assert world.config_path is not None and world.releases is not None
    loaded = config.load(world.config_path)
    service = loaded.service("files-web")
    assert service is not None
    assert service.revert_timeout == 30

    def filled(argv: tuple[str, ...]) -> list[str]:
        return [arg.replace("{previous.version}", world.good_version) for arg in argv]

    env = {**os.environ, "USER": "oncall-tester", "PYTHONPATH": str(REPO)}
    (preflight,) = service.preflight
    check = subprocess.run(filled(preflight), capture_output=True, text=True, env=env, timeout=60)
    assert check.returncode == 0, check.stderr
    revert = subprocess.run(
        filled(service.revert), capture_output=True, text=True, env=env, timeout=60
    )
    assert revert.returncode == 0, revert.stderr
    assert world.releases.current_version() == world.good_version


def test_release_root_refuses_versions_that_are_paths(tmp_path: Path) -> None:
    root = ReleaseRoot(tmp_path)
    with pytest.raises(DeployError):
        root.deploy(service="s", version="../../etc", who="x", summary="y")
    with pytest.raises(DeployError):
        root.rollback("nothing", who="x")
