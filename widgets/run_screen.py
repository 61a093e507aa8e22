"""Watching a revert or action that runs in its own process, and quitting while one runs.

The run may have been started by this cockpit before a restart, or by another engineer: the
screen shows its output from the first line, live, and how it ended, or that its outcome is
unknown. Closing the screen, or quitting, never stops the run.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen

from cockpit.actions.guarded import RevertOutcome, describe_outcome
from cockpit.actions.runs import Run, RunStatus
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_hms
from widgets.inert import EMPTY, InertContent, InertLabel, InertStatic, text
from widgets.inert_forms import InertLog


def run_summary(run: Run) -> InertContent:
    started = local_hms(run.started or run.created)
    # The separator apart: one_line strips the text it is given, a leading space too.
    where = f"on {run.host}, started {started}" if run.host else f"started {started}"
    return text(
        (Inert("by       "), "$text-muted"),
        (one_line(run.user or "someone", 64), "bold"),
        Inert(" " if run.host else ", "),
        one_line(where, 300),
        Inert("\n"),
        (Inert("runs     "), "$text-muted"),
        one_line(run.command_line, 2000),
        Inert("\n"),
        (Inert("timeout  "), "$text-muted"),
        Inert(f"{run.timeout:g}s (only the timeout stops it)"),
    )


def status_content(run: Run) -> InertContent:
    if run.status is RunStatus.UNKNOWN:
        return text(
            (Inert("OUTCOME UNKNOWN"), "$error bold reverse"),
            Inert(
                " its supervisor ended without recording how it ended; the output it left is "
                "below. Check the service by hand."
            ),
        )
    if run.active:
        return text(
            (Inert("RUNNING"), "$accent bold reverse"),
            Inert(" in its own process: closing this view or quitting leaves it running."),
        )
    outcome = run.outcome()
    return outcome_content(outcome) if outcome is not None else text(EMPTY)


def outcome_content(outcome: RevertOutcome) -> InertContent:
    style = "$success bold" if outcome.ok else "$error bold"
    return text((one_line(describe_outcome(outcome), 1000), style), Inert("  (Esc closes)"))


class RunScreen(ModalScreen[None]):
    """One run: what, by whom, its output so far and as it comes, and its end."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, run: Run):
        super().__init__()
        self.run = run
        self.outcome: RevertOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield InertLabel(one_line(self.run.describe, 300), classes="dialog-title")
            yield InertStatic(run_summary(self.run), id="summary")
            yield InertStatic(status_content(self.run), id="status", classes="problems")
            yield InertLog(id="output", max_lines=2000, classes="output")

    def show_run(self, run: Run) -> None:
        self.run = run
        self.query_one("#status", InertStatic).update(status_content(run))

    def add_output(self, line: str) -> None:
        self.query_one("#output", InertLog).write_line(Inert(line))

    def finish(self, outcome: RevertOutcome) -> None:
        self.outcome = outcome
        self.query_one("#status", InertStatic).update(outcome_content(outcome))

    def action_close(self) -> None:
        self.dismiss(None)


class QuitScreen(ModalScreen[bool | None]):
    """Quitting while a revert runs: it goes on in its own process; say so and ask."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,enter,y", "leave", "Quit, leave it running"),
        Binding("escape,n", "stay", "Stay"),
    ]

    def __init__(self, run: Run):
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        run = self.run
        started = local_hms(run.started or run.created)
        with Vertical(classes="dialog"):
            yield InertLabel(one_line(f"{run.describe} is running", 300), classes="dialog-title")
            yield InertStatic(
                text(
                    one_line(
                        f"Started by {run.user} at {started}, it runs in its own process. "
                        "Quitting leaves it running to its end; its result is audited and "
                        "every cockpit shows it.",
                        1000,
                    ),
                    Inert("\n\n"),
                    (Inert("q"), "bold"),
                    Inert(" or "),
                    (Inert("Enter"), "bold"),
                    Inert(": quit, leave it running    "),
                    (Inert("Esc"), "bold"),
                    Inert(": stay"),
                )
            )

    def action_leave(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(None)
