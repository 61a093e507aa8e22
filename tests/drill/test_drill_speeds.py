"""A drill scores the responder, not the tool: at 60x and at 10x an instant scripted responder
gets the same figures (in scenario minutes), close to the best possible, because what the
cockpit needs to notice runs on the drill's clock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cockpit.drill.report import DrillReport
from cockpit.drill.responder import parse_script, run_headless
from cockpit.drill.scenario import BUILTIN_DIR, load_scenario
from cockpit.drill.session import drill_config

INSTANT = """
[[step]]
on = "probe.down"
do = "declare"

[[step]]
do = "revert"

[[step]]
on = "recovered"
do = "status"
text = "mitigated"

[[step]]
after = 5
do = "end"
"""


def short_files_com(tmp_path: Path) -> Path:
    """The Files.com scenario with the deploy a minute in: the same world, a shorter wait."""
    text = (BUILTIN_DIR / "files-com-2024.toml").read_text()
    text = re.sub(r"^name = .*$", 'name = "files-short"', text, flags=re.M)
    text = re.sub(r"^start = .*$", 'start = "2024-08-02T06:50:00-07:00"', text, flags=re.M)
    text = re.sub(r"^end = .*$", 'end = "07:20"', text, flags=re.M)
    text = text.replace('at = "06:52"', 'at = "06:51"').replace(
        'impact_start = "06:52"', 'impact_start = "06:51"'
    )
    # Without the world's Alertmanager: its rule judges real seconds of the world's traffic
    # (as many requests at every speed), so whether an instant responder's revert beats the
    # page, and how long the page takes to resolve, depends on the speed. What is compared
    # here is the cockpit's own noticing (tests/drill/test_drill_page.py drills the page).
    text = text.replace("alertmanager = true", "alertmanager = false")
    path = tmp_path / "files-short.toml"
    path.write_text(text)
    return path


async def drill(tmp_path: Path, speed: float) -> DrillReport:
    scenario = load_scenario(short_files_com(tmp_path))
    return await run_headless(
        scenario, parse_script(INSTANT), data_dir=tmp_path / f"x{speed:g}", speed=speed
    )


async def test_an_instant_responder_scores_the_same_at_60x_and_10x(tmp_path: Path) -> None:
    fast, slow = await drill(tmp_path, 60), await drill(tmp_path, 10)
    figures = {}
    for label in ("detect", "declare", "mitigate", "recover"):
        a, b = fast.milestone(label).minutes, slow.milestone(label).minutes
        assert a is not None and b is not None, (label, fast.milestones, slow.milestones)
        figures[label] = (round(a, 2), round(b, 2))
    print("drill 60x vs 10x, scenario minutes after impact:", figures)
    for label in ("detect", "declare", "mitigate"):
        a, b = figures[label]
        assert abs(a - b) <= 2, (label, figures)
    # Recovery waits for the 5xx spike to end, judged on whole access-log buckets, and a log's
    # clock ticks in seconds: at 60x a bucket cannot be shorter than a scenario minute.
    assert abs(figures["recover"][0] - figures["recover"][1]) <= 3, figures
    for report in (fast, slow):
        best = report.milestone("mitigate").best_minutes or 2
        # An instant responder is within a scenario minute or two of the best possible.
        assert report.milestone("detect").minutes <= 2  # type: ignore[operator]
        assert report.milestone("declare").minutes <= 2  # type: ignore[operator]
        assert report.milestone("mitigate").minutes <= best + 2  # type: ignore[operator]
        markdown = report.files[0].read_text()
        assert "## The cockpit showed it, you acted" in markdown
        # Every clock time the signals quote is on the scenario clock (06:50 to 07:20).
        for signal in report.signals:
            for hour, minute in re.findall(r"\b(\d{2}):(\d{2}):\d{2}\b", signal.text):
                assert (hour, minute) >= ("06", "50") and (hour, minute) <= ("07", "20"), signal


@pytest.mark.parametrize("speed", [1.0, 10.0, 60.0, 600.0])
def test_noticing_scales_with_the_drill_clock(speed: float) -> None:
    from cockpit.config import parse

    base = parse(
        '[[probes]]\nname = "web"\nkind = "http"\nurl = "http://127.0.0.1:9/"\ninterval = 2\n\n'
        '[[errors]]\nname = "edge"\nkind = "nginx_combined"\npath = "/dev/null"\n'
        "bucket_seconds = 10\n",
        None,
        env={},
    )
    config = drill_config(base, speed)
    # A probe round every interval/speed real seconds and a log bucket of bucket/speed, down
    # to their floors: the same scenario time as at 1x wherever the floors allow.
    assert config.probes[0].interval == pytest.approx(max(0.2, 2 / speed))
    assert config.errors[0].bucket_seconds == max(1, round(10 / speed))
    # A spike is judged over at least two real seconds of log, whatever the speed: fewer
    # hold too few requests for a ratio, and a bucket without an error would end it.
    recent = config.detect.spike_recent_buckets
    assert recent * config.errors[0].bucket_seconds >= 2 and recent >= 1
    assert config.detect.verify_minutes * speed >= min(10, 10 * speed)
