"""The responder script format as the README documents it, and the command line pointing there
when a headless drill is started without one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cockpit.drill.responder import SHOWN_KINDS, parse_script

REPO = Path(__file__).resolve().parents[2]


def _readme_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("### Responder scripts\n")
    return text[start : text.index("\n## ", start)]


def test_the_readmes_example_script_parses_and_waits_for_the_page() -> None:
    section = _readme_section()
    (example,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    script = parse_script(example)
    assert [(s.on, s.do, s.text) for s in script.steps] == [
        ("alert.firing", "declare", ""),
        ("suspect", "revert", "suspect"),
        ("recovered", "end", ""),
    ]
    # Every kind a step may wait for is listed in the README's table.
    for kind in SHOWN_KINDS:
        assert f"`{kind}`" in section, kind


def test_headless_without_a_responder_says_where_the_format_is(tmp_path: Path) -> None:
    env = {**os.environ, "COCKPIT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "cockpit", "drill", "run", "files-com-2024", "--headless"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--headless needs --responder SCRIPT.toml" in done.stderr
    assert "README.md, 'Responder scripts' under 'Drills'" in done.stderr
    assert "### Responder scripts" in (REPO / "README.md").read_text(encoding="utf-8")
