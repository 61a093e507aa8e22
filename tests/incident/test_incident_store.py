"""The incident store on real SQLite files, shared between instances and processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cockpit.incident.store.connection import store_path
from cockpit.incident.store.errors import IncidentAlreadyOpen, StoreError, UnknownIncident
from cockpit.incident.store.migrations import SCHEMA_VERSION
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus, TimelineEvent

T0 = datetime(2024, 8, 2, 13, 52, tzinfo=UTC)  # 06:52 PDT, the Files.com deploy


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return store_path(tmp_path)


@pytest.fixture
def store(open_store: Callable[[], IncidentStore]):
    with open_store() as s:
        yield s


def test_declare_opens_one_incident_and_records_declared(store: IncidentStore) -> None:
    incident = store.declare(
        "SFTP second session fails",
        "SEV2",
        "alice",
        summary="Customers report failed transfers",
        impact_started_at=at(1),
        at=at(43),
    )
    assert incident.id >= 1
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.declared_at == at(43)
    assert incident.impact_started_at == at(1)
    assert incident.declared_at.tzinfo is not None
    assert store.open_incident() == incident
    assert store.get(incident.id) == incident
    [declared] = store.events()
    assert declared.kind == "declared"
    assert declared.at == at(43)
    assert "SFTP second session fails" in declared.text and "alice" in declared.text


def test_declaring_while_open_is_refused_with_the_open_one(store: IncidentStore) -> None:
    first = store.declare("first", "SEV2", "alice", at=at(0))
    with pytest.raises(IncidentAlreadyOpen) as refused:
        store.declare("second", "SEV1", "bob", at=at(1))
    assert refused.value.incident == first
    assert "#1" in str(refused.value) and "resolve it" in str(refused.value)
    assert [i.title for i in store.list()] == ["first"]


def test_status_changes_are_recorded_and_resolving_frees_the_slot(store: IncidentStore) -> None:
    incident = store.declare("outage", "SEV1", "alice", at=at(0))
    store.set_status(incident.id, IncidentStatus.IDENTIFIED, at=at(5))
    same = store.set_status(incident.id, IncidentStatus.IDENTIFIED, at=at(6))
    assert same.status == IncidentStatus.IDENTIFIED
    resolved = store.set_status(incident.id, IncidentStatus.RESOLVED, at=at(10))
    assert resolved.resolved_at == at(10)
    assert store.open_incident() is None
    kinds = [e.kind for e in store.events()]
    assert kinds == ["declared", "status.identified", "status.resolved"]
    assert store.status_times(incident.id) == {
        IncidentStatus.INVESTIGATING: at(0),
        IncidentStatus.IDENTIFIED: at(5),
        IncidentStatus.RESOLVED: at(10),
    }
    second = store.declare("another", "SEV3", "bob", at=at(20))
    assert [i.id for i in store.list()] == [second.id, incident.id]  # newest first
    with pytest.raises(IncidentAlreadyOpen):  # reopening the first would make two open
        store.set_status(incident.id, IncidentStatus.INVESTIGATING)


def test_unknown_incident(store: IncidentStore) -> None:
    assert store.get(42) is None
    with pytest.raises(UnknownIncident):
        store.set_status(42, IncidentStatus.RESOLVED)


def test_keyed_events_are_recorded_once(store: IncidentStore) -> None:
    flip = TimelineEvent(at(2), "probe.down", "sftp-multi down", source="sftp", key="sftp@1")
    assert store.add_event(flip) is True
    assert store.add_event(flip) is False
    assert store.add_event(TimelineEvent(at(2), "note", "unkeyed")) is True
    assert store.add_event(TimelineEvent(at(2), "note", "unkeyed")) is True
    assert [e.kind for e in store.events()] == ["probe.down", "note", "note"]


def test_two_instances_on_one_store_see_each_other(
    open_store: Callable[[], IncidentStore],
) -> None:
    with open_store() as one, open_store() as two:
        incident = one.declare("shared", "SEV2", "alice", at=at(0))
        assert two.open_incident() == incident
        flip = TimelineEvent(at(1), "probe.down", "down", key="probe:sftp:down:1")
        assert two.add_event(flip) is True
        assert one.add_event(flip) is False  # the other cockpit saw it first
        with pytest.raises(IncidentAlreadyOpen):
            two.declare("racing", "SEV2", "bob")
        two.set_status(incident.id, IncidentStatus.MITIGATED, at=at(5))
        assert one.get(incident.id).status == IncidentStatus.MITIGATED  # type: ignore[union-attr]
        assert [e.kind for e in one.events()] == ["declared", "probe.down", "status.mitigated"]


def test_threads_share_one_instance(store: IncidentStore) -> None:
    def write(worker: int) -> None:
        for i in range(20):
            store.add_event(TimelineEvent(at(i), "note", f"{worker}-{i}", key=f"k{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.events()) == 20


def test_event_queries(store: IncidentStore) -> None:
    for minute in (5, 1, 3, 2, 4):
        store.add_event(TimelineEvent(at(minute), "note", f"m{minute}"))
    assert [e.text for e in store.events()] == ["m1", "m2", "m3", "m4", "m5"]
    assert [e.text for e in store.events(since=at(2), until=at(4))] == ["m2", "m3", "m4"]
    assert [e.text for e in store.events(since=at(2), limit=2)] == ["m2", "m3"]
    assert [e.text for e in store.recent_events(2)] == ["m4", "m5"]
    # Instants keep their sub-second order and come back as aware UTC.
    store.add_event(TimelineEvent(at(5) + timedelta(microseconds=1), "note", "m5+"))
    assert store.recent_events(1)[0].at == at(5) + timedelta(microseconds=1)
    assert store.recent_events(1)[0].at.utcoffset() == timedelta(0)


def test_non_utc_times_are_stored_as_the_same_instant(store: IncidentStore) -> None:
    pdt = datetime(2024, 8, 2, 6, 52, tzinfo=UTC).astimezone(timezone(timedelta(hours=-7)))
    store.add_event(TimelineEvent(pdt, "deploy", "files-web 2"))
    assert store.events()[0].at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        store.add_event(TimelineEvent(datetime(2024, 8, 2, 6, 52), "deploy", "naive"))


def test_incident_events_window(store: IncidentStore) -> None:
    store.add_event(TimelineEvent(at(-40), "note", "too early"))
    store.add_event(TimelineEvent(at(-20), "deploy", "files-web 2 deployed"))
    incident = store.declare("outage", "SEV2", "alice", impact_started_at=at(0), at=at(43))
    store.add_event(TimelineEvent(at(49), "revert.finished", "reverted"))
    resolved = store.set_status(incident.id, IncidentStatus.RESOLVED, at=at(50))
    store.add_event(TimelineEvent(at(90), "note", "after resolution"))
    texts = [e.kind for e in store.incident_events(resolved)]
    assert texts == ["deploy", "declared", "revert.finished", "status.resolved"]


def test_open_incident_window_runs_until_now(store: IncidentStore) -> None:
    # Recorded by another cockpit before this incident existed, so only the window decides.
    store.add_event(TimelineEvent(at(10), "note", "in"))
    store.add_event(TimelineEvent(at(30), "note", "later"))
    incident = store.declare("outage", "SEV2", "alice", at=at(0))
    assert [e.text for e in store.incident_events(incident, now=at(20))][-1] == "in"


def test_schema_version_is_set_and_newer_files_are_refused(db_path: Path) -> None:
    IncidentStore(db_path).close()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer"):
        IncidentStore(db_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"incidents\.sqlite3"):
        IncidentStore(db_path)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from cockpit.incident.store.sqlite import IncidentStore
    from cockpit.model import TimelineEvent

    store = IncidentStore(Path(sys.argv[1]))
    incident = store.declare("killed mid-incident", "SEV1", "carol")
    store.add_event(TimelineEvent(datetime.now(UTC), "note", "saved before the kill", key="n1"))
    print(incident.id, flush=True)
    time.sleep(600)
    """
)


def test_everything_reported_saved_survives_sigkill(db_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "declare_then_hang.py"
    script.write_text(_CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert child.stdout is not None
        incident_id = int(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()
    with IncidentStore(db_path) as after:
        incident = after.get(incident_id)
        assert incident is not None and incident.title == "killed mid-incident"
        assert after.open_incident() == incident
        assert [e.text for e in after.incident_events(incident)][-1] == "saved before the kill"
        assert [e.kind for e in after.events()] == ["declared", "note"]


_RACER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cockpit.incident.store.errors import IncidentAlreadyOpen
    from cockpit.incident.store.sqlite import IncidentStore

    store = IncidentStore(Path(sys.argv[1]))
    sys.stdin.readline()  # start together
    try:
        store.declare("race " + sys.argv[2], "SEV2", sys.argv[2])
    except IncidentAlreadyOpen:
        print("refused", flush=True)
    else:
        print("declared", flush=True)
    """
)


def test_two_processes_declaring_at_once_open_one_incident(db_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "racer.py"
    script.write_text(_RACER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), str(db_path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("alice", "bob")
    ]
    for racer in racers:  # both are waiting with the store open; release them together
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    results = [r.communicate(timeout=60)[0].strip() for r in racers]
    assert sorted(results) == ["declared", "refused"]
    with IncidentStore(db_path) as store:
        assert len(store.list()) == 1
        assert [e.kind for e in store.events()] == ["declared"]


def test_a_failure_two_cockpits_saw_a_moment_apart_is_recorded_once(db_path: Path) -> None:
    """Two cockpits on one store probe on their own clocks: each dates the failure by its own
    first failed round (so their keys differ), and the store keeps the first one only."""
    first, second = IncidentStore(db_path), IncidentStore(db_path)
    try:

        def down(minutes: float) -> TimelineEvent:
            moment = at(minutes)
            text = f"probe web failing since {moment:%H:%M:%S}"
            return TimelineEvent(moment, "probe.down", text, "web", f"probe:web:down:{moment}")

        assert first.add_event(down(0), family="probe:web")
        assert not second.add_event(down(0.05), family="probe:web")  # three seconds later
        up = TimelineEvent(at(5), "probe.up", "probe web ok again", "web", "probe:web:up")
        assert second.add_event(up, family="probe:web")
        assert first.add_event(down(9), family="probe:web")  # it failed again: a new one
        kinds = [e.kind for e in first.events()]
    finally:
        first.close()
        second.close()
    assert kinds == ["probe.down", "probe.up", "probe.down"]
