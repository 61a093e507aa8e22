"""The per-service lock across objects and processes, and after its holder is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.actions.lock import LockHeld, ServiceLock, lock_path

ROOT = Path(__file__).resolve().parents[2]


def test_second_claim_sees_who_holds_it(tmp_path: Path) -> None:
    first = ServiceLock(tmp_path, "files-web", user="alice")
    second = ServiceLock(tmp_path, "files-web", user="bob")
    with first:
        with pytest.raises(LockHeld) as held:
            second.acquire()
        assert held.value.holder_user == "alice"
        assert held.value.pid == os.getpid()
        assert held.value.since is not None and held.value.since.utcoffset() is not None
        assert "files-web is locked by alice" in str(held.value)
        seen = second.holder()
        assert seen is not None and seen.user == "alice"
        assert first.holder() is None  # its own lock is not someone else's
        # Another service is independent.
        with ServiceLock(tmp_path, "billing", user="bob"):
            pass
    assert first.held is False
    assert second.holder() is None
    with second:
        assert second.held


def test_service_names_stay_inside_the_locks_folder(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "../../etc/passwd")
    assert path.parent == tmp_path / "locks"
    with ServiceLock(tmp_path, "../../etc/passwd"):
        assert path.exists()
    assert lock_path(tmp_path, "a/b") != lock_path(tmp_path, "a_b")


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (tmp_path / "locks").mkdir()
    lock_path(tmp_path, "files-web").symlink_to(victim)
    with pytest.raises(OSError):
        ServiceLock(tmp_path, "files-web").acquire()
    assert victim.read_text() == "keep me"


_HOLDER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from cockpit.actions.lock import ServiceLock

    lock = ServiceLock(Path(sys.argv[1]), "files-web")
    lock.acquire()
    # A command started under the lock may outlive us, and may not close inherited
    # descriptors; it must not keep the lock.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], close_fds=False
    )
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "USER": "carol"}
    holder = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    grandchild = 0
    try:
        assert holder.stdout is not None
        grandchild = int(holder.stdout.readline())
        with pytest.raises(LockHeld) as held:
            ServiceLock(tmp_path, "files-web", user="dave").acquire()
        assert held.value.holder_user == "carol"
        assert held.value.pid == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        # The grandchild is still running, and the lock is free all the same.
        os.kill(grandchild, 0)
        with ServiceLock(tmp_path, "files-web", user="dave") as lock:
            assert lock.held
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if grandchild:
            os.kill(grandchild, signal.SIGKILL)
        if holder.stdout:
            holder.stdout.close()
