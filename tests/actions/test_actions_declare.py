"""Declaring through the action: form checks, then the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.incident.declare import DeclareError, DeclareRequest, declare
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.errors import IncidentAlreadyOpen
from cockpit.incident.store.sqlite import IncidentStore

NOW = datetime(2024, 8, 2, 14, 35, tzinfo=UTC)


def test_commander_defaults_to_the_login_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    assert DeclareRequest("SFTP fails").commander == "alice"


def test_validate_lists_every_problem() -> None:
    bad = DeclareRequest(
        "  ",
        severity="SEV9",
        commander="",
        impact_started_at=NOW + timedelta(hours=1),
    )
    problems = bad.validate(now=NOW)
    assert len(problems) == 4
    assert any("title" in p for p in problems)
    assert any("SEV1, SEV2, SEV3, SEV4" in p for p in problems)
    assert any("commander" in p for p in problems)
    assert any("future" in p for p in problems)
    assert DeclareRequest("x" * 201, commander="a").validate(now=NOW) == [
        "title is 201 characters; keep it under 200"
    ]
    naive = DeclareRequest("t", commander="a", impact_started_at=datetime(2024, 8, 2))
    assert naive.validate(now=NOW) == ["impact start has no time zone"]
    assert DeclareRequest("SFTP fails", "SEV1", "alice").validate(now=NOW) == []
    long = DeclareRequest("t", commander="a", summary="s" * 1001).validate(now=NOW)
    assert long == ["summary is 1001 characters; keep it under 1000 and add the rest as notes"]


def test_declare_stores_the_incident(tmp_path: Path) -> None:
    with IncidentStore(store_path(tmp_path)) as store:
        request = DeclareRequest(
            "SFTP second\x1b[2J session\nfails",
            "SEV1",
            "alice",
            summary="  customers report failures \n",
            impact_started_at=NOW - timedelta(minutes=43),
        )
        incident = declare(store, request, drill=True, at=NOW)
        assert incident.title == "SFTP second\ufffd session fails"
        assert incident.summary == "customers report failures"
        assert incident.drill is True
        assert incident.declared_at == NOW
        assert incident.impact_started_at == NOW - timedelta(minutes=43)
        assert store.open_incident() == incident
        with pytest.raises(IncidentAlreadyOpen):
            declare(store, DeclareRequest("another", commander="bob"), drill=False, at=NOW)


def test_declare_refuses_a_bad_request(tmp_path: Path) -> None:
    with IncidentStore(store_path(tmp_path)) as store:
        with pytest.raises(DeclareError) as refused:
            declare(store, DeclareRequest("", commander="alice"), drill=False)
        assert refused.value.problems and "title" in refused.value.problems[0]
        assert store.list() == []


def test_parse_when_takes_iso_with_a_zone_or_a_local_clock_time() -> None:
    from cockpit.incident.declare import parse_when

    assert parse_when("2024-08-02T06:50:00-07:00") == datetime(2024, 8, 2, 13, 50, tzinfo=UTC)
    assert parse_when("2024-08-02T13:50Z") == datetime(2024, 8, 2, 13, 50, tzinfo=UTC)
    local_now = NOW.astimezone()
    earlier = (local_now - timedelta(minutes=45)).replace(second=0, microsecond=0)
    assert parse_when(earlier.strftime("%H:%M"), now=NOW) == earlier.astimezone(UTC)
    # A clock time later than now (beyond a little slack) means yesterday's.
    later = (local_now + timedelta(hours=2)).replace(second=30, microsecond=0)
    assert parse_when(later.strftime("%H:%M:%S"), now=NOW) == (
        later - timedelta(days=1)
    ).astimezone(UTC)
    for bad, reason in (
        ("2024-08-02T06:50", "no time zone"),
        ("25:00", "not a time of day"),
        ("yesterday", "not a time"),
    ):
        with pytest.raises(ValueError, match=reason):
            parse_when(bad, now=NOW)
