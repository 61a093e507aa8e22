"""The incident store never blinds the engineer: whatever the store does (cannot be opened,
read-only, locked by another process, full disk, pages damaged under a running cockpit), the
live panels keep showing the sources, keys answer, the header says what is wrong, and a note
typed meanwhile is kept (on disk, outside the data dir) and saved once the fault clears.

The faults are real: a garbage file, a tmpfs data dir remounted read-only or filled up, another
process holding BEGIN EXCLUSIVE, bytes overwritten in the file. Mounting needs root.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_wait import shown_text, until
from revert_world import RevertWorld

from cockpit.app import CockpitApp
from cockpit.config import load
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.incident.store.worker import StoreWorker
from cockpit.runtime import Cockpit
from widgets.header import CockpitHeader
from widgets.modals import NoteScreen
from widgets.panels import ProbesPanel
from widgets.timeline import TimelineStrip


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True)  # mount and friends: done in a moment


def needs_root() -> None:
    if os.geteuid() != 0:
        raise AssertionError("these tests mount a tmpfs: run them as root (CI does)")


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "4m") -> Iterator[Path]:
    needs_root()
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def ext4(path: Path, image: Path) -> Iterator[Path]:
    """An ext4 file system on a loop device, mounted errors=remount-ro: a disk error turns it
    read-only under whoever has files open on it, as a failing disk does."""
    needs_root()
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    path.mkdir(parents=True, exist_ok=True)
    sh("mount", "-o", "loop,errors=remount-ro", str(image), str(path))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def disk_error(mount: Path) -> None:
    """The kernel's own "an error on this file system": errors=remount-ro makes it read-only."""
    device = next(
        line.split()[0]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1] == str(mount)
    )
    Path(f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error").write_text("test\n")


def repair(image: Path, mount: Path, repaired: Path) -> None:
    """Take the broken file system away and mount a checked copy in its place (one in
    emergency read-only mode cannot be made writable again while files on it are open)."""
    sh("umount", "-l", str(mount))
    sh("cp", "--sparse=always", str(image), str(repaired))
    subprocess.run(["e2fsck", "-fy", str(repaired)], capture_output=True, check=False)
    sh("mount", "-o", "loop", str(repaired), str(mount))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[RevertWorld]:
    with RevertWorld(tmp_path / "w") as running:
        yield running


def make_app(
    world: RevertWorld,
    data: Path | None,
    *,
    read_only: bool = False,
    problem: str = "",
    busy_ms: int | None = None,
) -> CockpitApp:
    config = load(world.config)

    async def factory() -> Cockpit:
        cockpit = Cockpit(
            config,
            data,
            user="oncall-tester",
            read_only=read_only,
            spool_dir=world.state / "spool",
            data_dir_problem=problem,
        )
        if busy_ms is not None:  # a store call that waits for as long as the lock is held
            cockpit.storage = StoreWorker(
                data,
                spool_dir=world.state / "spool",
                opener=lambda path, ro: IncidentStore(path, read_only=ro, busy_ms=busy_ms),
            )
        return cockpit

    return CockpitApp(factory, keys=config.keys, read_only=read_only)


def header(app: CockpitApp) -> str:
    return app.query_one(CockpitHeader).render().plain


def probes(app: CockpitApp) -> str:
    return shown_text(app.query_one(ProbesPanel))


def timeline(app: CockpitApp) -> str:
    return app.query_one(TimelineStrip).render().plain


def polls(app: CockpitApp) -> int:
    """How many source updates the screen has shown (they keep coming while the store fails)."""
    view = app.last_view
    return 0 if view is None else view.snapshot.version


async def live(pilot: object, app: CockpitApp, more: int = 3) -> None:
    """The probe panel keeps getting new results."""
    await until(pilot, lambda: "ok   web" in probes(app), describe=lambda: probes(app))  # type: ignore[arg-type]
    seen = polls(app)
    await until(pilot, lambda: polls(app) >= seen + more, describe=lambda: probes(app))  # type: ignore[arg-type]


async def type_note(pilot: object, app: CockpitApp, text: str) -> None:
    await pilot.press("n")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, NoteScreen))  # type: ignore[arg-type]
    await pilot.press(*text, "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: not isinstance(app.screen, NoteScreen))  # type: ignore[arg-type]


def saved_notes(data: Path) -> list[str]:
    with IncidentStore(store_path(data), read_only=True) as store:
        return [e.text for e in store.events() if e.kind == "note"]


def spooled(world: RevertWorld) -> str:
    files = list((world.state / "spool").glob("*.jsonl"))
    return "".join(f.read_text() for f in files)


# -- a store that cannot be opened -------------------------------------------------------------


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_garbage_store_gives_a_live_read_only_cockpit(
    world: RevertWorld, read_only: bool
) -> None:
    world.data.mkdir()
    store_path(world.data).write_bytes(b"this is no database " * 500)
    app = make_app(world, world.data, read_only=read_only)
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot, app)
        await until(
            pilot, lambda: "not an incident store" in header(app), describe=lambda: header(app)
        )
        assert "READ-ONLY" in header(app)
        await pilot.press("n")
        assert not isinstance(app.screen, NoteScreen)  # writing keys are off
        await pilot.press("t")  # the timeline opens on what is known, no traceback
        await pilot.press("escape")
    assert store_path(world.data).read_bytes().startswith(b"this is no database")


async def test_a_data_dir_that_is_a_file_gives_a_live_read_only_cockpit(
    world: RevertWorld,
) -> None:
    from cockpit.host.datadir import DataDirError, ensure_data_dir

    world.data.write_text("not a folder")
    with pytest.raises(DataDirError) as problem:
        ensure_data_dir(world.data)
    app = make_app(world, None, problem=str(problem.value))
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot, app)
        await until(
            pilot,
            lambda: "data dir is a file, not a directory" in header(app),
            describe=lambda: header(app),
        )
        assert "READ-ONLY" in header(app)


# -- faults under a running cockpit -------------------------------------------------------------


HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store in BEGIN EXCLUSIVE until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        with contextlib.suppress(OSError):
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.close()
        holder.wait(30)


async def test_a_store_locked_by_another_process_keeps_the_screen_live(
    world: RevertWorld,
) -> None:
    app = make_app(world, world.data)
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot, app)
        await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
        with exclusive(store_path(world.data)):
            await live(pilot, app)
            await type_note(pilot, app, "failover started")
            await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
            assert "failover started" in timeline(app)
            await until(
                pilot,
                lambda: "locked by another process" in header(app),
                describe=lambda: header(app),
            )
            assert "failover started" in spooled(world)  # kept on disk meanwhile
            await live(pilot, app)
            # Reads still answer (WAL) while writes wait: the reason stays said, not flickers.
            await until(pilot, lambda: app.last_view is not None and app.last_view.store.ok)
            assert "locked by another process" in header(app), header(app)
            assert saved_notes(world.data) == []
        await until(pilot, lambda: saved_notes(world.data) == ["oncall-tester: failover started"])
        await until(pilot, lambda: "NOT SAVED" not in timeline(app) + header(app))
        assert spooled(world) == ""


async def test_keys_answer_while_a_store_call_is_stuck(world: RevertWorld) -> None:
    """A store call waiting on the lock (here up to a minute) never holds up the keys: the note
    form opens, takes the text, and the panels go on, while the call is still waiting."""
    app = make_app(world, world.data, busy_ms=60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot, app)
        await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
        assert app.cockpit is not None
        thread = app.cockpit.storage._thread
        with exclusive(store_path(world.data)):
            # A note's write waits for the lock (nothing else may be due to be written now).
            await type_note(pilot, app, "first")
            await until(pilot, lambda: thread.busy)
            await type_note(pilot, app, "still here")
            await live(pilot, app)
            assert thread.busy  # the same call, still waiting
            assert "still here" in timeline(app)
            # Said once it has waited a moment (a write merely queued is not "not saved").
            await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
            assert thread.busy
        both = ["oncall-tester: first", "oncall-tester: still here"]
        await until(pilot, lambda: saved_notes(world.data) == both)


async def test_a_store_made_read_only_under_a_running_cockpit(
    world: RevertWorld, tmp_path: Path
) -> None:
    mount = tmp_path / "mnt"
    image = tmp_path / "disk.img"
    with ext4(mount, image):
        data = mount / "data"
        app = make_app(world, data)
        async with app.run_test(size=(80, 24)) as pilot:
            await live(pilot, app)
            await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
            disk_error(mount)  # the data dir's file system is read-only from now on
            await type_note(pilot, app, "restarted the workers")
            await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
            await until(pilot, lambda: "NOT SAVED" in header(app), describe=lambda: header(app))
            await live(pilot, app)
            assert "restarted the workers" in spooled(world)  # kept, outside the data dir
            # The broken file system is taken away and a checked copy mounted in its place (a
            # file system in emergency read-only mode cannot be made writable again while it
            # is in use): the same cockpit, still running, saves the note there.
            repair(image, mount, tmp_path / "repaired.img")
            await until(
                pilot,
                lambda: saved_notes(data) == ["oncall-tester: restarted the workers"],
                describe=lambda: header(app),
            )
            await until(pilot, lambda: "NOT SAVED" not in timeline(app) + header(app))
        assert spooled(world) == ""


async def test_a_note_spooled_when_the_cockpit_quits_is_saved_by_the_next_one(
    world: RevertWorld, tmp_path: Path
) -> None:
    mount = tmp_path / "mnt"
    image = tmp_path / "disk.img"
    with ext4(mount, image):
        data = mount / "data"
        app = make_app(world, data)
        async with app.run_test(size=(80, 24)) as pilot:
            await live(pilot, app)
            await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
            disk_error(mount)
            await type_note(pilot, app, "handing over to bob")
            await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
        # Quit while the store is still read-only: the note stays spooled ...
        assert "handing over to bob" in spooled(world)
        repair(image, mount, tmp_path / "repaired.img")
        # ... and the next cockpit (same account, same data dir) saves it.
        again = make_app(world, data)
        async with again.run_test(size=(80, 24)) as pilot:
            await live(pilot, again)
            await until(pilot, lambda: saved_notes(data) == ["oncall-tester: handing over to bob"])
        assert spooled(world) == ""


async def test_a_full_disk_under_a_running_cockpit(world: RevertWorld, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", size="2m") as mount:
        data = mount / "data"
        filler = mount / "filler"
        app = make_app(world, data)
        async with app.run_test(size=(80, 24)) as pilot:
            await live(pilot, app)
            await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
            with contextlib.suppress(OSError), filler.open("wb") as out:
                while True:  # until ENOSPC
                    out.write(b"\0" * 65536)
                    out.flush()
            await type_note(pilot, app, "disk is full " * 40)
            await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
            await until(pilot, lambda: "disk full" in header(app), describe=lambda: header(app))
            await live(pilot, app)
            filler.unlink()
            await until(pilot, lambda: len(saved_notes(data)) == 1)
            await until(pilot, lambda: "NOT SAVED" not in timeline(app))
        assert saved_notes(data)[0].startswith("oncall-tester: disk is full")


async def test_pages_damaged_under_a_running_cockpit(world: RevertWorld) -> None:
    app = make_app(world, world.data)
    path = store_path(world.data)
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot, app)
        await until(pilot, lambda: app.last_view is not None and app.last_view.store.writable)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            good = path.read_bytes()
            page = int.from_bytes(good[16:18], "big")
            with path.open("r+b") as raw:  # every page but the header's: garbage
                raw.seek(page)
                raw.write(os.urandom(len(good) - page))
            # Another process writes the header page: every cockpit's cached pages are stale.
            version = other.execute("PRAGMA user_version").fetchone()[0]
            other.execute(f"PRAGMA user_version = {version}")
        finally:
            other.close()
        await type_note(pilot, app, "db looks broken")
        await until(pilot, lambda: "NOT SAVED" in timeline(app), describe=lambda: timeline(app))
        await until(pilot, lambda: "damaged" in header(app), describe=lambda: header(app))
        await live(pilot, app)
        with path.open("r+b") as raw:  # restored from the copy
            raw.write(good)
        await until(pilot, lambda: "oncall-tester: db looks broken" in saved_notes(path.parent))
        await until(pilot, lambda: "NOT SAVED" not in timeline(app))


# -- the headless commands ----------------------------------------------------------------------


def cockpit_cli(
    world: RevertWorld, *args: str, data: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **world.env(), "COCKPIT_DATA_DIR": str(data or world.data)}
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [("incident", "list"), ("incident", "list", "--json"), ("export",), ("incident", "note", "x")],
)
def test_headless_commands_say_why_in_one_line(world: RevertWorld, args: tuple[str, ...]) -> None:
    world.data.mkdir()
    store_path(world.data).write_bytes(b"garbage " * 1000)
    done = cockpit_cli(world, *args)
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "not an incident store" in line and str(world.data) in line

    file_dir = world.root / "a-file"
    file_dir.write_text("")
    done = cockpit_cli(world, *args, data=file_dir)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "data dir is a file, not a directory" in line


def test_headless_list_on_a_locked_store_says_so(world: RevertWorld) -> None:
    with IncidentStore.in_data_dir(world.data) as store:
        store.declare("outage", "SEV2", "alice")
    done = cockpit_cli(world, "incident", "list")
    assert done.returncode == 0 and "outage" in done.stdout
    with exclusive(store_path(world.data)):
        note = cockpit_cli(world, "incident", "note", "while locked")
    assert note.returncode == 1 and "Traceback" not in note.stderr
    assert "locked by another process" in note.stderr


async def test_a_note_saved_at_once_is_not_said_to_be_unsaved(world: RevertWorld) -> None:
    """On a healthy store the note is saved before `note` returns, and the view says so: the
    TUI warns "note not saved yet" from that view, which must not cry wolf."""
    cockpit = Cockpit(load(world.config), world.data, user="oncall-tester", spool_dir=world.state)
    try:
        await cockpit.sync()
        assert cockpit.view.store.writable
        await cockpit.note("failover started")
        assert saved_notes(world.data) == ["oncall-tester: failover started"]
        assert not cockpit.view.unsaved
    finally:
        await cockpit.aclose()


async def test_a_healthy_store_never_shows_not_saved_at_start(world: RevertWorld) -> None:
    """Every start queues a few writes (the start, what the sources say): on a healthy store
    they are saved within moments, and neither the header nor the timeline cries NOT SAVED."""
    app = make_app(world, world.data)
    seen: list[str] = []

    def settled() -> bool:
        seen.append(header(app) + timeline(app))
        cockpit = app.cockpit
        return (
            cockpit is not None
            and app.last_view is not None
            and app.last_view.store.writable
            and len(seen) > 20
            and not cockpit.storage.pending()
        )

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: settled() and "ok   web" in probes(app))
    with IncidentStore(store_path(world.data), read_only=True) as store:
        assert store.events()  # something was queued and saved
    assert [s for s in seen if "NOT SAVED" in s or "not saved" in s] == []
