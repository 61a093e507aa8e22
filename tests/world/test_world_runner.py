"""Starting and stopping whole worlds: in-process, and as the process `cockpit world` runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from world_helpers import REPO, read_line, read_token, wait_until

from cockpit import config
from cockpit.world.world import World, WorldError


def refused(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_world_starts_on_free_ports_writes_a_loadable_config_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    threads_before = set(threading.enumerate())
    world = World(tmp_path / "w", bad_deploy_after=None)
    world.start()
    try:
        assert world.urls is not None and world.config_path is not None
        assert world.config_path == (tmp_path / "w" / "cockpit.toml").absolute()
        loaded = config.load(world.config_path)
        assert loaded.cockpit.service == "files-web"
        assert loaded.cockpit.environment == "drill"
        assert loaded.cockpit.drill is True
        probes = {p.name: p for p in loaded.probes}
        http = {name for name, p in probes.items() if p.kind == "http"}
        assert http >= {"web-health", "mobile-files"}
        assert len(probes) <= 8  # the probe panel at 80x24
        if len(probes) - len(http) < 6:  # the HTTP session twins stand in for the protocols
            assert http >= {"session", "session-x4"}
            assert probes["session-x4"].concurrency == 4
        assert probes["web-health"].url == world.urls.healthz
        assert all(probes[name].url.startswith(world.urls.service) for name in http)
        (deploys,) = loaded.deploys
        assert deploys.path == world.deploy_log_path and deploys.path.is_absolute()
        (errors,) = loaded.errors
        assert errors.path == world.access_log_path
        assert (errors.bucket_seconds, errors.window, errors.read_back) == (5, 600, 600)
        (sentry,) = loaded.sentry
        assert sentry.base_url == world.urls.sentry
        assert (sentry.org, sentry.project, sentry.environment) == (
            "files",
            ("files-web",),
            "drill",
        )
        assert sentry.token.reveal() == read_token(world.token_file)
        assert sentry.token.reveal() not in world.config_path.read_text()
        (service,) = loaded.services
        assert service.revert[0] == sys.executable
        assert service.revert[-1] == "{previous.version}"

        listeners = [world.urls.service, world.urls.sentry, world.urls.ftp, world.urls.sftp]
        listeners.append(world.urls.webdav)
        assert all(listeners)
        ports = {int(str(u).rsplit(":", 1)[1].strip("/")) for u in listeners}
        assert len(ports) == 5 and 0 not in ports
        for name in http:
            assert httpx.get(probes[name].url, timeout=10).status_code == 200
        assert (
            httpx.get(world.urls.sentry + "/api/0/organizations/files/issues/").status_code == 401
        )
    finally:
        world.stop()
    world.stop()  # twice is fine

    for url in (world.urls.service, world.urls.sentry, world.urls.ftp, world.urls.sftp):
        assert refused(str(url))
    assert refused(str(world.urls.webdav))
    leaked = [t for t in threading.enumerate() if t not in threads_before]
    assert leaked == []


def test_a_world_without_a_directory_cleans_up_its_temporary_one() -> None:
    with World(bad_deploy_after=None, traffic=False) as world:
        directory = world.directory
        assert directory is not None and (directory / "cockpit.toml").is_file()
    assert not directory.exists()


def test_a_world_will_not_take_over_someone_elses_files(tmp_path: Path) -> None:
    (tmp_path / "access.log").write_text("mine")
    with pytest.raises(WorldError, match=r"access\.log"):
        World(tmp_path, bad_deploy_after=None, traffic=False).start()
    assert (tmp_path / "access.log").read_text() == "mine"


def test_a_world_shares_its_directory_with_unrelated_files(tmp_path: Path) -> None:
    """`cockpit demo` opens the world's log file in the directory before the world starts."""
    (tmp_path / "world.log").write_text("parent's log\n")
    with World(tmp_path, bad_deploy_after=None, traffic=False) as world:
        assert world.config_path is not None and world.config_path.is_file()
    assert (tmp_path / "world.log").read_text() == "parent's log\n"


def test_a_world_directory_can_be_reused(tmp_path: Path) -> None:
    with World(tmp_path, bad_deploy_after=0, traffic=False) as first:
        assert first.bad_deployed.wait(10)
    with World(tmp_path, bad_deploy_after=None, traffic=False) as second:
        assert second.releases is not None
        assert len(second.releases.releases()) == 2
        assert len(second.deploy_log_path.read_text().splitlines()) == 2
        assert second.access_log_path.read_text() == ""


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(WorldError, match="unknown scenario"):
        World(scenario="atlantis")


def test_background_traffic_tells_the_story(tmp_path: Path) -> None:
    """With traffic on and the bad deploy done, 5xx show up in the log and /report in Sentry."""
    with World(tmp_path / "w", bad_deploy_after=0) as world:
        assert world.urls is not None
        assert world.bad_deployed.wait(10)
        token = read_token(world.token_file)
        issues_url = world.urls.sentry + "/api/0/organizations/files/issues/"

        def report_issue() -> bool:
            world.flush_sentry()
            answer = httpx.get(issues_url, headers={"Authorization": f"Bearer {token}"})
            return any("invalid date range" in i["title"] for i in answer.json())

        wait_until(report_issue, timeout=30, what="the /report issue")
        wait_until(
            lambda: '"GET /session HTTP/1.1" 503' in world.access_log_path.read_text(),
            timeout=30,
            what="a failed session in the access log",
        )
        wait_until(
            lambda: '"GET /files/' in world.access_log_path.read_text(),
            timeout=30,
            what="file reads in the access log",
        )


# ---------------------------------------------------------------------------------------------
# run_world in a real process


def start_world_process(code: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        **popen,
    )


def run_world_code(**arguments: str) -> str:
    args = ", ".join(f"{k}={v}" for k, v in arguments.items())
    return (
        "import sys\n"
        "from pathlib import Path\n"
        "from cockpit.world.runner import run_world\n"
        f"sys.exit(run_world({args}))\n"
    )


def test_run_world_prints_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "world"
    code = run_world_code(
        directory=f"Path({str(directory)!r})", write_config="None", bad_deploy_after="0"
    )
    process = start_world_process(code, stdin=subprocess.DEVNULL)
    try:
        line = read_line(process)
        assert line.startswith("ready ") and line.endswith("\n")
        config_path = Path(line[len("ready ") : -1])
        assert config_path.is_absolute()
        assert config_path == directory / "cockpit.toml"
        loaded = config.load(config_path)
        assert httpx.get(loaded.probes[0].url, timeout=10).status_code == 200
        wait_until(
            lambda: len(loaded.deploys[0].path.read_text().splitlines()) == 3,
            what="the bad deploy in the log",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert refused(loaded.probes[0].url)
        assert process.stdout is not None and process.stdout.read() == ""
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_run_world_stops_when_stdin_closes(tmp_path: Path) -> None:
    config_path = tmp_path / "elsewhere" / "drill.toml"
    code = run_world_code(
        directory="None",
        write_config=f"Path({str(config_path)!r})",
        stop_on_stdin_eof="True",
    )
    process = start_world_process(code, stdin=subprocess.PIPE)
    try:
        line = read_line(process)
        assert line == f"ready {config_path}\n"
        loaded = config.load(config_path)
        world_dir = loaded.deploys[0].path.parent
        assert world_dir.is_dir()
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        assert not world_dir.exists()  # it was a temporary directory
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_run_world_refuses_an_unknown_scenario() -> None:
    code = run_world_code(directory="None", write_config="None", scenario="'atlantis'")
    process = start_world_process(code, stdin=subprocess.DEVNULL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stdout == ""
    assert "atlantis" in stderr and "files-com" in stderr


def test_run_world_reports_a_directory_it_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "deploys.jsonl").write_text("someone else's\n")
    code = run_world_code(directory=f"Path({str(tmp_path)!r})", write_config="None")
    process = start_world_process(code, stdin=subprocess.DEVNULL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == ""
    assert "deploys.jsonl" in stderr
    assert (tmp_path / "deploys.jsonl").read_text() == "someone else's\n"
