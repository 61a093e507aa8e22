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
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Log, Static

from cockpit.actions.guarded import RevertOutcome, describe_outcome
from cockpit.actions.runs import Run, RunStatus
from cockpit.timeutil import local_hms


def run_summary(run: Run) -> Content:
    started = local_hms(run.started or run.created)
    return Content.assemble(
        ("by       ", "$text-muted"),
        (run.user or "someone", "bold"),
        f" on {run.host}, started {started}" if run.host else f", started {started}",
        "\n",
        ("runs     ", "$text-muted"),
        run.command_line,
        "\n",
        ("timeout  ", "$text-muted"),
        f"{run.timeout:g}s (only the timeout stops it)",
    )


def status_content(run: Run) -> Content:
    if run.status is RunStatus.UNKNOWN:
        return Content.assemble(
            ("OUTCOME UNKNOWN", "$error bold reverse"),
            " its supervisor ended without recording how it ended; the output it left is "
            "below. Check the service by hand.",
        )
    if run.active:
        return Content.assemble(
            ("RUNNING", "$accent bold reverse"),
            " in its own process: closing this view or quitting leaves it running.",
        )
    outcome = run.outcome()
    return outcome_content(outcome) if outcome is not None else Content("")


def outcome_content(outcome: RevertOutcome) -> Content:
    style = "$success bold" if outcome.ok else "$error bold"
    return Content.assemble((describe_outcome(outcome), style), "  (Esc closes)")


class RunScreen(ModalScreen[None]):
    """One run: what, by whom, its output so far and as it comes, and its end."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, run: Run):
        super().__init__()
        self.run = run
        self.outcome: RevertOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Content(self.run.describe), classes="dialog-title")
            yield Static(run_summary(self.run), id="summary")
            yield Static(status_content(self.run), id="status", classes="problems")
            yield Log(id="output", max_lines=2000, classes="output")

    def show_run(self, run: Run) -> None:
        self.run = run
        self.query_one("#status", Static).update(status_content(run))

    def add_output(self, line: str) -> None:
        self.query_one("#output", Log).write_line(line)

    def finish(self, outcome: RevertOutcome) -> None:
        self.outcome = outcome
        self.query_one("#status", Static).update(outcome_content(outcome))

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
        with Vertical(classes="dialog"):
            yield Label(Content(f"{run.describe} is running"), classes="dialog-title")
            yield Static(
                Content.assemble(
                    f"Started by {run.user} at {local_hms(run.started or run.created)}, it runs "
                    "in its own process. Quitting leaves it running to its end; its result is "
                    "audited and every cockpit shows it.\n\n",
                    ("q", "bold"),
                    " or ",
                    ("Enter", "bold"),
                    ": quit, leave it running    ",
                    ("Esc", "bold"),
                    ": stay",
                )
            )

    def action_leave(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(None)
