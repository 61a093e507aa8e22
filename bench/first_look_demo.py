"""`cockpit demo` as a user starts it, N times in a row: a real pseudo-terminal at 80x24 with the
README's timing (the bad deploy 20 s after start). Each run must show, within 40 s of start,
the three `-x4` probes called out as failing only under concurrency, BLIND SPOT on the Sentry
panel and the bad deploy as SUSPECT. Prints each run's times and the count of runs that did.

    .venv/bin/python bench/first_look_demo.py [--runs 20] [--budget 40]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from pty_harness import PtyRun

COCKPIT = Path(sys.executable).with_name("cockpit")
X4 = ("ftp-login-x4", "sftp-list-x4", "webdav-propfind-x4")


def signals(screen: str) -> dict[str, bool]:
    found = {
        name: re.search(rf"FAIL {re.escape(name)}\s+1/4 concur", screen) is not None for name in X4
    }
    found["BLIND SPOT"] = "BLIND SPOT" in screen
    # the bad deploy is the demo's second of the day (version ...-2), alice's
    found["SUSPECT"] = re.search(r"deploy \S+-2\b.*SUSPECT", screen) is not None
    return found


def one_run(budget: float) -> tuple[bool, float | None, str]:
    with tempfile.TemporaryDirectory() as data:
        run = PtyRun([str(COCKPIT), "demo"], cols=80, rows=24, env={"COCKPIT_DATA_DIR": data})
        try:
            took = run.wait_for(lambda t: all(signals(t).values()), budget)
            screen = run.text()
            run.send(b"q")
            run.wait_exit(15)
        finally:
            run.stop()
        return took is not None, took, screen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--budget", type=float, default=40.0)
    args = parser.parse_args()
    passed = 0
    for i in range(1, args.runs + 1):
        ok, elapsed, screen = one_run(args.budget)
        passed += ok
        figure = f"{elapsed:.1f} s" if elapsed is not None else "missed"
        print(f"run {i:2}: all signals on screen after {figure} (budget {args.budget:.0f} s)")
        if not ok:
            print(screen)
            print({k: v for k, v in signals(screen).items() if not v})
    print(f"{passed}/{args.runs} runs showed every signal within {args.budget:.0f} s")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
