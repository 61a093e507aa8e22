"""Scenario and responder files: built-ins load, mistakes are file:line: key: message (exit 2),
the user's own directory adds and replaces scenarios, and the compressed clock maps both ways."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.config.base import ConfigError
from cockpit.drill.responder import parse_script
from cockpit.drill.scenario import (
    BUILTIN_DIR,
    clock_at,
    find_scenario,
    load_scenario,
    parse_scenario,
    scenario_files,
)
from cockpit.drill.schedule import DrillClock, plan

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name = "mine"
title = "My drill"
start = "2024-01-05T23:00:00-05:00"
end = "+1d 01:00"
speed = 120

[[schedule]]
at = "23:30"
fault = "bad_deploy"

[reference]
impact_start = "23:30"
declared = "+1d 00:10"
mitigated = "+1d 00:20"

[best]
mitigated = 5
"""


def test_builtin_scenarios_load_with_their_real_timings() -> None:
    files = scenario_files({})
    assert {"files-com-2024", "dropbox-2014", "slow-dependency"} <= set(files)
    files_com = load_scenario(files["files-com-2024"])
    assert [s.fault for s in files_com.schedule] == ["bad_deploy"]
    assert files_com.schedule[0].at.strftime("%H:%M") == "06:52"
    assert files_com.real_minutes("declared") == 43
    assert files_com.real_minutes("mitigated") == 49
    assert files_com.best["mitigated"] == 2
    assert set(files_com.protocols) == {"sftp", "ftp", "webdav"}
    dropbox = load_scenario(files["dropbox-2014"])
    assert [s.fault for s in dropbox.schedule] == ["maintenance_dry_run", "db_reinstall"]
    assert dropbox.cause is not None and dropbox.cause.kind == "maintenance"
    assert dropbox.real_minutes("mitigated") == 180  # "most functionality three hours later"
    assert dropbox.real_minutes("declared") is None  # not published
    slow = load_scenario(files["slow-dependency"])
    assert [s.fault for s in slow.schedule] == ["slow_dependency", "restore"]
    assert slow.cause is None  # nothing changed: no change to blame


def test_the_change_drills_keep_their_causes_and_public_timings() -> None:
    files = scenario_files({})
    datadog = load_scenario(files["datadog-2023"])
    assert [s.fault for s in datadog.schedule] == ["package_upgrade"]
    assert datadog.real_minutes("detected") == 3  # alerted three minutes after the trigger
    assert datadog.cause is not None and datadog.cause.hosts == ("node-2", "node-4")
    assert "datadoghq.com" in datadog.reference_source
    cloudflare = load_scenario(files["cloudflare-2025"])
    assert [s.fault for s in cloudflare.schedule] == [
        "permission_change",
        "deploy",
        "bad_feature_file",
    ]
    # the permission change is 15 minutes before the impact; the deploy lands in between
    assert cloudflare.clock("11:20") - cloudflare.schedule[0].at == timedelta(minutes=15)
    assert cloudflare.real_minutes("mitigated") == 190
    assert "blog.cloudflare.com" in cloudflare.reference_source
    files_com = load_scenario(files["files-com-2023"])
    assert files_com.cause is not None and files_com.cause.kind == "config"
    assert files_com.real_minutes("mitigated") == 13 * 60 + 28  # 17:14 to 06:42 next day
    assert "status.files.com" in files_com.reference_source


def test_a_cause_must_say_what_it_names() -> None:
    base = GOOD + '\n[cause]\nwhat = "x"\n'
    with pytest.raises(ConfigError, match=r"cause: name the cause"):
        parse_scenario(base)
    scenario = parse_scenario(base + 'kind = "package"\nsubjects = ["systemd"]\n')
    assert scenario.cause is not None
    assert scenario.cause.matches(kind="package", subject="systemd", host="h", source="s")
    assert not scenario.cause.matches(kind="package", subject="udev", host="h", source="s")


def test_clock_values_cross_midnight_in_the_incidents_offset() -> None:
    scenario = parse_scenario(GOOD)
    assert scenario.end == datetime(2024, 1, 6, 1, 0, tzinfo=scenario.start.tzinfo)
    assert scenario.real_minutes("declared") == 40
    assert scenario.real_minutes("mitigated") == 50
    assert clock_at(scenario.start, "23:30:15").second == 15


def test_the_compressed_clock_maps_both_ways() -> None:
    scenario = parse_scenario(GOOD)
    real = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    clock = DrillClock(scenario.start, real, 120.0)
    due = plan(clock, scenario.schedule)
    # 30 scenario minutes at 120x are 15 real seconds
    assert due[0].real_at == real + timedelta(seconds=15)
    assert clock.scenario_at(due[0].real_at) == scenario.schedule[0].at
    assert DrillClock.from_json(clock.to_json()) == clock


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (('fault = "bad_deploy"', 'fault = "bad_deplyo"'), ":9: schedule[0].fault: unknown fault"),
        (('at = "23:30"', 'at = "25:30"'), ":8: schedule[0].at: expected a time"),
        (("speed = 120", "speed = 0"), ":5: speed:"),
        (("speed = 120", 'speed = "fast"'), ":5: speed: expected a number"),
        (('end = "+1d 01:00"', 'end = "22:00"'), ":4: end: must be after the start"),
        (('at = "23:30"', 'at = "+1d 02:00"'), ":8: schedule[0].at: must be between"),
        (('start = "2024-01-05T23:00:00-05:00"', 'start = "2024-01-05T23:00:00"'), ":3: start:"),
        (('declared = "+1d 00:10"', 'declared = "22:00"'), ":13: reference.declared: earlier"),
        (("mitigated = 5", "mitigatd = 5"), ":17: best.mitigatd: unknown key"),
        (('title = "My drill"\n', ""), "title: missing required key"),
    ],
)
def test_mistakes_name_file_line_and_key(change: tuple[str, str], where: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as caught:
        parse_scenario(text, Path("mine.toml"))
    assert str(caught.value).startswith("mine.toml")
    assert where in str(caught.value), str(caught.value)


def test_name_must_match_file(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text(GOOD)
    with pytest.raises(ConfigError, match=r"other.toml:1: name: must match the file name"):
        load_scenario(path)


def test_user_scenarios_join_and_replace_builtins(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD)
    override = (BUILTIN_DIR / "dropbox-2014.toml").read_text().replace("speed = 60", "speed = 6")
    (tmp_path / "dropbox-2014.toml").write_text(override)
    env = {"COCKPIT_SCENARIOS": str(tmp_path)}
    assert scenario_files(env)["mine"] == tmp_path / "mine.toml"
    assert find_scenario("mine", env).speed == 120
    assert find_scenario("dropbox-2014", env).speed == 6
    with pytest.raises(LookupError, match="no scenario 'nope'"):
        find_scenario("nope", env)


def test_responder_scripts_are_checked_too() -> None:
    script = parse_script('[[step]]\non = "concurrency"\ndo = "declare"\n\n[[step]]\ndo = "end"\n')
    assert [s.do for s in script.steps] == ["declare", "end"]
    with pytest.raises(ConfigError, match=r"s.toml:2: step\[0\].on: one of"):
        parse_script('[[step]]\non = "concurency"\ndo = "declare"\n', Path("s.toml"))
    with pytest.raises(ConfigError, match=r"step\[0\].text: note needs text"):
        parse_script('[[step]]\ndo = "note"\n')
    with pytest.raises(ConfigError, match=r"step\[0\].at: wait for an event"):
        parse_script('[[step]]\non = "probe.down"\nat = "07:00"\ndo = "declare"\n')


def run_cli(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )


def test_cli_lists_scenarios_and_refuses_broken_ones(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD.replace('fault = "bad_deploy"', "fault = 3"))
    env = {"COCKPIT_SCENARIOS": str(tmp_path), "COCKPIT_DATA_DIR": str(tmp_path / "data")}
    listed = run_cli("drill", "list", env_extra={**env, "COLUMNS": "80"})
    assert "files-com-2024" in listed.stdout and "dropbox-2014" in listed.stdout
    # At 80 columns the titles wrap under their own column (a path or an error may not).
    long = [x for x in listed.stdout.splitlines() if len(x) > 80 and "/" not in x]
    assert not long, long
    for name in ("datadog-2023", "cloudflare-2025", "files-com-2023"):
        (line,) = [x for x in listed.stdout.splitlines() if x.startswith(name + " ")]
        assert len(line.split(None, 1)[1]) > 20, line  # with its one-line description
    assert "mine" in listed.stdout and "(broken)" in listed.stdout
    assert listed.returncode == 2
    run = run_cli("drill", "run", "mine", "--headless", "--responder", "x", env_extra=env)
    assert run.returncode == 2
    assert f"{tmp_path / 'mine.toml'}:9: schedule[0].fault: expected a string" in run.stderr
    unknown = run_cli("drill", "run", "nope", env_extra=env)
    assert unknown.returncode == 2 and "no scenario 'nope'" in unknown.stderr
    faults = run_cli("drill", "faults", env_extra=env)
    assert faults.returncode == 0 and "db_reinstall" in faults.stdout


def test_drill_faults_are_the_worlds() -> None:
    from cockpit.drill.scenario import FAULTS
    from cockpit.world.world import FAULTS as WORLD_FAULTS

    assert set(FAULTS) == set(WORLD_FAULTS)
