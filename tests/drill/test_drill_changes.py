"""Drills of outages no deploy caused, run headless with an instant scripted responder: the
report names the real cause (a package upgrade, a feature file, a config commit, a maintenance
run), says how long after the impact start the cockpit named it, and whether the responder
reverted it or the innocent latest deploy."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from cockpit.drill.report import DrillReport
from cockpit.drill.responder import parse_script, run_headless
from cockpit.drill.scenario import find_scenario

SPEED = 600.0
# An instant responder who trusts the cockpit: declare at the first failure, revert what it
# suspects first, stop once everything passes.
TRUSTING = """
[[step]]
on = "probe.down"
do = "declare"

[[step]]
do = "revert"
text = "suspect"

[[step]]
on = "recovered"
after = 2
do = "end"
"""


async def drill(tmp_path: Path, name: str, script: str) -> DrillReport:
    return await run_headless(
        find_scenario(name, {}), parse_script(script), data_dir=tmp_path, speed=SPEED
    )


def assert_impact_at(report: DrillReport, due: str) -> None:
    """The impact starts with the fault that broke something, applied when due: a loaded
    machine may apply it a moment late, which at 600x is a scenario minute or two."""
    scenario = find_scenario(report.scenario, {})
    at = report.impact_start
    assert at is not None, report.faults
    assert scenario.clock(due) <= at < scenario.clock(due) + timedelta(minutes=3), at


def check_cause_named_and_reverted(
    report: DrillReport, *, reverts: int = 1, named_first: bool = True
) -> None:
    verdict = report.cause
    assert verdict is not None, report
    assert verdict.named, "the cockpit named no suspect"
    if named_first:
        assert verdict.first_named_was_cause, verdict.named
    # At 600x a poll is a floor of 0.2 s, two scenario minutes: the tool's own latency.
    assert verdict.named_minutes is not None and 0 <= verdict.named_minutes < 15, verdict
    assert len(verdict.reverted) == reverts and all(r.is_cause for r in verdict.reverted), verdict
    assert verdict.reverted_cause
    assert report.milestone("recover").minutes is not None, report.milestones
    markdown = report.files[0].read_text()
    assert "## What caused it" in markdown
    assert "The responder reverted the right change." in markdown
    data = json.loads(report.files[1].read_text())
    assert data["cause"]["first_named_was_cause"] is verdict.first_named_was_cause
    assert data["cause"]["reverted_cause"] is True


async def test_datadog_a_package_upgrade_on_half_the_nodes_is_named_and_downgraded(
    tmp_path: Path,
) -> None:
    # Two nodes upgraded: the responder downgrades the top suspect, waits for that node to
    # come back, then downgrades the next.
    script = TRUSTING.replace(
        '[[step]]\non = "recovered"',
        '[[step]]\non = "probe.up"\nsource = "node-*"\ndo = "revert"\ntext = "suspect"\n\n'
        '[[step]]\non = "recovered"',
    )
    report = await drill(tmp_path, "datadog-2023", script)

    assert [f.fault for f in report.faults][:1] == ["package_upgrade"]
    assert_impact_at(report, "06:00")
    down = {s.text.split()[1] for s in report.signals if s.kind == "probe.down"}
    assert {"node-2", "node-4"} <= down and not {"node-1", "node-3"} & down
    check_cause_named_and_reverted(report, reverts=2)
    assert report.cause is not None
    hosts = {r.what.rsplit(" on ", 1)[-1].split()[0] for r in report.cause.reverted}
    assert hosts == {"node-2", "node-4"}
    assert "package" in report.cause.named[0].what
    assert report.milestone("mitigate").real_minutes == 193  # web access back at 09:13


async def test_cloudflare_the_feature_file_not_the_latest_deploy(tmp_path: Path) -> None:
    report = await drill(tmp_path, "cloudflare-2025", TRUSTING)

    faults = [f.fault for f in report.faults]
    assert faults[:3] == ["permission_change", "deploy", "bad_feature_file"]
    # the grants change and the deploy broke nothing: the impact starts with the file
    assert_impact_at(report, "11:20")
    # The feature tool is a program the cockpit runs each poll: at 600x its output may lag
    # the first failure by a scenario minute or two, when the file before may lead for a
    # moment. The responder reverts once the changes were read since the failure.
    check_cause_named_and_reverted(report, named_first=False)
    assert report.cause is not None
    assert "feature-file" in report.cause.reverted[0].what
    assert report.milestone("declare").real_minutes == 15  # incident call at 11:35


async def test_cloudflare_reverting_the_innocent_deploy_is_called_the_wrong_move(
    tmp_path: Path,
) -> None:
    script = TRUSTING.replace('text = "suspect"', 'text = "latest deploy"').replace(
        'on = "recovered"\nafter = 2', "after = 20"
    )
    report = await drill(tmp_path, "cloudflare-2025", script)

    verdict = report.cause
    assert verdict is not None and verdict.named_minutes is not None
    assert len(verdict.reverted) == 1 and not verdict.reverted_cause
    assert "deploy" in verdict.reverted[0].what
    assert report.still_failing, "reverting the deploy fixed nothing"
    assert "The responder did not revert the right change." in report.files[0].read_text()


async def test_files_com_2023_only_the_two_file_download_fails_and_the_commit_is_reverted(
    tmp_path: Path,
) -> None:
    report = await drill(tmp_path, "files-com-2023", TRUSTING)

    down = {s.text.split()[1] for s in report.signals if s.kind == "probe.down"}
    assert down == {"download-2-files"}, report.signals
    check_cause_named_and_reverted(report)
    assert report.cause is not None and "config" in report.cause.reverted[0].what
    assert report.milestone("mitigate").real_minutes == 13 * 60 + 28
