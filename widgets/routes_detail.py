"""Where the 5xx go, in full: every route of every 5xx source with its statuses, count and share
(since the open spike began, else over the whole window the source keeps).

Routes come from request lines and proxy logs: outside text, shown Inert (widgets.inert).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

from cockpit.detect.routes import route_shares, route_text
from cockpit.model import Category, ErrorSeries
from cockpit.runtime import View
from cockpit.term.textsafe import Inert
from cockpit.timeutil import local_hms
from widgets.inert import InertContent, InertLabel, InertStatic, Part, lines, text


class RoutesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
    ]

    def __init__(self, view: View):
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield InertLabel(Inert("5xx by route"), classes="dialog-title")
            with VerticalScroll(id="results", classes="results"):
                yield InertStatic(id="rows")
            yield InertStatic(Inert("Esc close"), classes="hint")

    def on_mount(self) -> None:
        self.show(self.view)

    def show(self, view: View) -> None:
        """Called by the app with every new view, so the screen stays live."""
        self.view = view
        self.query_one("#rows", InertStatic).update(routes_content(view))


def routes_content(view: View) -> InertContent:
    rows: list[list[Part]] = []
    for _, series in view.snapshot.of(Category.ERRORS):
        if not isinstance(series, ErrorSeries):
            continue
        spike = next((x for x in view.assessment.spikes if x.source == series.source), None)
        since = spike.start if spike else None
        span = f"since the spike began at {local_hms(spike.start)}" if spike else "whole window"
        rows.append([(Inert(f"{series.source}"), "bold"), (Inert(f"  {span}"), "$text-muted")])
        if not series.routes_known:
            rows.append([(Inert("  this source does not tell routes"), "$text-muted")])
            continue
        shares = route_shares(series, since)
        if not shares:
            rows.append([(Inert("  no 5xx"), "$text-muted")])
        for r in shares:
            statuses = ",".join(str(code) for code in r.statuses)
            rows.append(
                [
                    Inert(f"  {r.count:>6} {r.share:>4.0%}  "),
                    (Inert(f"{statuses:<11} "), "$warning"),
                    Inert(route_text(r.route)),
                    (
                        Inert(f"  -> {r.route.upstream}" if r.route.upstream else ""),
                        "$text-muted",
                    ),
                ]
            )
    return lines(text(*row) for row in rows) if rows else text(Inert("no 5xx source"))
