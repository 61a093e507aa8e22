"""Reverting a change that is not a deploy: a package upgrade read from the real dpkg's log
is downgraded by the real dpkg through the supervised, locked, audited path of every revert;
placeholders that cannot be passed on refuse the plan; a source without revert says so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from debian_logs import Host, build_deb

from cockpit.actions.audit import attempts, read_audit
from cockpit.actions.change_revert import plan_change_revert
from cockpit.actions.revert_plan import RevertError
from cockpit.actions.runs import follow_run, start_run
from cockpit.config import parse
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.sources.changes.logs import LogChanges

PKG = "cockpit-demo"


def installed(host: Host) -> str:
    return (host.root / "usr" / "share" / PKG / "VERSION").read_text().strip()


async def test_a_package_upgrade_is_downgraded_by_the_real_dpkg(tmp_path: Path) -> None:
    debs = tmp_path / "debs"
    debs.mkdir()
    for version in ("1.0-1", "1.1-1"):
        build_deb(debs, PKG, version)
    host = Host(tmp_path / "web-2")
    host.dpkg("-i", str(debs / f"{PKG}_1.0-1_all.deb"))
    host.dpkg("-i", str(debs / f"{PKG}_1.1-1_all.deb"))
    assert installed(host) == "1.1-1"
    dpkg = (
        f'"dpkg", "--force-not-root", "--root={host.root}", "--admindir={host.admin}", '
        f'"--log={host.dpkg_log}"'
    )
    config = parse(
        f"""
[[changes]]
name = "web-2-dpkg"
kind = "dpkg"
host = "web-2"
path = "{host.dpkg_log}"
revert = [{dpkg}, "-i", "{debs}/{{package}}_{{old_version}}_all.deb"]
revert_preflight = [["test", "-f", "{debs}/{{package}}_{{old_version}}_all.deb"]]
""",
        env={},
    )
    (cfg,) = config.changes
    upgrade = (await LogChanges(cfg).poll()).changes[0]  # type: ignore[arg-type]
    assert (upgrade.id, upgrade.old, upgrade.new) == ("upgrade", "1.0-1", "1.1-1")

    plan = plan_change_revert(upgrade, cfg)
    assert plan.describe() == f"revert package {PKG} on web-2 (web-2-dpkg)"
    assert plan.service == "web-2"  # the lock and the typed confirmation: the host
    assert plan.argv[-1] == f"{debs}/{PKG}_1.0-1_all.deb"
    data = tmp_path / "data"
    data.mkdir()
    with IncidentStore(store_path(data)):
        pass
    run = await start_run(data, plan, "alice")
    lines: list[str] = []
    ended = await follow_run(run, lines.append)
    outcome = ended.outcome()
    assert outcome is not None and outcome.ok, (outcome, lines)

    assert installed(host) == "1.0-1"  # really downgraded
    # dpkg logged the downgrade (an "upgrade" to the older version): it is a change too.
    latest = (await LogChanges(cfg).poll()).changes[0]  # type: ignore[arg-type]
    assert (latest.old, latest.new) == ("1.1-1", "1.0-1")
    (entry,) = attempts(read_audit(data))
    assert entry["result"] == "ok" and entry["who"] == "alice"
    assert entry["plan"]["change"] == {
        "kind": "package",
        "subject": PKG,
        "host": "web-2",
        "source": "web-2-dpkg",
        "what": f"{PKG} 1.0-1 -> 1.1-1 (upgrade)",
        "at": entry["plan"]["change"]["at"],
    }
    with IncidentStore(store_path(data)) as store:
        texts = [(e.kind, e.text) for e in store.events()]
    assert (
        "revert.started",
        f"revert package {PKG} on web-2 (web-2-dpkg) started by alice",
    ) in texts


async def test_what_cannot_be_passed_on_refuses_the_plan(tmp_path: Path) -> None:
    log = tmp_path / "dpkg.log"
    log.write_text("2024-03-08 06:00:44 install newpkg:amd64 <none> 1.0\n")
    config = parse(
        f"""
[[changes]]
name = "d"
kind = "dpkg"
path = "{log}"
revert = ["apt-get", "install", "{{package}}={{old_version}}"]

[[changes]]
name = "m"
kind = "maintenance"
path = "{tmp_path / "m.jsonl"}"
""",
        env={},
    )
    dpkg, maintenance = config.changes
    (installed_new,) = (await LogChanges(dpkg).poll()).changes  # type: ignore[arg-type]
    # A fresh install has no old version to go back to: said, not guessed.
    with pytest.raises(RevertError, match=r"unknown placeholder \{old_version\}"):
        plan_change_revert(installed_new, dpkg)
    forged = replace(installed_new, subject="-oAPT::Get::AllowUnauthenticated=1", old="0.9")
    with pytest.raises(RevertError, match=r"would read as an option"):
        plan_change_revert(forged, dpkg)
    with pytest.raises(RevertError, match=r"has no revert: m \(maintenance\) declares none"):
        plan_change_revert(replace(installed_new, source="m"), maintenance)
