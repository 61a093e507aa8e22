"""Which screen rows a terminal program rewrites, how many bytes each costs, and whether the
rewrite changed anything a user could see.

Textual positions the cursor (CSI row;col H) before every run of cells it updates, so the bytes
between one cursor move and the next belong to that row. Feeding the same bytes, write by
write, to a pyte screen tells whether the row's cells (characters and their colours) changed.

    python bench/screen_diff.py --seconds 20 --until web-health -- cockpit demo
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyte

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from pty_harness import PtyRun  # shared with the tests

_CUP = re.compile(rb"\x1b\[(\d+);(\d+)H")


def bytes_per_row(data: bytes, row: int = 0) -> tuple[Counter[int], int]:
    """Bytes written after each cursor move, by 1-based row, starting on `row` (0: before any
    move, e.g. mode switches); also the row the cursor is on at the end."""
    rows: Counter[int] = Counter()
    start = 0
    for match in _CUP.finditer(data):
        rows[row] += match.start() - start
        row, start = int(match.group(1)), match.start()
    rows[row] += len(data) - start
    return rows, row


def updates(writes: list[tuple[float, bytes]], gap: float = 0.01) -> list[tuple[float, bytes]]:
    """Reads that came within `gap` of each other joined: one screen update arrives in
    several reads of the pty (a read returns at most 4 KB or so)."""
    joined: list[tuple[float, bytes]] = []
    last = float("-inf")
    for when, data in writes:
        if joined and when - last <= gap:
            joined[-1] = (joined[-1][0], joined[-1][1] + data)
        else:
            joined.append((when, data))
        last = when
    return joined


def _cells(screen: pyte.Screen, y: int) -> tuple[tuple[str, str, str, bool, bool], ...]:
    line = screen.buffer[y]
    return tuple(
        (c.data, c.fg, c.bg, c.bold, c.reverse) for c in (line[x] for x in range(screen.columns))
    )


@dataclass
class RowStats:
    bytes: int = 0
    writes: int = 0  # writes that touched the row
    changed: int = 0  # ... of which changed what the row shows
    wasted: int = 0  # bytes of writes that left the row exactly as it was


@dataclass
class Analysis:
    seconds: float
    total_bytes: int
    rows: dict[int, RowStats] = field(default_factory=dict)

    @property
    def wasted_bytes(self) -> int:
        """Bytes of rewrites that left their row exactly as it was."""
        return sum(s.wasted for s in self.rows.values())

    def table(self, text: list[str] | None = None) -> str:
        lines = [
            f"{'row':>3} {'B/s':>7} {'waste':>6} {'writes':>6} {'changed':>7}  screen at the end",
        ]
        for row in sorted(self.rows):
            s = self.rows[row]
            shown = text[row - 1][:60] if text and 0 < row <= len(text) else ""
            rate = s.bytes / self.seconds if self.seconds else 0.0
            waste = s.wasted / self.seconds if self.seconds else 0.0
            lines.append(
                f"{row:>3} {rate:>7.0f} {waste:>6.0f} {s.writes:>6} {s.changed:>7}  {shown}"
            )
        return "\n".join(lines)


def analyse(
    writes: list[tuple[float, bytes]], cols: int, rows: int, warmup: bytes = b""
) -> tuple[Analysis, list[str]]:
    """Per-row bytes and changes over timed writes; `warmup` is fed first, uncounted, so the
    screen holds what was on it when the recording started."""
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    stream.feed(warmup)
    seconds = writes[-1][0] - writes[0][0] if len(writes) > 1 else 0.0
    result = Analysis(seconds=seconds, total_bytes=sum(len(d) for _, d in writes))
    row = 0
    for _, data in updates(writes):
        touched, row = bytes_per_row(data, row)
        before = {y: _cells(screen, y - 1) for y in touched if 0 < y <= rows}
        stream.feed(data)
        for y, count in touched.items():
            stats = result.rows.setdefault(y, RowStats())
            stats.bytes += count
            stats.writes += 1  # one update, however many reads it took
            if y in before and _cells(screen, y - 1) != before[y]:
                stats.changed += 1
            else:
                stats.wasted += count
    return result, list(screen.display)


def record(
    argv: list[str],
    *,
    cols: int,
    rows: int,
    seconds: float,
    ready: Callable[[str], bool],
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> tuple[Analysis, list[str]]:
    """Run argv in a pty until `ready(screen)`, then record `seconds` of its writes."""
    run = PtyRun(argv, cols=cols, rows=rows, env=env, record=True)
    try:
        if run.wait_for(ready, timeout) is None:
            raise RuntimeError(f"not ready within {timeout:g}s:\n{run.text()}")
        warmup = b"".join(data for _, data in run.writes)
        run.writes.clear()
        run.pump_for(seconds)
        return analyse(run.writes, cols, rows, warmup)
    finally:
        run.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--until", default="", help="text on screen that marks it ready")
    parser.add_argument("argv", nargs="+", help="the command (after --)")
    args = parser.parse_args()
    analysis, text = record(
        args.argv,
        cols=args.cols,
        rows=args.rows,
        seconds=args.seconds,
        ready=lambda screen: args.until in screen,
    )
    print(analysis.table(text))
    rate = analysis.total_bytes / max(analysis.seconds, 1e-9)
    waste = analysis.wasted_bytes / max(analysis.seconds, 1e-9)
    print(
        f"total {rate:.0f} B/s over {analysis.seconds:.1f} s; rewrites that changed nothing: "
        f"{waste:.0f} B/s"
    )


if __name__ == "__main__":
    main()
