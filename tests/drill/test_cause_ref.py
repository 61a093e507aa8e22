"""Whether a change the cockpit named is the drill's real cause, at the edges of the drill's
start: the world's own history caused nothing, and change logs keep whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.drill.cause import ChangeRef
from cockpit.drill.scenario import Cause

CAUSE = Cause(what="the header commit", kind="config", sources=("config-repo",))
START = datetime(2026, 12, 3, 12, 0, 5, 700_000, tzinfo=UTC)


def commit(at: datetime) -> ChangeRef:
    return ChangeRef(
        kind="config", subject="abc123", host="", source="config-repo", what="Harden", at=at
    )


def test_a_commit_made_in_the_drills_first_second_is_the_cause_though_git_keeps_seconds() -> None:
    # Made 0.2 s after the start; git stores 12:00:05, before the start's 12:00:05.7.
    made = START + timedelta(seconds=0.2)
    assert commit(made.replace(microsecond=0)).is_cause(CAUSE, START)


def test_the_history_the_world_starts_with_is_never_the_cause() -> None:
    assert not commit(START - timedelta(seconds=1)).is_cause(CAUSE, START)
    assert not commit(START - timedelta(days=3)).is_cause(CAUSE, START)


def test_a_change_of_another_source_or_kind_is_not_the_cause() -> None:
    later = START + timedelta(minutes=1)
    other = ChangeRef(kind="deploy", subject="v2", host="", source="deploys", what="v2", at=later)
    assert not other.is_cause(CAUSE, START)
    assert commit(later).is_cause(CAUSE, START)
