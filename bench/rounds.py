"""What one poll of each source of the drill world costs this process: CPU milliseconds per
round (the world's servers run in a process of their own and are not counted), run one round
at a time so that nothing else shares the figure.

    python bench/rounds.py [--rounds 20]

Issue 21 asks what each probe round costs; at bastion intervals (10 s) every source of the
demo's world together costs the sum of its lines every 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cockpit.config.loader import load
from cockpit.sources.registry import build_sources

COCKPIT = str(Path(sys.executable).with_name("cockpit"))


def start_world(directory: Path) -> tuple[subprocess.Popen[str], Path]:
    config = directory / "cockpit.toml"
    world = subprocess.Popen(
        [COCKPIT, "world", "--write-config", str(config), "--bad-deploy-after", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert world.stdout is not None
    for line in world.stdout:
        if line.startswith("ready"):
            return world, config
    raise RuntimeError("the world did not start")


async def measure(config: Path, rounds: int) -> list[tuple[str, str, float, float]]:
    out = []
    for source in build_sources(load(config).sources()):
        prepare = getattr(source, "prepare", None)
        if prepare is not None:
            await prepare()
        await source.poll()  # the first round opens files, reads back, warms caches
        cpu: list[float] = []
        wall: list[float] = []
        for _ in range(rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            await source.poll()
            cpu.append(1000 * (time.process_time() - c0))
            wall.append(1000 * (time.perf_counter() - w0))
        concurrency = getattr(source.cfg, "concurrency", 1)
        kind = f"{source.kind} x{concurrency}" if concurrency > 1 else source.kind
        out.append((source.name, kind, statistics.median(cpu), statistics.median(wall)))
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cockpit-rounds-") as tmp:
        world, config = start_world(Path(tmp))
        try:
            figures = asyncio.run(measure(config, args.rounds))
        finally:
            world.terminate()
            world.wait(10)
    print(f"{'source':<20} {'kind':<14} {'CPU ms/round':>12} {'wall ms':>8}")
    for name, kind, cpu, wall in figures:
        print(f"{name:<20} {kind:<14} {cpu:>12.2f} {wall:>8.1f}")
    total = sum(cpu for _, _, cpu, _ in figures)
    print(f"all sources once: {total:.1f} ms CPU; at 10 s intervals {total / 100:.2f} % of a core")


if __name__ == "__main__":
    main()
