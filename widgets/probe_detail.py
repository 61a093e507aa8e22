"""One probe in full: what it checks, its state, and its recent results with errors verbatim.

The error texts come from the servers being probed: they are shown Inert (widgets.inert), as
received but with control sequences and invisible characters marked and secrets redacted.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from cockpit.detect.probes import ProbeState, ProbeView
from cockpit.runtime import View
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_clock, local_hms
from widgets.inert import InertContent, InertLabel, InertStatic, Part, lines, text


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
            yield InertLabel(one_line(f"Probe {self.probe_name}", 200), classes="dialog-title")
            yield InertStatic(id="summary")
            with VerticalScroll(id="results", classes="results"):
                yield InertStatic(id="rows")
            yield InertStatic(Inert("Esc close"), classes="hint")

    def on_mount(self) -> None:
        self.show(self.view)

    def show(self, view: View) -> None:
        """Called by the app with every new view, so the screen stays live."""
        self.view = view
        probe = next((p for p in view.assessment.probes if p.name == self.probe_name), None)
        summary = self.query_one("#summary", InertStatic)
        rows = self.query_one("#rows", InertStatic)
        if probe is None:
            summary.update(Inert("no result yet"))
            rows.update(Inert(""))
            return
        summary.update(summary_content(probe, view))
        rows.update(results_content(probe, view))


def summary_content(probe: ProbeView, view: View) -> InertContent:
    state_style = {
        ProbeState.UP: "$success",
        ProbeState.DOWN: "$error bold",
        ProbeState.UNKNOWN: "$text-muted",
    }[probe.state]
    since = f" since {local_clock(probe.since, view.snapshot.at)}" if probe.since else ""
    p50 = f"{probe.p50_ms:.0f} ms" if probe.p50_ms is not None else "-"
    last = probe.last
    latency = f"{last.latency_ms:.0f} ms" if last and last.latency_ms is not None else "-"
    parts: list[Part] = [
        (Inert("kind "), "$text-muted"),
        one_line(probe.kind, 40),
        (Inert("  target "), "$text-muted"),
        one_line(probe.target, 500),
        Inert("\n"),
        (Inert("state "), "$text-muted"),
        (Inert(probe.state.value.upper()), state_style),
        Inert(since),
        (Inert("  sessions "), "$text-muted"),
        Inert(f"{last.sessions_ok}/{last.concurrency}" if last else f"-/{probe.concurrency}"),
        (Inert("  latency "), "$text-muted"),
        Inert(latency),
        (Inert("  p50 "), "$text-muted"),
        Inert(p50),
    ]
    if last is not None and last.detail:
        parts += [Inert("\n"), (Inert(last.detail), "$text-muted")]
    if probe.only_under_concurrency:
        parts += [
            Inert("\n"),
            (Inert("fails only under concurrency: single sessions pass"), "$error"),
        ]
    return text(*parts)


def results_content(probe: ProbeView, view: View) -> InertContent:
    rows: list[InertContent] = []
    if probe.runs:
        rows.append(text((Inert("Every change since watching began, newest first"), "bold")))
    for run in reversed(probe.runs):
        result = run.first
        mark = (Inert("ok  "), "$success") if result.ok else (Inert("FAIL"), "$error bold")
        until = f"-{local_hms(run.last_at)}" if run.count > 1 else " " * 9
        rows.append(
            text(
                (Inert(f"{local_hms(result.at)}{until}"), "$text-muted"),
                Inert(" "),
                mark,
                Inert(f" {result.sessions_ok}/{result.concurrency}".ljust(7)),
                (Inert(f"x{run.count}".rjust(6)), "$text-muted"),
            )
        )
        if result.error:
            rows.append(text(Inert("    "), (Inert(result.error), "$text-muted")))
    if probe.history:
        rows.append(text((Inert("Latest results, newest first"), "bold")))
    for result in reversed(probe.history):
        mark = (Inert("ok  "), "$success") if result.ok else (Inert("FAIL"), "$error bold")
        latency = f"{result.latency_ms:.0f}ms" if result.latency_ms is not None else "-"
        rows.append(
            text(
                (Inert(local_hms(result.at)), "$text-muted"),
                Inert(" "),
                mark,
                Inert(f" {result.sessions_ok}/{result.concurrency}".ljust(7)),
                Inert(latency.rjust(7)),
            )
        )
        if result.error:
            rows.append(text(Inert("    "), (Inert(result.error), "$text-muted")))
    return lines(rows) if rows else text(Inert("no results yet"))
