"""The lifecycle on a real store: statuses with their times, notes, corrections as events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.incident.declare import DeclareError, DeclareRequest
from cockpit.incident.lifecycle import Lifecycle, NoOpenIncident
from cockpit.incident.store.corrections import parse_correction_key
from cockpit.incident.store.errors import IncidentAlreadyOpen, StoreError, UnknownIncident
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus, TimelineEvent
from cockpit.timeutil import local_clock

T0 = datetime(2024, 8, 2, 13, 52, tzinfo=UTC)  # 06:52 PDT, the bad deploy


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def store(open_store: Callable[[], IncidentStore]):
    with open_store() as s:
        yield s


def hm(when: datetime) -> str:
    return local_clock(when, seconds=False)


def test_statuses_move_forward_each_with_its_time(store: IncidentStore) -> None:
    life = Lifecycle(store, user="alice")
    incident = life.declare(DeclareRequest("SFTP fails", "SEV2", "alice"), at=at(43))
    assert incident.status == IncidentStatus.INVESTIGATING
    life.set_status("identified", at=at(46))
    life.set_status(IncidentStatus.MITIGATED, at=at(49))
    resolved = life.resolve(at=at(58))
    assert resolved.status == IncidentStatus.RESOLVED and resolved.resolved_at == at(58)
    times = store.times(incident.id)
    assert (times.declared, times.investigating, times.identified, times.mitigated) == (
        at(43),
        at(43),
        at(46),
        at(49),
    )
    assert times.resolved == at(58)
    assert [e.kind for e in store.events()] == [
        "declared",
        "status.identified",
        "status.mitigated",
        "status.resolved",
    ]
    with pytest.raises(NoOpenIncident):
        life.resolve()
    with pytest.raises(UnknownIncident):
        life.set_status("mitigated", incident_id=99)


def test_declare_keeps_the_form_checks_and_the_one_open_rule(store: IncidentStore) -> None:
    life = Lifecycle(store, user="alice", drill=True)
    with pytest.raises(DeclareError):
        life.declare(DeclareRequest("", "SEV2", "alice"))
    first = life.declare(DeclareRequest("first", "SEV3", "alice"))
    assert first.drill
    with pytest.raises(IncidentAlreadyOpen):
        life.declare(DeclareRequest("second", "SEV3", "bob"))


def test_notes_any_time_and_attached_to_the_incident(store: IncidentStore) -> None:
    life = Lifecycle(store, user="bob")
    with pytest.raises(NoOpenIncident):
        life.note("nothing to attach to")
    incident = life.declare(DeclareRequest("outage", "SEV1", "alice"), at=at(0))
    life.note("customers report \x1b[31mfailed\x1b[0m\n transfers", at=at(5))
    resolved = life.resolve(at=at(10))
    # After the resolve (the postmortem meeting), notes still land on the incident.
    life.note("follow-up: add a concurrency probe", at=at(600))
    texts = [e.text for e in store.incident_events(resolved) if e.kind == "note"]
    assert texts == [
        "bob: customers report \ufffdfailed\ufffd transfers",
        "bob: follow-up: add a concurrency probe",
    ]
    with pytest.raises(ValueError, match="empty"):
        life.note("  \x1b[2J ")
    assert incident.id == resolved.id


def test_corrections_change_the_time_and_say_so_on_the_timeline(store: IncidentStore) -> None:
    life = Lifecycle(store, user="alice")
    incident = life.declare(
        DeclareRequest("outage", "SEV2", "alice", impact_started_at=at(0)), at=at(43)
    )
    event = life.correct("impact-start", at(-2), now=at(50))
    assert event.kind == "correction.impact-start" and event.at == at(50)
    assert event.text == (
        f"impact start corrected {hm(at(0))} -> {hm(at(-2))} by alice (13:52:00 -> 13:50:00 UTC)"
    )
    assert store.get(incident.id).impact_started_at == at(-2)  # type: ignore[union-attr]
    assert parse_correction_key(event.key) == (incident.id, "impact-start", at(-2))
    assert store.events()[-1] == event

    # "detected" was derived from the first detector event; the correction names that value.
    store.add_event(TimelineEvent(at(1), "probe.down", "sftp-multi down", "sftp"))
    detected = life.correct("detected", at(3), now=at(51))
    assert detected.text.startswith(f"detected corrected {hm(at(1))} -> {hm(at(3))} by alice")
    assert store.times(incident.id).detected == at(3)

    with pytest.raises(StoreError, match="has not been mitigated"):
        life.correct("mitigated", at(45), now=at(52))
    life.set_status("mitigated", at=at(49))
    life.correct("mitigated", at(48), now=at(53))
    assert store.times(incident.id).mitigated == at(48)

    with pytest.raises(ValueError, match="future"):
        life.correct("declared", at(90), now=at(60))
    with pytest.raises(ValueError, match="time zone"):
        life.correct("declared", datetime(2024, 8, 2, 14, 30), now=at(60))
    with pytest.raises(ValueError, match="can correct only"):
        life.correct("coffee", at(1), now=at(60))

    # Correcting the declaration moves the start of "investigating" with it.
    life.correct("declared", at(42), now=at(60))
    times = store.times(incident.id)
    assert times.declared == times.investigating == at(42)


def test_a_resolved_incident_can_still_be_corrected(store: IncidentStore) -> None:
    life = Lifecycle(store, user="carol")
    incident = life.declare(DeclareRequest("outage", "SEV2", "alice"), at=at(0))
    life.resolve(at=at(30))
    event = life.correct("resolved", at(25), now=at(120))
    assert event.text.startswith(f"resolved corrected {hm(at(30))} -> {hm(at(25))} by carol")
    resolved = store.get(incident.id)
    assert resolved is not None and resolved.resolved_at == at(25)
    assert event in store.incident_events(resolved)  # attached, though after the window
