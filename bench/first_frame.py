"""Time to the first full frame of `cockpit demo` in an 80x24 pseudo-terminal.

Budget (issue 21; issue 9 asked 1.5): the first full frame within 1.3 times the first frame of a
minimal Textual app measured in the same run. The package's bytecode is compiled first, as an
install does: Textual's is, and a start that compiles our sources (PYTHONDONTWRITEBYTECODE on an
editable install) would measure the compiler. Also reported: the time until live data is on
screen. `bench/run.py` runs this with the rest of the suite.

    python bench/first_frame.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from pty_harness import PtyRun  # shared with the tests

RATIO_BUDGET = 1.3
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
COCKPIT = str(Path(sys.executable).with_name("cockpit"))


def minimal_argv() -> list[str]:
    return [sys.executable, "-c", MINIMAL_APP]


def minimal_ready(text: str) -> bool:
    return "minimal ready" in text and "Quit" in text


FRAME_WORDS = ("Probes", "Changes", "5xx", "Sentry", "Timeline", "Declare")  # last: the footer


def full_frame(text: str) -> bool:
    return all(word in text for word in FRAME_WORDS)


def live_data(text: str) -> bool:
    return "web-health" in text and "fresh" in text


def time_to(
    argv: Sequence[str],
    ready: Callable[[str], bool],
    *,
    env: Mapping[str, str] | None = None,
    then: Callable[[str], bool] | None = None,
    timeout: float = 15.0,
) -> tuple[float | None, float | None]:
    """Seconds until `ready(screen)`, and (optionally) until `then(screen)` after it."""
    run = PtyRun(argv, env=env)
    try:
        first = run.wait_for(ready, timeout)
        later = run.wait_for(then, timeout) if then is not None and first is not None else None
        return first, later
    finally:
        run.stop()


@dataclass(frozen=True)
class FirstFrames:
    runs: int
    minimal: float  # medians, seconds
    demo: float
    demo_live: float

    @property
    def ratio(self) -> float:
        return self.demo / self.minimal


def compile_bytecode() -> None:
    """What `pip install` does for a package: every module's bytecode written beforehand."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in ("cockpit", "widgets"):
        compileall.compile_dir(root / package, quiet=1)


def measure(runs: int) -> FirstFrames:
    """Alternate minimal app and demo, so both see the same machine load."""
    compile_bytecode()
    minimal, first, live = [], [], []
    for _ in range(runs):
        minimal.append(time_to(minimal_argv(), minimal_ready)[0] or 99.0)
        with tempfile.TemporaryDirectory() as data:
            shown, fed = time_to(
                [COCKPIT, "demo"], full_frame, env={"COCKPIT_DATA_DIR": data}, then=live_data
            )
            first.append(shown or 99.0)
            live.append(fed or 99.0)
    return FirstFrames(
        runs, statistics.median(minimal), statistics.median(first), statistics.median(live)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    frames = measure(parser.parse_args().runs)
    verdict = "OK" if frames.ratio <= RATIO_BUDGET else "OVER"
    print(f"minimal Textual app, first frame : {frames.minimal:.3f} s (median of {frames.runs})")
    print(
        f"cockpit demo, first full frame   : {frames.demo:.3f} s  ratio to minimal "
        f"{frames.ratio:.2f}  budget {RATIO_BUDGET}  {verdict}"
    )
    print(f"cockpit demo, live data on screen: {frames.demo_live:.3f} s")


if __name__ == "__main__":
    main()
