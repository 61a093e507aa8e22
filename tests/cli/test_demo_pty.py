"""`cockpit demo` as a user starts it: a real pseudo-terminal at 80x24, the drill world in a
child process, and `q` stopping both."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from programs import program
from pty_harness import PtyRun, layout_problems

COCKPIT = Path(sys.executable).with_name("cockpit")


def world_processes(data_dir: str) -> list[int]:
    """Drill-world processes started by the demo whose environment points at our data dir."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"world" in cmdline and f"COCKPIT_DATA_DIR={data_dir}".encode() in environ:
            found.append(int(pid))
    return found


def test_demo_shows_the_incident_at_80x24_and_q_stops_everything(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run = PtyRun(
        [str(COCKPIT), "demo", "--bad-deploy-after", "1"],
        cols=80,
        rows=24,
        env={"COCKPIT_DATA_DIR": data},
    )
    try:
        # Some "-x4" probe (four sessions at once) fails while its one-session twin is ok.
        assert run.wait_for(lambda t: re.search(r"FAIL \S+-x4", t) is not None, 40), run.text()
        assert run.wait_for(lambda t: "SUSPECT" in t, 20), run.text()
        # Every signal the demo is built to show: the three -x4 probes called out in their
        # rows, and the blind spot on the Sentry panel (bench/first_look_demo.py runs this with
        # the README's timing, 20 times).
        x4 = ("ftp-login-x4", "sftp-list-x4", "webdav-propfind-x4")
        called_out = [rf"FAIL {name}\s+1/4 concur" for name in x4]
        assert run.wait_for(
            lambda t: all(re.search(c, t) for c in called_out) and "BLIND SPOT" in t, 30
        ), run.text()
        screen = run.text()
        for words in (
            "Probes",
            "Changes",
            "5xx",
            "Sentry",
            "Timeline",
            "DRILL",
            "d Declare",
            "R Revert",
            "x Export",
            "q Quit",
            "UTC",
        ):
            assert words in screen, words
        assert world_processes(data), "the drill world runs beside the cockpit"
        run.send(b"q")
        assert run.wait_exit(15) == 0
        deadline = time.monotonic() + 10
        while world_processes(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not world_processes(data), "the drill world stops with the cockpit"
    finally:
        run.stop()


# -- the screen over a bad link and in other terminals ---------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from localworld import LocalWorld  # noqa: E402


def probes_shown(text: str) -> bool:
    return "ok   svc-00" in text and "ok   svc-02" in text and "Declare" in text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    with LocalWorld(tmp_path / "world", probes=3, history=False, probe_interval=2) as running:
        yield running


def test_a_resize_storm_leaves_a_readable_screen(world: LocalWorld, tmp_path: Path) -> None:
    run = PtyRun(
        [str(COCKPIT), "--config", str(world.config)],
        env={"COCKPIT_DATA_DIR": str(tmp_path / "data")},
    )
    try:
        assert run.wait_for(probes_shown, 30), run.text()
        sizes = [(120, 40), (60, 20), (200, 60), (100, 30), (81, 25)]
        for i in range(40):  # SIGWINCH after SIGWINCH, faster than a frame
            run.resize(*sizes[i % len(sizes)])
            run.pump(0.005)
        for cols, rows in ((80, 24), (200, 60)):
            run.resize(cols, rows)
            settled = run.wait_for(
                lambda text: probes_shown(text) and not layout_problems(run.screen.display), 20
            )
            assert settled, f"{cols}x{rows}: {layout_problems(run.screen.display)}\n{run.text()}"
            assert all(len(line) == cols for line in run.screen.display)
        run.send(b"q")
        assert run.wait_exit(15) == 0
    finally:
        run.stop()


def test_no_color_means_no_colour(world: LocalWorld, tmp_path: Path) -> None:
    run = PtyRun(
        [str(COCKPIT), "--config", str(world.config)],
        env={"COCKPIT_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1"},
    )

    def colours() -> set[str]:
        return {
            colour
            for line in run.screen.buffer.values()
            for cell in line.values()
            for colour in (cell.fg, cell.bg)
        }

    seen: dict[str, set[str]] = {}
    try:
        assert run.wait_for(probes_shown, 30), run.text()
        seen["main screen"] = colours()
        # The modals too: the declare form (labels, fields, buttons) and the help.
        run.send(b"d")
        assert run.wait_for(lambda t: "Declare an incident" in t and "commander" in t, 15)
        assert run.wait_for(lambda t: "Cancel" in t, 5), run.text()
        seen["declare"] = colours()
        run.send(b"\x1b")
        assert run.wait_for(lambda t: "Declare an incident" not in t, 10), run.text()
        run.send(b"?")
        assert run.wait_for(lambda t: "Keys (" in t, 10), run.text()
        seen["help"] = colours()
    finally:
        run.stop()
    # Greys stay (bold, dim and reverse are not colour); any hue would be a colour.
    for where, found in seen.items():
        hues = {
            c for c in found if c != "default" and not (len(c) == 6 and c[0:2] == c[2:4] == c[4:6])
        }
        assert not hues, (where, hues)


def user_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would give: no multiplexer of ours, and no COLUMNS or
    LINES (pytest exports them; they would pin the size)."""
    drop = ("TMUX", "STY", "NO_COLOR", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    return {**env, **extra}


def tmux_screen(socket: str) -> list[str]:
    done = subprocess.run(
        ["tmux", "-L", socket, "capture-pane", "-p", "-t", "cockpit"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout.rstrip("\n").split("\n")


def test_inside_tmux_at_16_colours(world: LocalWorld, tmp_path: Path) -> None:
    program("tmux")
    socket = f"cockpit-test-{uuid.uuid4().hex[:8]}"
    env = user_env(TERM="xterm", COCKPIT_DATA_DIR=str(tmp_path / "data"))
    command = f"{shlex.quote(str(COCKPIT))} --config {shlex.quote(str(world.config))}"
    subprocess.run(
        [
            "tmux",
            "-L",
            socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "cockpit",
            "-x",
            "80",
            "-y",
            "24",
            command,
        ],
        env=env,
        check=True,
        timeout=20,
    )
    try:
        deadline = time.monotonic() + 30
        lines = tmux_screen(socket)
        while not (probes_shown("\n".join(lines)) and not layout_problems(lines)):
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.1)
            lines = tmux_screen(socket)
        assert len(lines) == 24
        term = subprocess.run(
            ["tmux", "-L", socket, "show-environment", "-g", "TERM"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert "256" not in term.stdout  # tmux's own TERM=screen: 16 colours inside
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, timeout=20)


def test_inside_gnu_screen(world: LocalWorld, tmp_path: Path) -> None:
    program("screen")
    name = f"cockpit-test-{uuid.uuid4().hex[:8]}"
    copy = tmp_path / "hardcopy.txt"
    env = user_env(TERM="xterm", COCKPIT_DATA_DIR=str(tmp_path / "data"))
    rc = tmp_path / "screenrc"
    rc.write_text("startup_message off\n")
    subprocess.run(
        ["screen", "-c", str(rc), "-dmS", name, str(COCKPIT), "--config", str(world.config)],
        env=env,
        check=True,
        timeout=20,
    )
    try:
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while not (probes_shown("\n".join(lines)) and not layout_problems(lines)):
            assert time.monotonic() < deadline, "\n".join(lines)
            time.sleep(0.2)
            copy.unlink(missing_ok=True)
            subprocess.run(
                ["screen", "-S", name, "-X", "hardcopy", str(copy)], check=False, timeout=10
            )
            text = copy.read_text(errors="replace") if copy.exists() else ""
            lines = text.rstrip("\n").split("\n")
    finally:
        subprocess.run(["screen", "-S", name, "-X", "quit"], check=False, timeout=20)


# -- the demo keeps to its own data dir ----------------------------------------------------------


def tree_bytes(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and folder under root: its mode and, for files, its bytes."""
    out: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(root))] = (path.stat().st_mode, data)
    return out


def test_the_demo_run_twice_leaves_the_users_data_dir_alone(tmp_path: Path) -> None:
    """A user with a real config and a real open incident runs the demo twice, declares and
    exports in it: their data dir is the same byte for byte, and the demo said where its own
    incidents went."""
    real = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[cockpit]\nservice = "shop"\ndata_dir = "{real}"\n\n'
        '[[probes]]\nname = "web"\nkind = "http"\nurl = "http://127.0.0.1:9/"\n'
    )
    env = {"COCKPIT_CONFIG": str(config), "COCKPIT_DATA_DIR": str(real)}
    declared = subprocess.run(
        [str(COCKPIT), "incident", "declare", "--title", "real checkout outage"],
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert declared.returncode == 0, declared.stderr
    before = tree_bytes(real)
    assert any(name.endswith(".sqlite3") or "incident" in name for name in before), before
    for _ in range(2):
        run = PtyRun(
            [str(COCKPIT), "demo", "--bad-deploy-after", "1"],
            cols=80,
            rows=24,
            env=user_env(TERM="xterm", **env),
        )
        try:
            assert run.wait_for(lambda t: "SUSPECT" in t, 40), run.text()
            assert "real checkout outage" not in run.text()
            run.send(b"?")
            # The help says where the demo keeps its data (the path itself may wrap).
            assert run.wait_for(lambda t: "Keys (" in t and "apart from yours" in t, 10), run.text()
            run.send(b"?")
            assert run.wait_for(lambda t: "Keys" not in t, 10), run.text()
            # Each demo run starts with no incident (its own store), and declares one.
            run.send(b"d")
            assert run.wait_for(lambda t: "Declare an incident" in t, 10), run.text()
            run.send(b"\r")
            assert run.wait_for(lambda t: "INCIDENT #1" in t, 15), run.text()
            run.send(b"x")
            assert run.wait_for(lambda t: "Save to" in t, 40), run.text()
            run.send(b"s")
            assert run.wait_for(lambda t: "written to" in t, 40), run.text()
            run.send(b"q")
            assert run.wait_exit(20) == 0, run.text()
        finally:
            run.stop()
    assert tree_bytes(real) == before
    drills = tmp_path / "data-drills"
    assert any(drills.rglob("*")), "the demo kept its incidents in its own data dir"
    listed = subprocess.run(
        [str(COCKPIT), "incident", "list"],
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "real checkout outage" in listed.stdout and "degraded" not in listed.stdout
