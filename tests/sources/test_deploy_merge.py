"""Merging the deploy histories of several sources into one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.model import Deploy, Deploys
from cockpit.sources.deploys.merge import merge_deploys

T0 = datetime(2024, 8, 2, 6, 0, tzinfo=UTC)


def d(version: str, minute: float, source: str, **kw: object) -> Deploy:
    fields: dict = {"who": "", "summary": "", "service": "files-web", **kw}
    return Deploy(
        fields.pop("service"),
        version,
        fields.pop("who"),
        T0 + timedelta(minutes=minute),
        fields.pop("summary"),
        source=source,
        **fields,
    )


def test_one_list_newest_first_each_deploy_once() -> None:
    log = Deploys("log", (d("2", 52, "log", who="bob"), d("1", 0, "log", who="alice")))
    releases = Deploys(
        "releases",
        (
            d("2", 52.5, "releases", summary="revision abc123"),  # the same deploy, seen later
            d("1", 0, "releases"),
        ),
    )
    github = Deploys("gh", (d("9", 30, "gh", service="billing"),))
    merged = merge_deploys([log, releases, github])
    assert [(x.service, x.version) for x in merged] == [
        ("files-web", "2"),
        ("billing", "9"),
        ("files-web", "1"),
    ]
    newest = merged[0]
    assert newest.source == "log" and newest.who == "bob"
    assert newest.summary == "revision abc123"  # filled from the other report


def test_a_version_deployed_again_later_is_another_deploy() -> None:
    log = Deploys(
        "log",
        (
            d("1", 101, "log", reverts="2"),  # rolled back to 1
            d("2", 52, "log"),
            d("1", 0, "log"),
        ),
    )
    releases = Deploys("releases", (d("1", 100, "releases", reverts="2"), d("1", 0, "releases")))
    merged = merge_deploys([log, releases])
    assert [(x.version, x.reverts) for x in merged] == [("1", "2"), ("2", None), ("1", None)]


def test_within_one_source_two_reports_stay_two() -> None:
    log = Deploys("log", (d("2", 5, "log"), d("2", 1, "log")))
    assert len(merge_deploys([log])) == 2


def test_nothing_to_merge() -> None:
    assert merge_deploys([]) == ()
    assert merge_deploys([Deploys("log", ())]) == ()
