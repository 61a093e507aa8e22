"""One data dir for a team on a bastion: two real Unix accounts (made with useradd for the
test), each running the cockpit as itself (runuser), both declare, note and revert on the same
store, lock and audit log, and every revert is audited. Files are created group-writable in a
setgid dir of the configured group; a revert that cannot be audited does not run.

Needs root (useradd, runuser), as CI has.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pty_harness import PtyRun
from revert_world import COCKPIT, SERVICE, RevertWorld, main_screen, start_revert

from cockpit.actions.audit import audit_path, read_audit
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore


@dataclass(frozen=True)
class Accounts:
    group: str
    alice: str
    bob: str


def _traversable(path: Path) -> list[tuple[Path, int]]:
    """Let other accounts reach `path` (the interpreter may live under a 0700 /root): o+x on
    each folder above it that lacks it; returns what to put back."""
    changed = []
    for folder in [*reversed(path.parents)]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((folder, stat.S_IMODE(mode)))
    return changed


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    if os.geteuid() != 0:
        raise AssertionError("this test makes Unix accounts: run it as root (CI does)")
    tag = uuid.uuid4().hex[:6]
    made = Accounts(f"ckteam{tag}", f"cka{tag}", f"ckb{tag}")
    subprocess.run(["groupadd", made.group], check=True)
    restore: list[tuple[Path, int]] = []
    try:
        for user in (made.alice, made.bob):
            subprocess.run(
                ["useradd", "-M", "-U", "-G", made.group, "-s", "/bin/sh", user], check=True
            )
        restore = _traversable(Path(sys.executable).resolve()) + _traversable(COCKPIT)
        yield made
    finally:
        for folder, mode in reversed(restore):
            os.chmod(folder, mode)
        for user in (made.alice, made.bob):
            subprocess.run(["userdel", user], check=False, capture_output=True)
        subprocess.run(["groupdel", made.group], check=False, capture_output=True)


@pytest.fixture(params=["data_group", "setgid_dir"])
def world(accounts: Accounts, request: pytest.FixtureRequest) -> Iterator[RevertWorld]:
    """The shared data dir as the config's data_group makes it, or as an admin made it by
    hand (chgrp + chmod 2770, no data_group in the config)."""
    root = Path(tempfile.mkdtemp(prefix="cockpit-team-", dir="/tmp"))
    os.chmod(root, 0o1777)  # like /tmp: each account makes its own files here
    configured = request.param == "data_group"
    extra = f'data_group = "{accounts.group}"' if configured else ""
    try:
        with RevertWorld(root / "w", healthy=False, cockpit_extra=extra) as running:
            os.chmod(running.root, 0o1777)
            for path in (running.config, running.deploys, running.script):
                os.chmod(path, 0o644)
            if not configured:
                running.data.mkdir()
                os.chown(running.data, 0, grp.getgrnam(accounts.group).gr_gid)
                os.chmod(running.data, 0o2770)
            yield running
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def as_user(world: RevertWorld, user: str, *argv: str) -> list[str]:
    home = world.root / f"home-{user}"
    return [
        "runuser", "-u", user, "--", "env", f"HOME={home}", f"USER={user}", f"LOGNAME={user}",
        f"XDG_STATE_HOME={home}/state", f"COCKPIT_DATA_DIR={world.data}",
        f"COCKPIT_CONFIG={world.config}", "PYTHONDONTWRITEBYTECODE=1", *argv,
    ]  # fmt: skip


def headless(world: RevertWorld, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_user(world, user, str(COCKPIT), *args), capture_output=True, text=True, timeout=60
    )


def revert_as(world: RevertWorld, user: str) -> str:
    """`user` reverts through the TUI; returns the screen at the end."""
    world.gate.unlink(missing_ok=True)
    world.reverted.unlink(missing_ok=True)
    run = PtyRun(as_user(world, user, str(COCKPIT), "--config", str(world.config)), 100, 30)
    try:
        start_revert(run)
        world.release()
        assert run.wait_for(lambda t: "reverted to 1" in t and "done: reverted" in t, 30), (
            run.text()
        )
        screen = run.text()
        run.send(b"\x1b")
        assert run.wait_for(main_screen, 15), run.text()
        run.send(b"q")
        assert run.wait_exit(20) == 0, run.text()
        return screen
    finally:
        run.stop()


def group_writable(path: Path, gid: int) -> bool:
    info = path.stat()
    return info.st_gid == gid and info.st_mode & 0o060 == 0o060


def test_two_accounts_share_one_data_dir(accounts: Accounts, world: RevertWorld) -> None:
    gid = grp.getgrnam(accounts.group).gr_gid
    declared = headless(world, accounts.alice, "incident", "declare", "--title", "SFTP down")
    assert declared.returncode == 0, declared.stderr
    info = world.data.stat()
    assert info.st_gid == gid and info.st_mode & stat.S_ISGID, oct(info.st_mode)
    noted = headless(world, accounts.bob, "incident", "note", "bob is looking at the proxy")
    assert noted.returncode == 0, noted.stderr

    revert_as(world, accounts.alice)
    revert_as(world, accounts.bob)
    for user in (accounts.alice, accounts.bob):
        exported = headless(world, user, "export", "--format", "md,json")
        assert exported.returncode == 0, exported.stderr

    for path in (
        store_path(world.data),
        store_path(world.data).with_name("incidents.sqlite3-wal"),
        audit_path(world.data),
        world.data / "locks",
        world.data / "runs",
        *world.data.glob("locks/*"),
        *world.data.glob("runs/*/*"),
        world.data / "exports",
        *world.data.glob("exports/*"),
    ):
        if path.exists():
            assert group_writable(path, gid), f"{path}: {oct(path.stat().st_mode)}"
    owners = {pwd.getpwuid(p.stat().st_uid).pw_name for p in world.data.glob("runs/*")}
    assert owners == {accounts.alice, accounts.bob}

    entries = read_audit(world.data)
    done = [(e["who"], e["event"], e.get("result")) for e in entries]
    assert done == [
        (accounts.alice, "started", None),
        (accounts.alice, "finished", "ok"),
        (accounts.bob, "started", None),
        (accounts.bob, "finished", "ok"),
    ]
    with IncidentStore(store_path(world.data), read_only=True) as store:
        events = store.events()
    texts = [e.text for e in events]
    assert any(t.startswith(f"{accounts.bob}: bob is looking") for t in texts)
    finished = [e.text for e in events if e.kind == "revert.finished"]
    assert len(finished) == 2 and all("finished: ok" in t for t in finished)


def test_a_revert_that_cannot_be_audited_does_not_run(
    accounts: Accounts, world: RevertWorld
) -> None:
    assert headless(world, accounts.alice, "incident", "declare", "--title", "x").returncode == 0
    revert_as(world, accounts.alice)
    # The audit log as an older cockpit left it: readable by the group, not writable.
    os.chmod(audit_path(world.data), 0o640)
    world.gate.unlink()
    world.reverted.unlink()
    before = len(read_audit(world.data))
    run = PtyRun(as_user(world, accounts.bob, str(COCKPIT)), 100, 30)
    try:
        assert run.wait_for(lambda t: "SUSPECT" in t, 30), run.text()
        run.send(b"R")
        assert run.wait_for(lambda t: f"Type {SERVICE} to confirm" in t, 15), run.text()
        run.send(SERVICE.encode() + b"\r")
        assert run.wait_for(lambda t: "NOT RUN" in t and "audit log" in t, 30), run.text()
        assert "Permission denied" in run.text()
    finally:
        run.stop()
    assert not world.reverted.exists()
    latest = max(world.data.glob("runs/*/output.log"), key=lambda p: p.stat().st_mtime)
    assert "step 1" not in latest.read_text()  # the command never started
    assert len(read_audit(world.data)) == before  # nothing could be written, nothing ran


def test_a_data_dir_another_account_cannot_read(accounts: Accounts, world: RevertWorld) -> None:
    """Not shared after all (0700, alice's): bob's headless commands say so in one line (exit
    2), and bob's TUI still shows the live signals, read-only, with the reason on top."""
    world.data.mkdir(exist_ok=True)
    owner = pwd.getpwnam(accounts.alice)
    os.chown(world.data, owner.pw_uid, owner.pw_gid)
    os.chmod(world.data, 0o700)
    for args in (("incident", "list"), ("export",), ("incident", "note", "hello")):
        done = headless(world, accounts.bob, *args)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert "data dir is not readable by this account" in line
    run = PtyRun(as_user(world, accounts.bob, str(COCKPIT)), 80, 24)
    try:
        assert run.wait_for(lambda t: "FAIL" in t and "web" in t and "READ-ONLY" in t, 30), (
            run.text()
        )
        top = "\n".join(run.text().splitlines()[:3])
        assert "data dir is not readable by this account" in top, run.text()
    finally:
        run.stop()
