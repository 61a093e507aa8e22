"""Time to the first full frame of `cockpit demo` in an 80x24 pseudo-terminal.

Budget (issue: walking skeleton): first full frame within 1.0 s. Also reported: the first frame
of a minimal Textual app measured in the same run, and the time until live data is on screen.

    python bench/first_frame.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pty_harness import PtyRun  # shared with the tests

BUDGET_S = 1.0
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Footer, Static
class Minimal(App):
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Static("minimal ready")
        yield Footer()
Minimal().run()
"""


def full_frame(text: str) -> bool:
    return all(word in text for word in ("Probes", "deploys", "5xx", "Sentry", "Timeline", "Quit"))


def live_data(text: str) -> bool:
    return "web-health" in text and "fresh" in text


def measure(runs: int) -> None:
    minimal, first, live = [], [], []
    cockpit = Path(sys.executable).with_name("cockpit")
    for _ in range(runs):
        run = PtyRun([sys.executable, "-c", MINIMAL_APP])
        minimal.append(run.wait_for(lambda t: "minimal ready" in t and "Quit" in t, 10) or 99)
        run.stop()
        with tempfile.TemporaryDirectory() as data:
            run = PtyRun([str(cockpit), "demo"], env={"COCKPIT_DATA_DIR": data})
            first.append(run.wait_for(full_frame, 10) or 99)
            live.append(run.wait_for(live_data, 15) or 99)
            run.stop()
    med_min, med_first, med_live = (statistics.median(x) for x in (minimal, first, live))
    print(f"minimal Textual app, first frame : {med_min:.3f} s (median of {runs})")
    print(
        f"cockpit demo, first full frame   : {med_first:.3f} s  budget {BUDGET_S:.1f} s  "
        f"{'OK' if med_first <= BUDGET_S else 'OVER'}  ratio to minimal {med_first / med_min:.2f}"
    )
    print(f"cockpit demo, live data on screen: {med_live:.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    measure(parser.parse_args().runs)
