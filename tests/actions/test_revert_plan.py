"""Planning a revert from a deploy history and a [[services]] entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.actions.revert import RevertError, plan_revert
from cockpit.config import ServiceConfig
from cockpit.model import Deploy

T0 = datetime(2024, 8, 2, 13, 0, tzinfo=UTC)


def deploy(version: str, minute: int, service: str = "files-web", **kw: str) -> Deploy:
    return Deploy(service, version, kw.pop("who", "bob"), T0 + timedelta(minutes=minute), "", **kw)


SERVICE = ServiceConfig(
    name="files-web",
    revert=("deployctl", "rollback", "{service}", "--to={previous.version}", "{current.version}"),
    preflight=(("deployctl", "status", "{service}"),),
    revert_timeout=30.0,
)


def test_plan_goes_back_to_the_previous_version() -> None:
    history = [deploy("2", 52), deploy("1", 10), deploy("0", 0)]
    plan = plan_revert(SERVICE, history)
    assert (plan.service, plan.from_version, plan.to_version) == ("files-web", "2", "1")
    assert plan.argv == ("deployctl", "rollback", "files-web", "--to=1", "2")
    assert plan.preflight == (("deployctl", "status", "files-web"),)
    assert plan.timeout == 30.0
    assert plan.dry_run is False
    assert plan.describe() == "revert files-web 2 -> 1"


def test_merged_sources_other_services_and_order() -> None:
    history = [
        deploy("1", 10),
        deploy("9", 60, service="billing"),
        deploy("2", 52, source="ci"),
        deploy("2", 52, source="audit"),  # the same deploy seen by a second source
        deploy("0", 0),
    ]
    plan = plan_revert(SERVICE, history)
    assert (plan.from_version, plan.to_version) == ("2", "1")


def test_reverted_versions_are_skipped() -> None:
    # 1 -> 2 (bad, rolled back to 1) -> 3: reverting 3 must not land on 2.
    history = [deploy("3", 50), deploy("1", 30, reverts="2"), deploy("2", 20), deploy("1", 10)]
    plan = plan_revert(SERVICE, history)
    assert (plan.from_version, plan.to_version) == ("3", "1")
    # The only earlier version is the one the current deploy rolled back.
    with pytest.raises(RevertError, match="no earlier version"):
        plan_revert(SERVICE, [deploy("1", 50, reverts="2"), deploy("2", 20)])


def test_same_version_redeployed_is_not_a_target() -> None:
    plan = plan_revert(SERVICE, [deploy("2", 52), deploy("2", 40), deploy("1", 10)])
    assert plan.to_version == "1"


@pytest.mark.parametrize(
    ("service", "history", "reason"),
    [
        (None, [deploy("2", 1)], "no [[services]] entry for 'files-web'"),
        (ServiceConfig(name="files-web"), [deploy("2", 1), deploy("1", 0)], "no revert command"),
        (SERVICE, [deploy("2", 1)], "no earlier version"),
        (SERVICE, [deploy("2", 1, service="other")], "no deploy of files-web"),
        (SERVICE, [], "no deploy of files-web"),
    ],
)
def test_impossible_plans_say_why(
    service: ServiceConfig | None, history: list[Deploy], reason: str
) -> None:
    with pytest.raises(RevertError) as refused:
        plan_revert(service, history)
    assert reason in refused.value.reason


def test_hostile_values_stay_single_arguments() -> None:
    hostile = "1.2; rm -rf / $(touch x) `id` 'a b'"
    history = [deploy("2", 52), deploy(hostile, 10, who="eve")]
    service = ServiceConfig(
        name="files-web", revert=("rollback", "{previous.version}", "by={previous.who}")
    )
    plan = plan_revert(service, history)
    assert plan.argv == ("rollback", hostile, "by=eve")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.2\n--force", "holds a line break"),
        ("1.2\r", "holds a line break"),
        ("\x1b[2J1.2", "holds a control character"),
        ("1\x00", "holds a control character"),
        ("1\x9b2", "holds a control character"),
        ("1.2\u202e", "holds invisible or direction-changing characters"),
        ("1.\u200b2", "holds invisible or direction-changing characters"),
        ("1.2\ufffd", "not valid UTF-8"),
        ("1." + "9" * 120, "is 122 characters long, more than the 100"),
    ],
)
@pytest.mark.parametrize("role", ["previous", "deployed"])
def test_versions_that_cannot_be_passed_as_they_are_are_refused(
    value: str, why: str, role: str
) -> None:
    service = ServiceConfig(name="files-web", revert=("rollback", "--to={previous.version}"))
    history = (
        [deploy("2", 52), deploy(value, 10)]
        if role == "previous"
        else [deploy(value, 52), deploy("1", 10)]
    )
    with pytest.raises(RevertError) as refused:
        plan_revert(service, history)
    reason = refused.value.reason
    assert why in reason and f"the {role} version {value!r}"[:40] in reason
    assert "never altered" in reason


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (("rollback", "{previous.versoin}"), "unknown placeholder {previous.versoin}"),
        (("rollback", "{HOME}"), "unknown placeholder {HOME}"),
        (("rollback", "{previous.version"), "unbalanced"),
        (("rollback", "x}"), "unbalanced"),
    ],
)
def test_template_errors_at_plan_time(template: tuple[str, ...], reason: str) -> None:
    service = ServiceConfig(name="files-web", revert=template)
    with pytest.raises(RevertError) as refused:
        plan_revert(service, [deploy("2", 52), deploy("1", 10)])
    assert reason in refused.value.reason


def test_braces_escape_and_whole_arguments_cannot_become_options() -> None:
    service = ServiceConfig(name="files-web", revert=("jq", "{{.v}}={previous.version}"))
    assert plan_revert(service, [deploy("2", 5), deploy("1", 1)]).argv == ("jq", "{.v}=1")
    service = ServiceConfig(name="files-web", revert=("rollback", "{previous.version}"))
    with pytest.raises(RevertError, match="option"):
        plan_revert(service, [deploy("2", 5), deploy("--force", 1)])
    # Inside a --flag=value argument a leading dash is harmless.
    service = ServiceConfig(name="files-web", revert=("rollback", "--to={previous.version}"))
    assert plan_revert(service, [deploy("2", 5), deploy("-1", 1)]).argv == ("rollback", "--to=-1")


def test_preflight_is_substituted_and_checked_too() -> None:
    service = ServiceConfig(
        name="files-web", revert=("rollback",), preflight=(("check", "{nope}"),)
    )
    with pytest.raises(RevertError, match="nope"):
        plan_revert(service, [deploy("2", 5), deploy("1", 1)])
