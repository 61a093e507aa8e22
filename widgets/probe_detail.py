"""One probe in full: what it checks, its state, and its recent results with errors verbatim.

The error texts come from the servers being probed: they are placed as plain Content (never
markup) after control sequences were stripped by the source, so they show exactly as received.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from cockpit.detect import ProbeState, ProbeView
from cockpit.runtime import View
from cockpit.timeutil import local_clock, local_hms


class ProbeDetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
    ]

    def __init__(self, name: str, view: View):
        super().__init__()
        self.probe_name = name
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Probe {self.probe_name}", classes="dialog-title")
            yield Static(id="summary")
            with VerticalScroll(id="results", classes="results"):
                yield Static(id="rows")
            yield Static("Esc close", classes="hint")

    def on_mount(self) -> None:
        self.show(self.view)

    def show(self, view: View) -> None:
        """Called by the app with every new view, so the screen stays live."""
        self.view = view
        probe = next((p for p in view.assessment.probes if p.name == self.probe_name), None)
        summary = self.query_one("#summary", Static)
        rows = self.query_one("#rows", Static)
        if probe is None:
            summary.update(Content("no result yet"))
            rows.update(Content(""))
            return
        summary.update(summary_content(probe, view))
        rows.update(results_content(probe, view))


def summary_content(probe: ProbeView, view: View) -> Content:
    state_style = {
        ProbeState.UP: "$success",
        ProbeState.DOWN: "$error bold",
        ProbeState.UNKNOWN: "$text-muted",
    }[probe.state]
    since = f" since {local_clock(probe.since, view.snapshot.at)}" if probe.since else ""
    p50 = f"{probe.p50_ms:.0f} ms" if probe.p50_ms is not None else "-"
    last = probe.last
    latency = f"{last.latency_ms:.0f} ms" if last and last.latency_ms is not None else "-"
    parts: list[str | tuple[str, str]] = [
        ("kind ", "$text-muted"),
        probe.kind,
        ("  target ", "$text-muted"),
        probe.target,
        "\n",
        ("state ", "$text-muted"),
        (probe.state.value.upper(), state_style),
        since,
        ("  sessions ", "$text-muted"),
        f"{last.sessions_ok}/{last.concurrency}" if last else f"-/{probe.concurrency}",
        ("  latency ", "$text-muted"),
        latency,
        ("  p50 ", "$text-muted"),
        p50,
    ]
    if last is not None and last.detail:
        parts += ["\n", (last.detail, "$text-muted")]
    if probe.only_under_concurrency:
        parts += ["\n", ("fails only under concurrency: single sessions pass", "$error")]
    return Content.assemble(*parts)


def results_content(probe: ProbeView, view: View) -> Content:
    lines: list[Content] = []
    for result in reversed(probe.history):
        mark = ("ok  ", "$success") if result.ok else ("FAIL", "$error bold")
        latency = f"{result.latency_ms:.0f}ms" if result.latency_ms is not None else "-"
        lines.append(
            Content.assemble(
                (local_hms(result.at), "$text-muted"),
                " ",
                mark,
                f" {result.sessions_ok}/{result.concurrency}".ljust(7),
                latency.rjust(7),
            )
        )
        if result.error:
            lines.append(Content.assemble("    ", (result.error, "$text-muted")))
    return Content("\n").join(lines) if lines else Content("no results yet")
