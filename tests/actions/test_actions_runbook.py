"""Named runbook actions (failover and the like) with the revert's guardrails."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.actions.audit import attempts, read_audit
from cockpit.actions.lock import ServiceLock
from cockpit.actions.runbook import ActionError, action_names, plan_action, run_action
from cockpit.config import ConfigError, ServiceConfig, parse
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Deploy

PY = sys.executable


def service_config(tmp_path: Path, extra: str = "") -> tuple[Path, ServiceConfig | None]:
    record = tmp_path / "argv.json"
    script = tmp_path / "deployctl.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys
            json.dump(sys.argv[1:], open({str(record)!r}, "w"))
            print("failing over", sys.argv[-1], flush=True)
            """
        )
    )
    check = tmp_path / "check.py"
    check.write_text("print('standby healthy')\n")
    text = f"""
[[services]]
name = "files-web"
revert = ["deployctl", "rollback", "--to", "{{previous.version}}"]
preflight = [["deployctl", "check", "{{previous.version}}"]]
action_preflight = [["{PY}", "{check}"]]
action_timeout = 30
{extra}

[services.actions]
failover = ["{PY}", "{script}", "--root", "/srv/files-web", "failover", "{{service}}"]
"""
    return record, parse(text).service("files-web")


async def test_failover_runs_under_the_guardrails(tmp_path: Path, store: IncidentStore) -> None:
    record, service = service_config(tmp_path)
    assert action_names(service) == ("failover",)
    plan = plan_action(service, "failover")
    assert plan.describe() == "action failover on files-web"
    assert plan.preflight_lines() == (f"{PY} {tmp_path / 'check.py'}",)
    lines: list[str] = []
    outcome = await run_action(
        plan, store=store, data_dir=tmp_path, user="alice", on_output=lines.append
    )
    assert outcome.ok and outcome.exit_code == 0
    assert json.loads(record.read_text()) == ["--root", "/srv/files-web", "failover", "files-web"]
    assert "standby healthy" in lines and lines[-1] == "failing over files-web"
    events = store.events()
    assert [e.kind for e in events] == ["action.started", "action.finished"]
    assert events[0].text == "action failover on files-web started by alice"
    assert events[1].text.startswith("action failover on files-web finished: ok")
    [entry] = attempts(read_audit(tmp_path))
    assert entry["action"] == "action" and entry["plan"]["name"] == "failover"
    assert entry["result"] == "ok" and entry["preflight"][0]["exit_code"] == 0


async def test_dry_run_and_lock_apply_to_actions(tmp_path: Path, store: IncidentStore) -> None:
    record, service = service_config(tmp_path, "dry_run = true")
    plan = plan_action(service, "failover")
    lines: list[str] = []
    outcome = await run_action(
        plan, store=store, data_dir=tmp_path, user="alice", on_output=lines.append
    )
    assert outcome.ok and outcome.dry_run and not record.exists()
    assert lines[-1].startswith("dry run: would run: ")

    # A revert (or another action) holding the service's lock keeps the action from running.
    with ServiceLock(tmp_path, "files-web", user="bob"):
        held = await run_action(
            plan, store=store, data_dir=tmp_path, user="alice", on_output=lines.append
        )
    assert not held.ok and held.lock_holder is not None and held.lock_holder.user == "bob"
    assert attempts(read_audit(tmp_path))[-1]["result"] == "lock held"


async def test_failing_preflight_stops_the_action(tmp_path: Path, store: IncidentStore) -> None:
    record, service = service_config(tmp_path)
    (tmp_path / "check.py").write_text("print('standby lagging')\nraise SystemExit(1)\n")
    outcome = await run_action(
        plan_action(service, "failover"),
        store=store,
        data_dir=tmp_path,
        user="alice",
        on_output=lambda line: None,
    )
    assert not outcome.ok and outcome.reason.endswith("failed: exit 1")
    assert not record.exists()
    assert store.events()[-1].kind == "action.finished"


def test_plans_that_cannot_be_made(tmp_path: Path) -> None:
    _, service = service_config(tmp_path)
    with pytest.raises(ActionError, match=r"no action 'reboot' \(actions: failover\)"):
        plan_action(service, "reboot")
    with pytest.raises(ActionError, match=r"no \[\[services\]\] entry"):
        plan_action(None, "failover")


def test_current_version_placeholder_when_a_deploy_is_known() -> None:
    service = parse(
        '[[services]]\nname = "files-web"\n'
        'actions = { drain = ["deployctl", "drain", "--version={current.version}"] }\n'
    ).service("files-web")
    deploy = Deploy("files-web", "2", "bob", datetime(2024, 8, 2, 6, 52, tzinfo=UTC), "")
    plan = plan_action(service, "drain", [deploy])
    assert plan.argv == ("deployctl", "drain", "--version=2")
    with pytest.raises(ActionError, match="unknown placeholder"):
        plan_action(service, "drain", [])


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ('{ "bad name!" = ["x"] }', "a name of letters"),
        ("{ failover = [] }", "expected a program"),
        ('{ failover = ["x", ""] }', "failover\\[1\\]: must not be empty"),
    ],
)
def test_config_checks_actions(actions: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(f'[[services]]\nname = "files-web"\nactions = {actions}\n')
