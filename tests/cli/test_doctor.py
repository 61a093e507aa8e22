"""`cockpit doctor` as a user runs it: the real command against real servers and files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_harness import PtyRun

from cockpit.doctor import check_clipboard, check_terminal
from cockpit.term.caps import TermCaps

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from localworld import LocalWorld

COCKPIT = str(Path(sys.executable).with_name("cockpit"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    with LocalWorld(tmp_path / "world", probes=2, history=False) as running:
        yield running


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX", "STY")}
    return subprocess.run(
        [COCKPIT, "doctor", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def lines_for(output: str, what: str) -> list[str]:
    """Findings about `what` (the second column: "terminal", "http svc-00", ...)."""
    return [
        line.rstrip()
        for line in output.splitlines()
        if line[:4].strip() in ("ok", "warn", "fail") and line[5:27].strip().endswith(what)
    ]


def test_a_healthy_setup_passes(world: LocalWorld, tmp_path: Path) -> None:
    done = doctor("--config", str(world.config), env={"COCKPIT_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("svc-00", "svc-01", "deploy-log", "edge", "config", "data dir"):
        (line,) = lines_for(done.stdout, name)
        assert line.startswith("ok "), line
    assert "1/1 sessions" in lines_for(done.stdout, "svc-00")[0]
    assert "30 deploys" in lines_for(done.stdout, "deploy-log")[0]
    assert "0 failed" in done.stdout


def test_in_a_terminal_it_reports_size_and_characters(world: LocalWorld, tmp_path: Path) -> None:
    run = PtyRun(
        [COCKPIT, "doctor", "--config", str(world.config)],
        cols=120,
        rows=30,
        env={"COCKPIT_DATA_DIR": str(tmp_path / "d"), "LANG": "C", "TERM": "xterm"},
    )
    try:
        assert run.wait_exit(60) == 0, run.text()
    finally:
        run.stop()
    text = run.text()
    assert "120x30" in lines_for(text, "terminal")[0]
    assert lines_for(text, "characters")[0].startswith("warn")  # LANG=C: ASCII only
    assert lines_for(text, "colours")[0].startswith("warn")  # TERM=xterm: 16 colours


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_and_hanging_sources_fail(
    world: LocalWorld, tmp_path: Path, silent_port: int
) -> None:
    config = (
        world.config.read_text()
        + f"""
[[probes]]
name = "refused"
kind = "http"
url = "http://127.0.0.1:{closed_port()}/"

[[probes]]
name = "hangs"
kind = "http"
url = "http://127.0.0.1:{silent_port}/"
timeout = 30
"""
    )
    path = tmp_path / "cockpit.toml"
    path.write_text(config)
    done = doctor("--config", str(path), "--timeout", "1", env={"COCKPIT_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1, done.stdout + done.stderr
    refused = lines_for(done.stdout, "refused")[0]
    hangs = lines_for(done.stdout, "hangs")[0]
    assert refused.startswith(("fail", "warn")), refused
    assert hangs.startswith(("fail", "warn")), hangs
    assert any(line.startswith("fail") for line in (refused, hangs))
    assert lines_for(done.stdout, "svc-00")[0].startswith("ok")  # the others still checked
    assert "failed" in done.stdout.splitlines()[-1]


def test_a_secret_never_shows(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
[[sentry]]
name = "sentry"
base_url = "http://127.0.0.1:{closed_port()}"
org = "acme"
token_env = "COCKPIT_TEST_TOKEN"
"""
    )
    done = doctor(
        "--config",
        str(path),
        "--timeout",
        "2",
        env={"COCKPIT_DATA_DIR": str(tmp_path), "COCKPIT_TEST_TOKEN": "tok-very-secret-123"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines_for(done.stdout, "sentry sentry")[0].startswith("fail")
    assert "tok-very-secret-123" not in done.stdout + done.stderr


def test_config_errors_exit_2_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[cockpit]\nservice = "x"\n\n[[probes]]\nname = "a"\nkind = "http"\nurl = 3\n')
    done = doctor("--config", str(path), env={"COCKPIT_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    (line,) = lines_for(done.stdout, "config")
    assert line.startswith("fail") and f"{path}:7: probes[0].url" in line


def test_a_missing_config_exits_2(tmp_path: Path) -> None:
    done = doctor("--config", str(tmp_path / "nope.toml"), env={"COCKPIT_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "cockpit init" in lines_for(done.stdout, "config")[0]


def test_a_data_dir_that_cannot_be_written_fails(world: LocalWorld, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = doctor("--config", str(world.config), env={"COCKPIT_DATA_DIR": str(blocker / "data")})
    assert done.returncode == 1
    assert lines_for(done.stdout, "data dir")[0].startswith("fail")


def caps(**changes: object) -> TermCaps:
    base = {
        "unicode": True,
        "colors": "256",
        "no_color": False,
        "multiplexer": None,
        "size": (120, 40),
        "term": "xterm-256color",
        "locale": "C.UTF-8",
        "tty": True,
    }
    return TermCaps(**{**base, **changes})  # type: ignore[arg-type]


def test_terminal_findings() -> None:
    assert [f.status for f in check_terminal(caps())] == ["ok"]
    small = check_terminal(caps(size=(70, 20)))
    assert small[0].status == "warn" and "70x20" in small[0].detail
    no_color = check_terminal(caps(no_color=True, colors="none"))
    assert [f.status for f in no_color] == ["ok", "ok"] and "NO_COLOR" in no_color[1].detail


def test_clipboard_findings() -> None:
    assert check_clipboard(caps(), {}).status == "ok"
    assert check_clipboard(caps(multiplexer="screen"), {}).status == "warn"
    assert check_clipboard(caps(tty=False, size=None), {}).status == "warn"
