"""Faults on demand: what each one does to every protocol, what fixes it and what does not."""

from __future__ import annotations

import ftplib
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from world_helpers import (
    TEST_SESSION_HOLD,
    current_version,
    ftp_login,
    propfind,
    run_deployctl,
    sftp_refused,
    wait_until,
    world_password,
)

from cockpit.timeutil import utcnow
from cockpit.world.control import CONTROL_FILE, ControlError, send_fault
from cockpit.world.world import FAULTS, World, WorldError

SLOW = 0.3  # seconds; the tests' slow dependency, long enough to measure, short enough to wait


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(
        tmp_path / "world",
        bad_deploy_after=None,
        traffic=False,
        session_hold=TEST_SESSION_HOLD,
        slow_delay=SLOW,
    ) as running:
        yield running


def get(world: World, path: str, **params: str) -> int:
    assert world.urls is not None
    return httpx.get(world.urls.service + path, params=params, timeout=10).status_code


def statuses(world: World, path: str, count: int, **params: str) -> list[int]:
    assert world.urls is not None
    with httpx.Client(base_url=world.urls.service, timeout=10) as client:
        return [client.get(path, params=params).status_code for _ in range(count)]


def test_fault_names_and_unknown_faults(world: World) -> None:
    assert set(FAULTS) == {
        "bad_deploy",
        "db_reinstall",
        "failover",
        "slow_dependency",
        "restore",
        "deploy",
        "package_upgrade",
        "config_change",
        "permission_change",
        "bad_feature_file",
        "maintenance_dry_run",
    }
    with pytest.raises(ValueError, match="unknown fault 'meteor'"):
        world.apply("meteor")
    assert world.faults == []


def test_applying_a_fault_twice_records_it_once(world: World) -> None:
    before = utcnow()
    world.apply("db_reinstall")
    world.apply("db_reinstall")
    world.apply("bad_deploy")
    world.apply("bad_deploy")
    world.apply("restore")
    world.apply("restore")
    assert [name for _, name in world.faults] == ["db_reinstall", "bad_deploy", "restore"]
    times = [at for at, _ in world.faults]
    assert times == sorted(times) and times[0] >= before
    assert all(at.utcoffset() == timedelta(0) for at in times)


def test_a_stopped_world_refuses_faults(tmp_path: Path) -> None:
    world = World(tmp_path, bad_deploy_after=None, traffic=False)
    for fault in FAULTS:
        with pytest.raises(WorldError):
            world.apply(fault)


# -- db_reinstall ------------------------------------------------------------------------------


def test_db_reinstall_fails_every_protocol_and_reaches_sentry(world: World) -> None:
    assert world.urls is not None and world.urls.ftp and world.urls.sftp and world.urls.webdav
    secret = world_password(world.password_file)
    world.apply("db_reinstall")

    assert get(world, "/healthz") == 503
    assert get(world, "/files/exports/a.dat") == 503
    assert get(world, "/session") == 503
    assert get(world, "/report", **{"from": "2026-01-01", "to": "2026-02-01"}) == 503
    with pytest.raises(ftplib.error_temp, match=r"^421 Metadata database unavailable"):
        ftp_login(world.urls.ftp, "drill", secret).close()
    assert sftp_refused(world.urls.sftp, "drill", secret, world.known_hosts_path)
    answer = propfind(world.urls.webdav, "drill", secret)
    assert answer.status_code == 503
    assert answer.json() == {"error": "metadata database unavailable"}

    log = world.access_log_path.read_text()
    assert '"GET /files/exports/a.dat HTTP/1.1" 503 ' in log
    assert '"PROPFIND / HTTP/1.1" 503 ' in log

    # Unlike the session bug, a database that is gone is reported, from every protocol.
    def reported() -> bool:
        world.flush_sentry()
        return sum(issue.count for issue in world.sentry.store.all()) == 6

    wait_until(reported, what="one event per failed request")
    issues = world.sentry.store.all()
    assert all(issue.title.startswith("DatabaseUnavailable: ") for issue in issues)
    assert {issue.culprit for issue in issues} == {
        "/files",
        "/session",
        "/report",
        "ftp login",
        "sftp session",
        "dav PROPFIND",
    }


def test_a_rollback_does_not_fix_a_reinstalled_database(world: World) -> None:
    assert world.releases is not None and world.urls is not None
    world.apply("bad_deploy")
    world.apply("db_reinstall")
    done = run_deployctl(world.releases.root, "rollback", "--to", world.good_version)
    assert done.returncode == 0, done.stderr
    wait_until(lambda: world.backend.releases.version() == world.good_version, what="the rollback")
    assert statuses(world, "/files/inbox/x.dat", 5) == [503] * 5
    assert get(world, "/healthz") == 503
    world.apply("restore")
    assert current_version(world.urls.healthz) == world.good_version
    assert statuses(world, "/files/inbox/x.dat", 5) == [200] * 5


# -- failover and restore ----------------------------------------------------------------------


def test_failover_brings_most_back_and_a_long_tail_lingers_by_client_class(world: World) -> None:
    world.apply("db_reinstall")
    world.apply("failover")
    assert get(world, "/healthz") == 200
    mobile = statuses(world, "/files/inbox/x.dat", 20, client="mobile")
    desktop = statuses(world, "/files/inbox/x.dat", 40, client="desktop")
    assert mobile.count(503) == 4 and mobile.count(200) == 16  # one in five
    assert desktop.count(503) == 2 and desktop.count(200) == 38  # one in twenty
    # The class may come from the app's User-Agent instead of a parameter.
    assert world.urls is not None
    agent = {"User-Agent": "FilesApp/5.2.1 (iPhone; iOS 17.5)"}
    by_agent = [
        httpx.get(world.urls.service + "/files/a", headers=agent, timeout=10).status_code
        for _ in range(5)
    ]
    assert by_agent.count(503) == 1

    world.apply("restore")
    assert statuses(world, "/files/inbox/x.dat", 20, client="mobile") == [200] * 20
    assert [name for _, name in world.faults] == ["db_reinstall", "failover", "restore"]


def test_the_failover_tail_reaches_the_other_protocols(world: World) -> None:
    assert world.urls is not None and world.urls.webdav
    secret = world_password(world.password_file)
    world.apply("failover")
    # Without a mobile User-Agent a client counts as desktop: the 20th of them fails.
    with httpx.Client(auth=("drill", secret), headers={"Depth": "0"}, timeout=10) as dav:
        desktop = [dav.request("PROPFIND", world.urls.webdav).status_code for _ in range(20)]
        assert desktop == [207] * 19 + [503]
        dav.headers["User-Agent"] = "FilesApp/5.2.1 (Android 14; Pixel 8)"
        mobile = [dav.request("PROPFIND", world.urls.webdav).status_code for _ in range(5)]
        assert mobile == [207] * 4 + [503]


def test_deployctl_failover_reaches_the_running_world(world: World) -> None:
    assert world.releases is not None
    world.apply("db_reinstall")
    done = run_deployctl(world.releases.root, "failover")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "files-web: failed over to the standby database"
    # Applied before deployctl returned: no waiting needed.
    assert [name for _, name in world.faults] == ["db_reinstall", "failover"]
    assert get(world, "/healthz") == 200


def test_the_control_door_is_locked_and_knows_only_faults(world: World) -> None:
    assert world.directory is not None
    door = json.loads((world.directory / CONTROL_FILE).read_text())
    assert (world.directory / CONTROL_FILE).stat().st_mode & 0o077 == 0
    wrong = httpx.post(
        door["url"] + "/faults/failover", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert wrong.status_code == 401
    with pytest.raises(ControlError, match="unknown fault"):
        send_fault(world.directory, "rm-rf")
    assert world.faults == []
    send_fault(world.directory, "slow_dependency")  # practice: any fault, by its owner
    assert [name for _, name in world.faults] == ["slow_dependency"]


def test_deployctl_failover_without_a_world(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    done = run_deployctl(tmp_path, "failover")
    assert done.returncode == 1
    assert "no drill world runs in" in done.stderr and done.stdout == ""


def test_deployctl_failover_after_the_world_stopped(tmp_path: Path) -> None:
    with World(tmp_path, bad_deploy_after=None, traffic=False):
        pass
    (tmp_path / "releases").mkdir(exist_ok=True)
    done = run_deployctl(tmp_path, "failover")
    assert done.returncode == 1
    assert "does not answer" in done.stderr


# -- slow_dependency ---------------------------------------------------------------------------


def test_slow_dependency_slows_reads_without_failing_them(world: World) -> None:
    assert world.urls is not None and world.urls.ftp
    world.apply("slow_dependency")
    started = time.monotonic()
    assert get(world, "/files/exports/a.dat") == 200
    assert time.monotonic() - started >= SLOW
    started = time.monotonic()
    ftp = ftp_login(world.urls.ftp, "drill", world_password(world.password_file))
    ftp.close()
    assert time.monotonic() - started >= SLOW
    assert get(world, "/healthz") == 200  # the health check does not read metadata
    world.apply("restore")
    assert not world.backend.database.slow
    assert statuses(world, "/files/a", 3) == [200] * 3


# -- with background traffic ------------------------------------------------------------------


def test_traffic_tells_each_faults_story_in_the_access_log(tmp_path: Path) -> None:
    with World(tmp_path / "w", bad_deploy_after=None, slow_delay=SLOW) as world:
        log = world.access_log_path

        def lines() -> list[str]:
            return log.read_text().splitlines()

        wait_until(lambda: any('"PROPFIND ' in line for line in lines()), timeout=30)
        wait_until(lambda: any("iPhone" in line or "Android" in line for line in lines()))
        world.apply("db_reinstall")
        mark = len(lines())
        wait_until(
            lambda: sum('" 503 ' in line for line in lines()[mark:]) >= 5,
            timeout=30,
            what="5xx from the traffic",
        )
        world.apply("restore")
        mark = len(lines())
        wait_until(
            lambda: sum('" 200 ' in line for line in lines()[mark:]) >= 5,
            timeout=30,
            what="2xx after the restore",
        )


def test_a_fault_that_cannot_apply_says_why_when_asked_strictly(world: World) -> None:
    """`Inject fault: bad_deploy` after the bad release shipped (and was rolled back) must not
    answer "injected" while nothing happens: the strict door says why."""
    assert world.directory is not None
    send_fault(world.directory, "bad_deploy", strict=True)
    with pytest.raises(ControlError, match="already shipped once"):
        send_fault(world.directory, "bad_deploy", strict=True)
    with pytest.raises(ControlError, match="already healthy"):
        send_fault(world.directory, "restore", strict=True)
    send_fault(world.directory, "failover", strict=True)
    with pytest.raises(ControlError, match="already failed over"):
        send_fault(world.directory, "failover", strict=True)
    send_fault(world.directory, "failover")  # deployctl's lever: a second failover is no error
    assert [name for _, name in world.faults] == ["bad_deploy", "failover"]
