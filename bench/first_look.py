"""The first judgement on open: `cockpit` started on an access log already holding 30 minutes
(about 40,000 lines) of traffic with a 5xx spike begun 9 minutes ago, in a real pseudo-terminal
at 80x24. Measures the seconds from the first frame (the panels drawn) to the judgement on
screen (DEGRADED and the deploy before the spike marked SUSPECT).

Budget: 2 s from the first frame, every run.

    .venv/bin/python bench/first_look.py [--lines 40000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from pty_harness import PtyRun

from cockpit.timeutil import iso_utc, utcnow
from cockpit.world.accesslog import combined_line

BUDGET_S = 2.0
READ_BACK = 1800
COCKPIT = Path(sys.executable).with_name("cockpit")


def write_world(directory: Path, lines: int) -> Path:
    now = utcnow()
    began = now - timedelta(minutes=9)
    rng = random.Random(7)
    log = directory / "access.log"
    with log.open("w", encoding="utf-8") as out:
        for i in range(lines):
            when = now - timedelta(seconds=READ_BACK * (1 - i / lines))
            path = rng.choice(("/session", "/files/1234", "/report", "/"))
            bad = when >= began and path == "/session" and rng.random() < 0.6
            status = 503 if bad else 500 if path == "/report" and rng.random() < 0.02 else 200
            out.write(
                combined_line(
                    remote_addr="10.0.0.7",
                    when=when,
                    request_line=f"GET {path}?user=u{i % 50} HTTP/1.1",
                    status=status,
                    body_bytes=512,
                    user_agent="sync/2.1",
                )
                + "\n"
            )
    deploys = directory / "deploys.jsonl"
    with deploys.open("w", encoding="utf-8") as out:
        for version, at in (
            ("v1", now - timedelta(hours=5)),
            ("v2", began - timedelta(seconds=30)),
        ):
            record = {"service": "files-web", "version": version, "who": "alice"}
            out.write(json.dumps({**record, "at": iso_utc(at), "summary": version}) + "\n")
    config = directory / "cockpit.toml"
    config.write_text(
        f"""[cockpit]
service = "files-web"

[[deploys]]
name = "deploy-log"
kind = "jsonl"
path = "{deploys}"

[[errors]]
name = "edge"
kind = "nginx_combined"
path = "{log}"
bucket_seconds = 10
window = {READ_BACK}
read_back = {READ_BACK}
""",
        encoding="utf-8",
    )
    return config


def one_run(lines: int) -> tuple[float | None, float | None]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = write_world(directory, lines)
        run = PtyRun(
            [str(COCKPIT), "--config", str(config)],
            cols=80,
            rows=24,
            env={"COCKPIT_DATA_DIR": str(directory / "data")},
        )
        try:
            frame = run.wait_for(lambda t: "Recent deploys" in t and "5xx" in t, 30)
            judged = run.wait_for(lambda t: "DEGRADED" in t and "SUSPECT" in t, 30)
            run.send(b"q")
            run.wait_exit(10)
        finally:
            run.stop()
        return frame, judged


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    worst = 0.0
    for i in range(1, args.runs + 1):
        frame, judged = one_run(args.lines)
        if frame is None or judged is None:
            print(f"run {i}: first frame {frame}, judgement {judged}: MISSED")
            return 1
        gap = max(0.0, judged - frame)
        worst = max(worst, gap)
        print(
            f"run {i}: first frame {frame:.2f} s, judgement {judged:.2f} s after start: "
            f"{gap:.2f} s after the first frame ({args.lines} lines read back)"
        )
    verdict = "ok" if worst <= BUDGET_S else "OVER BUDGET"
    print(
        f"first judgement after the first frame: worst {worst:.2f} s "
        f"vs budget {BUDGET_S} s: {verdict}"
    )
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
