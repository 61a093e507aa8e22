"""The drill report at the end of a drill: the response's figures against the real incident
and the best possible, the signals and what the responder did. Texts from the timeline are
shown Inert (widgets.inert), never read as markup."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from cockpit.drill.report import DrillReport, milestone_rows, split_rows
from cockpit.term.textsafe import Inert, one_line
from widgets.inert import InertLabel, InertStatic


def _clock(report: DrillReport, attr: str) -> str:
    at = getattr(report, attr)
    return "--:--:--" if at is None else at.strftime("%H:%M:%S")


def report_lines(report: DrillReport) -> list[str]:
    """The report as plain lines that fit 80 columns."""
    lines = [
        f"{report.scenario} at {report.speed:g}x, impact {_clock(report, 'impact_start')}, "
        f"ended {_clock(report, 'ended_at')} (scenario clock)",
        "",
        f"{'':<9} {'drill':<22} {'real':<10} {'best':<10}",
    ]
    for label, drill, real, best, versus in milestone_rows(report):
        lines.append(f"{label:<9} {drill:<22} {real:<10} {best:<10}")
        if versus:
            lines.append(f"{'':<9} {versus}")
    lines += ["", "The cockpit showed it / you acted (scenario minutes after impact):"]
    for label, shown, acted in split_rows(report):
        lines.append(f"  {label:<9} cockpit {shown}")
        lines.append(f"  {'':<9} you     {acted}")
    lines += ["", "Signals (scenario time shown, minutes after impact):"]
    for signal in report.signals:
        lines.append(f"  {signal.shown_at:%H:%M:%S} {signal.minutes:5.1f}m {signal.name}")
    if not report.signals:
        lines.append("  none")
    if report.silent:
        lines.append(f"  never fired: {', '.join(report.silent)}")
    lines += ["", "Responder:"]
    for act in report.acts:
        minutes = "" if act.minutes is None else f"{act.minutes:5.1f}m"
        lines.append(f"  {act.at:%H:%M:%S} {minutes} {act.kind}: {act.text}")
    if not report.acts:
        lines.append("  nothing")
    if report.lingering:
        lines += ["", "Kept failing after the first recovery: " + ", ".join(report.lingering)]
    if report.still_failing:
        lines += ["", "Still failing at the end: " + ", ".join(report.still_failing)]
    if report.files:
        lines += ["", "Written to:", *(f"  {path}" for path in report.files)]
    return lines


class DrillReportScreen(ModalScreen[None]):
    """Shows a DrillReport; escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, report: DrillReport):
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            title = one_line(f"DRILL REPORT: {self.report.title}")
            yield InertLabel(title, classes="dialog-title")
            with VerticalScroll(id="drill-report"):
                body = Inert("\n".join(report_lines(self.report)))
                yield InertStatic(body, id="drill-report-body")
            yield InertStatic(Inert("escape: close"), classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
