"""5xx panel: rates, baseline, the graph with deploy / declared / mitigated markers on a local
time axis, zoom, and an ASCII-only rendering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from pilot_wait import shown_rows, shown_text
from textual.app import App, ComposeResult

from cockpit.config import AccessLogConfig
from cockpit.detect.detector import Assessment
from cockpit.detect.spikes import Spike
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Deploy,
    ErrorBucket,
    ErrorSeries,
    Freshness,
    Incident,
    IncidentStatus,
    SourceStatus,
)
from cockpit.runtime import View
from cockpit.sources.logs.access_log import AccessLogTail
from cockpit.timeutil import local_hm, local_hms
from cockpit.view.graph import columns
from widgets.glyphs import ASCII, UNICODE
from widgets.graph import axis_labels
from widgets.panels import ErrorsPanel

END = datetime(2024, 8, 2, 14, 30, tzinfo=UTC)
BUCKET = 10


def view() -> View:
    # 30 minutes of 10 s buckets; 5xx from 14:20 on; the bucket at END is still filling.
    buckets = []
    for i in range(180, -1, -1):
        start = END - timedelta(seconds=BUCKET * i)
        errors = 30 if start >= END - timedelta(minutes=10) else 0
        buckets.append(ErrorBucket(start, 100, errors))
    series = ErrorSeries("edge", BUCKET, tuple(buckets), unparsed_lines=3)
    deploy = Deploy("files-web", "v2", "alice", END - timedelta(minutes=11), "pooled", "log")
    declared = END - timedelta(minutes=6)
    mitigated = END - timedelta(minutes=2)
    incident = Incident(1, "t", "SEV2", "alice", IncidentStatus.MITIGATED, declared)
    spike = Spike("edge", END - timedelta(minutes=10), 0.3, END, BUCKET, 0.001)
    status = SourceStatus("edge", "nginx_combined", Category.ERRORS, Freshness.FRESH, END)
    snapshot = Snapshot(END, 1, {"edge": status}, {"edge": series})
    assessment = Assessment(deploys=(deploy,), spikes=(spike,), degraded=True)
    return View(
        snapshot,
        assessment,
        incident,
        (),
        {IncidentStatus.INVESTIGATING: declared, IncidentStatus.MITIGATED: mitigated},
    )


class Host(App[None]):
    def __init__(self, ascii_only: bool) -> None:
        super().__init__()
        self.ascii_only = ascii_only

    def compose(self) -> ComposeResult:
        yield ErrorsPanel(ascii_only=self.ascii_only, id="errors")


def test_columns_sum_buckets_into_the_window() -> None:
    sums, step = columns([0, 10, 20, 30, 95], [1, 2, 3, 4, 9], end=100, span=40, width=4)
    assert step == 10 and sums == [0, 0, 0, 9]  # 60..100 only: the bucket at 95
    sums, _ = columns([60, 65, 70, 90], [1, 2, 3, 4], end=100, span=40, width=2)
    assert sums == [6, 4]


def test_axis_labels_stay_inside_and_apart() -> None:
    row = axis_labels(20, [(0, "14:00"), (3, "14:15"), (15, "14:30")])
    assert row.startswith("14:00 14:15") and row.endswith("14:30") and len(row) == 20
    assert axis_labels(8, [(0, "14:00"), (6, "14:30")]) == "14:00   "


async def test_graph_marks_the_deploy_declared_and_mitigated_on_local_time() -> None:
    app = Host(ascii_only=False)
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(ErrorsPanel)
        v = view()
        panel.show(v)
        await pilot.pause()
        lines = shown_rows(panel)
        text = "\n".join(lines)
        assert panel.border_title == "5xx · 30 min"
        assert lines[0].startswith("30.0% 3.0/s of 10.0 req/s base 0.1%")
        assert "3 unparsed" in text
        axis = next(line for line in lines if UNICODE.marker in line)
        marks = [axis.index(g) for g in (UNICODE.marker, UNICODE.declared, UNICODE.mitigated)]
        assert marks == sorted(marks)  # deploy, then declared, then mitigated, left to right
        assert local_hm(END) in lines[-1] and local_hm(END - timedelta(minutes=30)) in lines[-1]
        bars = [line for line in lines[1:] if UNICODE.bars[-1] in line]
        assert bars and bars[0].index(UNICODE.bars[-1]) > marks[0]  # the spike follows the deploy

        assert panel.cycle_zoom() == "3 h" and panel.border_title == "5xx · 3 h"
        assert panel.cycle_zoom() == "5 min"
        lines = shown_rows(panel)
        assert local_hm(END - timedelta(minutes=5)) in lines[-1]
        assert UNICODE.marker not in "\n".join(lines)  # the deploy is older than 5 minutes


async def test_ascii_rendering_uses_no_block_or_marker_glyphs() -> None:
    app = Host(ascii_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(view())
        await pilot.pause()
        text = shown_text(panel)
        assert text.isascii()
        assert ASCII.bars[-1] in text and ASCII.marker in text


async def test_an_empty_log_says_so_instead_of_a_healthy_zero() -> None:
    from dataclasses import replace

    v = view()
    empty = ErrorSeries("edge", BUCKET, (ErrorBucket(END, 0, 0),))
    v = replace(v, snapshot=replace(v.snapshot, readings={"edge": empty}))
    app = Host(ascii_only=False)
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(v)
        await pilot.pause()
        assert shown_rows(panel)[0] == "no requests logged yet"


async def test_traffic_that_just_began_is_not_shown_as_none() -> None:
    # The log's first request came 5 s into the filling bucket; the complete buckets before it
    # are empty. 20 requests in the 5 s since it began: 4.0 req/s over the filled part (not
    # 2.0 over the whole 10 s the bucket has filled, half of it before the log's first line).
    from dataclasses import replace

    v = view()
    filling = ErrorBucket(END, 20, 2)
    quiet = tuple(ErrorBucket(END - timedelta(seconds=BUCKET * i), 0, 0) for i in (2, 1))
    first = END + timedelta(seconds=5)
    series = ErrorSeries("edge", BUCKET, (*quiet, filling), first_ts=first, last_ts=first)
    at = END + timedelta(seconds=10)
    snapshot = replace(v.snapshot, at=at, readings={"edge": series})
    v = replace(v, snapshot=snapshot, assessment=replace(v.assessment, spikes=()))
    app = Host(ascii_only=False)
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(v)
        await pilot.pause()
        first_line = shown_rows(panel)[0]
        assert first_line.startswith("10.0% 0.4/s of 4.0 req/s"), first_line


def routed_view(*, window_minutes: int = 30) -> View:
    """view() with the 5xx by route: /session most, then /files/{id}, /report a little."""
    from dataclasses import replace

    from cockpit.model import Route, RouteErrors

    v = view()
    session, files = Route("GET", "/session"), Route("GET", "/files/{id}")
    report = Route("GET", "/report")
    buckets = []
    for b in v.snapshot.readings["edge"].buckets[-(window_minutes * 6 + 1) :]:  # type: ignore[union-attr]
        routes = (
            (RouteErrors(session, 503, 24), RouteErrors(files, 502, 5), RouteErrors(report, 500, 1))
            if b.errors_5xx
            else ()
        )
        buckets.append(replace(b, routes_5xx=routes))
    series = ErrorSeries("edge", BUCKET, tuple(buckets), routes_known=True)
    return replace(v, snapshot=replace(v.snapshot, readings={"edge": series}))


class Layout(App[None]):
    """The 5xx panel at the size it has in the cockpit at 80x24: 40 x 8 with its border."""

    CSS = "ErrorsPanel { width: 40; height: 8; border: round $primary; }"

    chosen: ClassVar[list[str]] = []

    def compose(self) -> ComposeResult:
        yield ErrorsPanel(id="errors")

    def on_errors_panel_routes_chosen(self, _: ErrorsPanel.RoutesChosen) -> None:
        self.chosen.append("routes")


async def test_the_top_failing_routes_show_at_80x24_and_in_full_on_enter() -> None:
    from widgets.routes_detail import RoutesScreen, routes_content

    app = Layout()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ErrorsPanel)
        v = routed_view()
        panel.show(v)
        await pilot.pause()
        lines = shown_rows(panel)
        assert len(lines) <= panel.content_region.height
        assert lines[1].startswith("/session 80%, /files/{id} 17%")
        assert any(UNICODE.bars[-1] in line for line in lines[2:])  # the graph still shows
        panel.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == ["routes"]
        app.push_screen(RoutesScreen(v))
        await pilot.pause()
        full = routes_content(v).plain
        assert "since the spike began" in full
        for line in ("80%  503         GET /session", "17%  502         GET /files/{id}"):
            assert line in full
        assert "3%  500         GET /report" in full


def test_a_steady_rate_draws_level_at_every_width() -> None:
    starts = [float(i * BUCKET) for i in range(180)]
    counts = [7.0] * 180
    end, span = 180.0 * BUCKET, 1800.0
    for width in range(20, 161):
        sums, step = columns(starts, counts, end=end, span=span, width=width, bucket=BUCKET)
        rates = [s / step for s in sums]
        assert max(rates) - min(rates) < 1e-9, width  # no comb of full and empty columns


async def test_every_zoom_has_a_scale_and_a_zoom_wider_than_the_data_says_so() -> None:
    app = Layout()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(routed_view(window_minutes=10))  # the source keeps 10 minutes
        await pilot.pause()
        for zoom in ("3 h", "5 min", "30 min"):
            assert panel.cycle_zoom() == zoom
            lines = shown_rows(panel)
            graph = lines[2:]
            assert graph[0].rstrip().endswith("/s"), (zoom, graph)
            if zoom == "5 min":
                assert "no data" not in graph[-1]
            else:  # wider than the 10 minutes of data: not drawn as zero
                assert "no data" in graph[-1] or "data from" in graph[-1], (zoom, graph)


async def test_a_log_younger_than_the_window_says_where_its_lines_begin(tmp_path: Path) -> None:
    """A real access log whose first line is 90 s old, read back over 30 minutes: the minutes
    before that line are no data, not a quiet zero, at 30 min and at 3 h."""
    from dataclasses import replace

    log = tmp_path / "access.log"
    first = END - timedelta(seconds=90)
    with log.open("w", encoding="utf-8") as out:
        for second in range(0, 90, 2):
            stamp = (first + timedelta(seconds=second)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            status = 503 if second >= 60 else 200
            out.write(f'203.0.113.7 - - [{stamp}] "GET /upload HTTP/1.1" {status} 3 "-" "curl"\n')
    cfg = AccessLogConfig(name="edge", path=log, bucket_seconds=BUCKET, window=1800, read_back=1800)
    series = await AccessLogTail(cfg, clock=lambda: END).poll()
    assert series.first_ts == first and series.buckets[0].start < first - timedelta(minutes=20)
    v = view()
    snapshot = replace(v.snapshot, readings={"edge": series})
    v = replace(v, snapshot=snapshot, assessment=Assessment())
    app = Layout()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(ErrorsPanel)
        panel.show(v)
        await pilot.pause()
        # 90 s of data: the zoom that fits them comes first, the time they begin to the second.
        assert panel.border_title == "5xx · 5 min"
        for zoom in ("5 min", "30 min", "3 h"):
            assert panel.border_title == f"5xx · {zoom}"
            axis = shown_rows(panel)[-1]
            assert f"from {local_hms(first)}" in axis, (zoom, axis)
            assert local_hm(END - timedelta(minutes=30)) not in axis, (zoom, axis)
            panel.cycle_zoom()


def young_view() -> View:
    """The demo 30 s after its first line: 5 s buckets over the 10 minutes the source keeps,
    empty before the first line (END - 33 s, 2 s into its bucket), 3.0 5xx/s of 10 req/s
    since; the bucket at END still filling."""
    from dataclasses import replace

    first = END - timedelta(seconds=33)
    buckets = []
    for i in range(120, -1, -1):
        start = END - timedelta(seconds=5 * i)
        if start + timedelta(seconds=5) <= first:
            buckets.append(ErrorBucket(start, 0, 0))
        elif start < first:  # 3 s of data in this one
            buckets.append(ErrorBucket(start, 30, 9))
        else:
            buckets.append(ErrorBucket(start, 50, 15))
    series = ErrorSeries("edge", 5, tuple(buckets), first_ts=first, last_ts=END)
    v = view()
    snapshot = replace(v.snapshot, at=END + timedelta(seconds=2), readings={"edge": series})
    return replace(v, snapshot=snapshot, assessment=Assessment(), incident=None)


def test_a_column_rates_the_time_its_data_cover() -> None:
    from cockpit.view.errors import errors_view
    from cockpit.view.graph import graph_columns

    v = young_view()
    graph = errors_view(v.snapshot, v.assessment, None).graph
    assert graph is not None
    assert graph.first == (END - timedelta(seconds=33)).timestamp() and graph.held == 33
    for span, width in ((1800, 28), (300, 28), (300, 60), (10800, 92)):
        shape = graph_columns(
            graph.starts, graph.errors, bucket=5, data_from=graph.first, span=span, width=width
        )
        rates = [r for r, k in zip(shape.rates, shape.known, strict=True) if k]
        # Every column with data says 3.0/s: none averaged over the time before the data.
        assert rates and all(abs(r - 3.0) < 1e-9 for r in rates), (span, width, shape.rates)
        assert abs(shape.top - 3.0) < 1e-9
        assert not any(shape.known[: width - len(rates)])


def test_the_zoom_fits_the_data_held_and_says_where_they_begin() -> None:
    from cockpit.view.errors import GraphData

    def graph(held: float) -> GraphData:
        end = END.timestamp()
        return GraphData(5, (end - 5,), (1,), end - held)

    assert [graph(h).zoom for h in (30, 299, 300, 301, 1800, 7200, 20000)] == [0, 0, 0, 1, 1, 1, 1]
    young = graph(32)
    assert young.data_from == local_hms(END - timedelta(seconds=32))
    assert graph(600).data_from == local_hm(END - timedelta(seconds=600))


def test_the_rate_figure_counts_from_the_first_line_inside_its_bucket() -> None:
    from dataclasses import replace

    from cockpit.view.errors import errors_view

    # The first line 8 s before the filling bucket, 3 s before the end of its own: 3.0/s over
    # the 8 s the two complete buckets hold data for, not 2.4/s over their 10 s.
    first = END - timedelta(seconds=8)
    buckets = (
        ErrorBucket(END - timedelta(seconds=15), 0, 0),
        ErrorBucket(END - timedelta(seconds=10), 30, 9),
        ErrorBucket(END - timedelta(seconds=5), 50, 15),
        ErrorBucket(END, 10, 3),
    )
    series = ErrorSeries("edge", 5, buckets, first_ts=first, last_ts=END)
    v = young_view()
    snapshot = replace(v.snapshot, readings={"edge": series})
    (summary,) = errors_view(snapshot, v.assessment, None).summaries
    assert summary.errors_per_s == 3.0 and summary.requests_per_s == 10.0


async def test_young_data_read_sensibly_at_80x24_and_larger() -> None:
    """30 s after the log's first line: the shortest zoom that holds them, each bar at the
    rate the figure beside it says, the time the data begin to the second."""
    v = young_view()
    first = END - timedelta(seconds=33)
    for size, (width, height) in (((80, 24), (40, 8)), ((200, 60), (100, 20))):
        app = Layout()
        async with app.run_test(size=size) as pilot:
            panel = app.query_one(ErrorsPanel)
            panel.styles.width, panel.styles.height = width, height
            panel.show(v)
            await pilot.pause()
            rows = shown_rows(panel)
            text = "\n".join(rows)
            assert panel.border_title == "5xx · 5 min", text
            assert rows[0].startswith("30.0% 3.0/s of 10.0 req/s"), text
            assert rows[1].rstrip().endswith(" 3.0/s"), text  # the scale: the bars' top
            assert f"data from {local_hms(first)}" in rows[-1], text
            assert local_hm(END - timedelta(minutes=30)) not in rows[-1], text
            # z still goes wider, and the rates stay those of the time covered.
            assert panel.cycle_zoom() == "30 min"
            rows = shown_rows(panel)
            assert rows[1].rstrip().endswith(" 3.0/s"), "\n".join(rows)
