"""The bench suite for bastion hosts and slow SSH links (issue 9). Everything runs in a
pseudo-terminal, against a minimal Textual app measured in the same run, and every figure is
printed with its budget and its ratio to that app.

    python bench/run.py            # the full suite, about 6 minutes
    python bench/run.py --quick    # shorter windows, about 2 minutes
    python bench/run.py --only idle,stall

Sections: start (first frame, heavy imports), idle (bytes/s, CPU, RSS at 80x24 and 200x60 with
20 probes), live (every source at 10 s on a log with live traffic, 80x24 to 200x60: bytes/s,
unchanged-cell rewrites, CPU, RSS), world (the same on the demo's world with its SFTP/FTP/WebDAV
twins, the cockpit's CPU apart from the world's), demo (`cockpit demo` as shipped, the cockpit's
figures apart from its world's), tenx (bench/tenx.py: ten times the work), hour (an hour of
data fed fast: RSS and its growth), resize (a SIGWINCH storm), stall (the pty not read for 2 s).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE))

import first_frame  # noqa: E402
import proctree  # noqa: E402
from localworld import LocalWorld  # noqa: E402
from pty_harness import PtyRun, layout_problems  # noqa: E402
from screen_diff import Analysis, analyse  # noqa: E402

COCKPIT = first_frame.COCKPIT
HEAVY = ("sentry_sdk", "pygments", "asyncssh", "httpx", "pyftpdlib", "wsgidav")
BUDGET_BYTES_PER_S = 2048.0
BUDGET_CPU_PCT = 2.0
BUDGET_RSS_MB = 100.0
WORLD_ARGV = (COCKPIT, "world", "--bad-deploy-after", "100000", "--alertmanager")
START_RATIO = first_frame.RATIO_BUDGET  # issue 21: the first full frame against the minimal app


# -- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    what: str
    value: float
    unit: str
    budget: float | None = None  # the value must stay at or under it
    baseline: float | None = None  # the minimal Textual app, same run
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.budget is None else self.value <= self.budget

    def line(self) -> str:
        text = f"{self.what:<46} {self.value:>9.2f} {self.unit:<5}"
        if self.budget is not None:
            text += f" budget {self.budget:>7.2f} {'OK  ' if self.ok else 'OVER'}"
        else:
            text += " " * 21
        if self.baseline is not None:
            ratio = self.value / self.baseline if self.baseline else float("inf")
            text += f"  minimal app {self.baseline:.2f}, ratio {ratio:.2f}"
        if self.note:
            text += f"  {self.note}"
        return text


FIGURES: list[Figure] = []


def report(figure: Figure) -> Figure:
    FIGURES.append(figure)
    print(figure.line(), flush=True)
    return figure


def say(text: str) -> None:
    print(text, flush=True)


# -- runs ------------------------------------------------------------------------------------------


@contextmanager
def pty(
    argv: Sequence[str], cols: int = 80, rows: int = 24, env: dict[str, str] | None = None
) -> Iterator[PtyRun]:
    run = PtyRun(argv, cols=cols, rows=rows, env=env, record=True)
    try:
        yield run
    finally:
        run.stop()


@contextmanager
def local_world(**options: float | int | bool) -> Iterator[tuple[LocalWorld, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        world = LocalWorld(Path(tmp) / "world", **options)  # type: ignore[arg-type]
        with world:
            yield world, {"COCKPIT_DATA_DIR": str(Path(tmp) / "data")}


def probes_live(count: int) -> Callable[[str], bool]:
    """The probes panel shows results: the first probe ok, and no probe row still waiting
    (the panel title counts a probe without a result as up, so it cannot tell)."""
    del count  # every probe row on screen is checked, however many fit
    return lambda text: "ok   svc-00" in text and not _WAITING.search(text) and "Declare" in text


_WAITING = re.compile(r"--\s+svc-\d+")


@dataclass(frozen=True)
class Idle:
    bytes_per_s: float
    cpu_pct: float
    rss_mb: float
    analysis: Analysis
    screen: list[str]


def watch_idle(run: PtyRun, seconds: float) -> Idle:
    """Bytes, CPU and memory of the program while nobody touches it."""
    warmup = b"".join(data for _, data in run.writes)
    run.writes.clear()
    pids = proctree.tree(run.pid)
    cpu0, t0 = proctree.cpu_seconds(pids), time.perf_counter()
    got = run.pump_for(seconds)
    elapsed = time.perf_counter() - t0
    pids = proctree.tree(run.pid)
    cpu = proctree.cpu_seconds(pids) - cpu0
    analysis, screen = analyse(run.writes, run.cols, run.rows, warmup)
    return Idle(got / elapsed, 100 * cpu / elapsed, proctree.rss_mb(pids), analysis, screen)


def minimal_idle(seconds: float, cols: int, rows: int) -> Idle:
    with pty(first_frame.minimal_argv(), cols, rows) as run:
        run.wait_for(first_frame.minimal_ready, 15)
        run.pump_for(1.0)
        return watch_idle(run, seconds)


def top_rows(idle: Idle, count: int = 6) -> str:
    rows = sorted(idle.analysis.rows.items(), key=lambda item: -item[1].bytes)[:count]
    seconds = max(idle.analysis.seconds, 1e-9)
    out = []
    for row, stats in rows:
        shown = idle.screen[row - 1].strip()[:50] if 0 < row <= len(idle.screen) else "(modes)"
        out.append(
            f"      row {row:>2}: {stats.bytes / seconds:6.0f} B/s, {stats.writes} updates, "
            f"{stats.changed} changed it | {shown}"
        )
    return "\n".join(out)


# -- sections --------------------------------------------------------------------------------------


def section_start(quick: bool) -> None:
    say("\n== start")
    frames = first_frame.measure(3 if quick else 5)
    report(
        Figure(
            "demo: first full frame 80x24 (median)",
            frames.demo,
            "s",
            baseline=frames.minimal,
            note=f"ratio budget {first_frame.RATIO_BUDGET}: "
            + ("OK" if frames.ratio <= first_frame.RATIO_BUDGET else "OVER"),
        )
    )
    report(Figure("demo: live probe data on screen (median)", frames.demo_live, "s"))
    with local_world(probes=20) as (world, env):
        shown, live = first_frame.time_to(
            [COCKPIT, "--config", str(world.config)],
            first_frame.full_frame,
            env=env,
            then=probes_live(20),
        )
    report(Figure("20 probes: first full frame", shown or 99.0, "s", baseline=frames.minimal))
    report(Figure("20 probes: all 20 probes on screen", live or 99.0, "s"))
    # Issue 21: 20 probes, 3 deploy sources, 2 access logs and Sentry, alternated with the
    # minimal app so both see the same load; the ratio is of the medians.
    full, minimal = [], []
    for _ in range(3 if quick else 5):
        minimal.append(
            first_frame.time_to(first_frame.minimal_argv(), first_frame.minimal_ready)[0]
        )
        with local_world(probes=20, deploy_sources=3, access_logs=2, sentry=True) as (world, env):
            full.append(
                first_frame.time_to(
                    [COCKPIT, "--config", str(world.config)], first_frame.full_frame, env=env
                )[0]
            )
    base = statistics.median(m or 99.0 for m in minimal)
    frame = statistics.median(f or 99.0 for f in full)
    report(
        Figure(
            "20 probes, 3 deploy logs, 2 access logs, Sentry: first full frame",
            frame,
            "s",
            baseline=base,
            note=f"ratio budget {START_RATIO}: "
            + ("OK" if frame / base <= START_RATIO else "OVER"),
        )
    )
    found = heavy_imports_at_version()
    say(f"   `cockpit --version` imports heavy modules: {', '.join(found) or 'none'}")
    report(Figure("heavy modules imported by --version", len(found), "", budget=0))
    with local_world(probes=20) as (world, env):
        loaded = modules_at_tui_start([COCKPIT, "--config", str(world.config)], env)
    heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
    say(f"   heavy modules in a running TUI (20 http probes): {', '.join(heavy) or 'none'}")
    # The http probe speaks HTTP with h11; with only probes and log files configured, none of
    # the heavy modules is needed to run.
    report(Figure("heavy modules in that TUI", len(heavy), "", budget=0))


def heavy_imports_at_version() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cockpit", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return sorted({n.split(".")[0] for n in names if n.split(".")[0] in HEAVY})


_DUMP_MODULES = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
from cockpit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def modules_at_tui_start(argv: list[str], env: dict[str, str]) -> list[str]:
    """Modules loaded once the TUI shows live data, by a run that quits with `q`."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        command = [sys.executable, "-c", _DUMP_MODULES, out.name, *argv[1:]]
        with pty(command, env=env) as run:
            if run.wait_for(probes_live(20), 20) is None:
                raise RuntimeError("the TUI did not show live probes:\n" + run.text())
            run.send(b"q")
            run.wait_exit(15)
        return Path(out.name).read_text().split()


def section_idle(seconds: float) -> None:
    say(f"\n== idle, {seconds:g} s per window, 20 http probes (10 s interval), deploys, access log")
    for cols, rows in ((80, 24), (200, 60)):
        base = minimal_idle(min(seconds, 20), cols, rows)
        with (
            local_world(probes=20) as (world, env),
            pty([COCKPIT, "--config", str(world.config)], cols, rows, env) as run,
        ):
            run.wait_for(probes_live(20), 30)
            run.pump_for(3.0)  # first rounds and read_back settle
            idle = watch_idle(run, seconds)
        size = f"{cols}x{rows}"
        report(
            Figure(
                f"{size}: terminal output",
                idle.bytes_per_s,
                "B/s",
                BUDGET_BYTES_PER_S,
                base.bytes_per_s,
                note=f"{idle.analysis.wasted_bytes / idle.analysis.seconds:.0f} B/s "
                "rewrote cells unchanged",
            )
        )
        report(Figure(f"{size}: CPU", idle.cpu_pct, "%", BUDGET_CPU_PCT, base.cpu_pct))
        report(Figure(f"{size}: RSS", idle.rss_mb, "MB", BUDGET_RSS_MB, base.rss_mb))
        say("   rows that cost the most:\n" + top_rows(idle))


# Issue 21: bastion intervals (every probe, deploy and 5xx source at 10 s) on a log with live
# traffic, nothing failing.
LIVE_SIZES = ((80, 24, 1024.0), (120, 40, 1536.0), (200, 60, 2048.0))
BUDGET_LIVE_CPU_PCT = 1.5
BUDGET_WASTE_SHARE = 20.0  # % of the bytes that rewrote cells already showing the same


def section_live(seconds: float) -> None:
    say(f"\n== live traffic, {seconds:g} s per window, 20 http probes, all sources at 10 s")
    for cols, rows, budget in LIVE_SIZES:
        base = minimal_idle(min(seconds, 20), cols, rows)
        with (
            local_world(probes=20, errors_interval=10.0, deploys_interval=10.0) as (world, env),
            pty([COCKPIT, "--config", str(world.config)], cols, rows, env) as run,
        ):
            run.wait_for(probes_live(20), 30)
            run.pump_for(3.0)
            idle = watch_idle(run, seconds)
        size = f"{cols}x{rows} live"
        analysis = idle.analysis
        share = 100 * analysis.wasted_bytes / analysis.total_bytes if analysis.total_bytes else 0
        report(
            Figure(f"{size}: terminal output", idle.bytes_per_s, "B/s", budget, base.bytes_per_s)
        )
        report(Figure(f"{size}: unchanged-cell rewrites", share, "%", BUDGET_WASTE_SHARE))
        report(Figure(f"{size}: CPU", idle.cpu_pct, "%", BUDGET_LIVE_CPU_PCT, base.cpu_pct))
        report(Figure(f"{size}: RSS", idle.rss_mb, "MB", BUDGET_RSS_MB, base.rss_mb))
        say("   rows that cost the most:\n" + top_rows(idle))


def _cockpit_and_world(run: PtyRun, world_pid: int | None) -> tuple[list[int], list[int]]:
    """The cockpit's own processes and the drill world's, apart: the demo starts its world as
    a child, whose servers' CPU is not the cockpit's."""
    pids = proctree.tree(run.pid)
    world: list[int] = []
    if world_pid is not None:
        world = proctree.tree(world_pid)
    else:
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"\0-m\0cockpit\0world\0" in cmdline:  # WorldProcess: python -m cockpit world
                world = proctree.tree(pid)
                break
    return [p for p in pids if p not in world], world


def watch_apart(run: PtyRun, seconds: float, world_pid: int | None = None) -> tuple[Idle, float]:
    """Like `watch_idle`, the cockpit's CPU without the world's; also the world's CPU."""
    warmup = b"".join(data for _, data in run.writes)
    run.writes.clear()
    own, world = _cockpit_and_world(run, world_pid)
    cpu0, wcpu0, t0 = proctree.cpu_seconds(own), proctree.cpu_seconds(world), time.perf_counter()
    got = run.pump_for(seconds)
    elapsed = time.perf_counter() - t0
    own, world = _cockpit_and_world(run, world_pid)
    cpu, wcpu = proctree.cpu_seconds(own) - cpu0, proctree.cpu_seconds(world) - wcpu0
    analysis, screen = analyse(run.writes, run.cols, run.rows, warmup)
    idle = Idle(got / elapsed, 100 * cpu / elapsed, proctree.rss_mb(own), analysis, screen)
    return idle, 100 * wcpu / elapsed


@contextmanager
def drill_world(interval: float | None) -> Iterator[tuple[Path, int, dict[str, str]]]:
    """The demo's world (HTTP, FTP, SFTP, WebDAV twins, deploys, access log, Sentry,
    Alertmanager) headless, its config with every interval set to `interval`."""
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as tmp:
        config = Path(tmp) / "cockpit.toml"
        world = subprocess.Popen(
            [*WORLD_ARGV, "--write-config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert world.stdout is not None
            for line in world.stdout:
                if line.startswith("ready"):
                    break
            if interval is not None:
                text = re.sub(
                    r"^interval = .*$", f"interval = {interval:g}", config.read_text(), flags=re.M
                )
                config.write_text(text)
            yield config, world.pid, {"COCKPIT_DATA_DIR": str(Path(tmp) / "data")}
        finally:
            world.terminate()
            world.wait(20)


def section_world(seconds: float) -> None:
    say(f"\n== the demo's world at 10 s intervals (SFTP/FTP/WebDAV twins), {seconds:g} s windows")
    for cols, rows, budget in LIVE_SIZES:
        base = minimal_idle(min(seconds, 20), cols, rows)
        with (
            drill_world(10.0) as (config, world_pid, env),
            pty([COCKPIT, "--config", str(config)], cols, rows, env) as run,
        ):
            run.wait_for(lambda text: "web-health" in text and "Declare" in text, 30)
            run.pump_for(12.0)  # every source polled at least once
            idle, world_cpu = watch_apart(run, seconds, world_pid)
        size = f"{cols}x{rows} world"
        analysis = idle.analysis
        share = 100 * analysis.wasted_bytes / analysis.total_bytes if analysis.total_bytes else 0
        report(
            Figure(f"{size}: terminal output", idle.bytes_per_s, "B/s", budget, base.bytes_per_s)
        )
        report(Figure(f"{size}: unchanged-cell rewrites", share, "%", BUDGET_WASTE_SHARE))
        report(
            Figure(
                f"{size}: CPU of the cockpit",
                idle.cpu_pct,
                "%",
                BUDGET_LIVE_CPU_PCT,
                base.cpu_pct,
                note=f"(the world's servers: {world_cpu:.1f} %)",
            )
        )
        report(Figure(f"{size}: RSS", idle.rss_mb, "MB", BUDGET_RSS_MB, base.rss_mb))


def section_demo(seconds: float) -> None:
    say(f"\n== `cockpit demo` as shipped (2 s intervals), 80x24, {seconds:g} s windows")
    with tempfile.TemporaryDirectory() as data:
        argv = [COCKPIT, "demo", "--bad-deploy-after", "100000"]
        with pty(argv, 80, 24, {"COCKPIT_DATA_DIR": data}) as run:
            run.wait_for(first_frame.full_frame, 30)
            first, world_first = watch_apart(run, 20.0)
            steady, world_steady = watch_apart(run, seconds)
    report(
        Figure(
            "demo, first 20 s after the first frame: output",
            first.bytes_per_s,
            "B/s",
            note=f"({100 * first.analysis.wasted_bytes / max(1, first.analysis.total_bytes):.0f} % "
            "unchanged cells; the world starts and the panels fill)",
        )
    )
    report(Figure("demo, then: terminal output", steady.bytes_per_s, "B/s", 1024.0))
    report(
        Figure(
            "demo, then: CPU of the cockpit",
            steady.cpu_pct,
            "%",
            note=f"(its world's servers: {world_steady:.1f} %; first 20 s: cockpit "
            f"{first.cpu_pct:.1f} %, world {world_first:.1f} %)",
        )
    )


def section_tenx(seconds: float) -> None:
    import tenx

    for via in (False, True):
        name = f"1000x2 {'via Prometheus' if via else 'http probes'}"
        say(f"\n== ten times: {name}, 20,000 log lines/s, 50 deploy sources, 10,000 issues")
        figures = tenx.measure(seconds, 1000, via, 80, 24)
        report(
            Figure(f"{name}: event-loop lag p99", figures["lag_p99"], "ms", tenx.BUDGET_LAG_P99_MS)
        )
        report(Figure(f"{name}: CPU of the cockpit", figures["cpu"], "%", tenx.BUDGET_CPU_PCT))
        report(Figure(f"{name}: RSS", figures["rss"], "MB", tenx.BUDGET_RSS_MB))
        report(Figure(f"{name}: terminal output", figures["bytes_per_s"], "B/s"))
        usable = not figures["problems"] and figures["summarised"]
        report(Figure(f"{name}: screen unusable", 0.0 if usable else 1.0, "", 0.0))


def section_hour(seconds: float) -> None:
    # An hour of access log read back at start, and probes every 0.2 s: 20 probes x 360 rounds
    # (an hour at a 10 s interval) in 72 s.
    say(f"\n== hour-equivalent: 1 h of access log read back, 20 probes every 0.2 s, {seconds:g} s")
    with (
        local_world(probes=20, probe_interval=0.2, errors_interval=0.5) as (world, env),
        pty([COCKPIT, "--config", str(world.config)], env=env) as run,
    ):
        run.wait_for(probes_live(20), 30)
        pids = proctree.tree(run.pid)
        samples: list[tuple[float, float]] = []
        t0 = time.perf_counter()
        cpu0 = proctree.cpu_seconds(pids)
        while (elapsed := time.perf_counter() - t0) < seconds:
            run.pump_for(min(2.0, seconds - elapsed))
            samples.append((time.perf_counter() - t0, proctree.rss_mb(pids)))
        cpu = proctree.cpu_seconds(pids) - cpu0
        peak = proctree.rss_mb(pids, "VmHWM")
    half = [rss for t, rss in samples if t >= seconds / 2]
    first_half = [rss for t, rss in samples if t < seconds / 2]
    say(
        "   RSS over time: "
        + " ".join(f"{rss:.0f}" for _, rss in samples[:: max(1, len(samples) // 12)])
    )
    report(Figure("RSS at the end", samples[-1][1], "MB", BUDGET_RSS_MB))
    report(Figure("peak RSS", peak, "MB", BUDGET_RSS_MB))
    growth = (max(half) - max(first_half)) if half and first_half else 0.0
    report(Figure("RSS growth, 2nd half over 1st half", growth, "MB", 5.0))
    report(Figure("CPU while polling 100 probes/s", 100 * cpu / seconds, "%"))


def section_resize(count: int) -> None:
    say(f"\n== resize storm: {count} SIGWINCH 20 ms apart, ending at 80x24")
    sizes = [(120, 40), (60, 20), (200, 60), (100, 30), (81, 25)]
    with (
        local_world(probes=20) as (world, env),
        pty([COCKPIT, "--config", str(world.config)], env=env) as run,
    ):
        run.wait_for(probes_live(20), 30)
        run.pump_for(1.0)
        before = run.bytes_read
        t0 = time.perf_counter()
        for i in range(count):
            run.resize(*sizes[i % len(sizes)])
            run.pump_for(0.02)
        run.resize(80, 24)
        storm = time.perf_counter() - t0
        settled = run.wait_for(lambda _: not layout_problems(run.screen.display), 10)
        readable = (time.perf_counter() - t0 - storm) if settled is not None else 99.0
        run.pump_for(1.0)
        problems = layout_problems(run.screen.display)
        say(f"   after the storm: {'readable' if not problems else '; '.join(problems)}")
        if problems:
            say("   screen 1 s after it was readable:\n" + run.text())
        report(Figure("readable again after the last resize", readable, "s", 2.0))
        report(Figure("bytes written during the storm", (run.bytes_read - before) / 1024, "KB"))
        report(Figure("layout problems 1 s later", len(problems), "", 0))


def section_stall(stall: float) -> None:
    say(f"\n== stall: the pty not read for {stall:g} s (an SSH link that stops)")
    with (
        local_world(probes=20, probe_interval=1.0) as (world, env),
        pty([COCKPIT, "--config", str(world.config)], env=env) as run,
    ):
        run.wait_for(probes_live(20), 30)
        run.pump_for(2.0)
        normal = run.pump_for(stall)
        rss0 = proctree.rss_mb(proctree.tree(run.pid))
        time.sleep(stall)  # the stall: nobody reads
        t0 = time.perf_counter()
        queued = 0
        while got := run.pump(0.1):  # what waited in the pty and the app's queue
            queued += got
        drained = time.perf_counter() - t0
        rss1 = proctree.rss_mb(proctree.tree(run.pid))
        run.send(b"?")  # still answering keys?
        helped = run.wait_for(lambda text: "Help" in text and "declare" in text.lower(), 10)
        run.send(b"\x1b")
        back = run.wait_for(lambda _: not layout_problems(run.screen.display), 10)
        problems = layout_problems(run.screen.display) if helped else ["no help screen"]
        if back is None:
            say("   screen:\n" + run.text())
    report(
        Figure(
            f"bytes queued by a {stall:g} s stall",
            queued / 1024,
            "KB",
            64.0,
            note=f"(normal {stall:g} s: {normal / 1024:.1f} KB; drained in {drained:.2f} s)",
        )
    )
    report(Figure("RSS change across the stall", rss1 - rss0, "MB", 5.0))
    report(Figure("keys answered after the stall", 0.0 if helped else 1.0, "", 0.0))
    say(f"   screen after the stall: {'; '.join(problems) or 'readable'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="start,idle,live,world,demo,tenx,hour,resize,stall")
    args = parser.parse_args()
    only = set(args.only.split(","))
    quick = args.quick
    os.environ.pop("NO_COLOR", None)
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, cockpit at {COCKPIT}")
    if "start" in only:
        section_start(quick)
    if "idle" in only:
        section_idle(20.0 if quick else 60.0)
    if "live" in only:
        section_live(20.0 if quick else 60.0)
    if "world" in only:
        section_world(20.0 if quick else 60.0)
    if "demo" in only:
        section_demo(20.0 if quick else 60.0)
    if "tenx" in only:
        section_tenx(30.0 if quick else 60.0)
    if "hour" in only:
        section_hour(30.0 if quick else 72.0)
    if "resize" in only:
        section_resize(50)
    if "stall" in only:
        section_stall(2.0)
    over = [f for f in FIGURES if f.ok is False]
    say(f"\n{len(FIGURES)} figures, {len(over)} over budget" + (":" if over else ""))
    for figure in over:
        say("  " + figure.line())


if __name__ == "__main__":
    main()
