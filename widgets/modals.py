"""Modal screens for user intent. They collect and confirm; the app does the acting."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Log, Select, Static

from cockpit.actions.declare import DeclareRequest
from cockpit.actions.revert import RevertOutcome, RevertPlan
from cockpit.model import SEVERITIES
from cockpit.timeutil import local_hms, utc_hms


class DeclareScreen(ModalScreen[DeclareRequest | None]):
    """Title, severity, commander, summary -> a DeclareRequest, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, defaults: DeclareRequest):
        super().__init__()
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        d = self.defaults
        with Vertical(classes="dialog"):
            yield Label("Declare an incident", classes="dialog-title")
            yield Input(d.title, placeholder="title", id="title")
            yield Select(
                [(s, s) for s in SEVERITIES], value=d.severity, allow_blank=False, id="severity"
            )
            yield Input(d.commander, placeholder="commander", id="commander")
            yield Input(d.summary, placeholder="summary (optional)", id="summary")
            started = (
                f"impact started {local_hms(d.impact_started_at)} "
                f"({utc_hms(d.impact_started_at)} UTC): the first failure seen"
                if d.impact_started_at
                else "impact start: no failure seen yet, the declaration time is used"
            )
            yield Static(started, classes="hint")
            yield Static("", id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                yield Button("Declare", variant="error", id="declare")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def _request(self) -> DeclareRequest:
        severity = self.query_one("#severity", Select).value
        return DeclareRequest(
            title=self.query_one("#title", Input).value.strip(),
            severity=str(severity),
            commander=self.query_one("#commander", Input).value.strip(),
            summary=self.query_one("#summary", Input).value.strip(),
            impact_started_at=self.defaults.impact_started_at,
        )

    def _submit(self) -> None:
        request = self._request()
        problems = request.validate()
        if problems:
            self.query_one("#problems", Static).update(Content("; ".join(problems)))
            return
        self.dismiss(request)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "declare":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RevertScreen(ModalScreen[bool | None]):
    """States the plan, asks for the service name typed out, then shows the run's output.

    It posts Confirmed; the app runs the revert and feeds output back through add_output and
    finish. Dismisses with True (reverted), False (failed) or None (cancelled before running).
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    class Confirmed(Message):
        def __init__(self, screen: RevertScreen):
            super().__init__()
            self.screen = screen

    def __init__(self, plan: RevertPlan):
        super().__init__()
        self.plan = plan
        self.running = False
        self.outcome: RevertOutcome | None = None

    def compose(self) -> ComposeResult:
        p = self.plan
        with Vertical(classes="dialog wide"):
            yield Label(
                "Revert (dry run: nothing will be changed)" if p.dry_run else "Revert",
                classes="dialog-title",
            )
            with VerticalScroll(classes="plan"):
                yield Static(
                    Content.assemble(
                        ("service  ", "$text-muted"),
                        (p.service, "bold"),
                        "\n",
                        ("versions ", "$text-muted"),
                        (p.from_version, "$error"),
                        " -> ",
                        (p.to_version, "$success"),
                        "\n",
                        ("runs     ", "$text-muted"),
                        shlex.join(p.argv),
                        "\n",
                        ("timeout  ", "$text-muted"),
                        f"{p.timeout:g}s",
                        *_preflight_lines(p.preflight),
                    )
                )
            yield Static(
                Content.assemble("Type ", (p.service, "bold"), " to confirm, Escape to cancel:"),
                id="prompt",
            )
            yield Input(placeholder=p.service, id="confirm")
            yield Static("", id="problems", classes="problems")
            yield Log(id="output", max_lines=500, classes="output")

    def on_mount(self) -> None:
        self.query_one("#confirm", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.running or self.outcome is not None:
            return
        if event.value.strip() != self.plan.service:
            self.query_one("#problems", Static).update(
                Content.assemble(
                    "does not match; type ", (self.plan.service, "bold"), " exactly, or Escape"
                )
            )
            event.input.value = ""
            return
        self.running = True
        event.input.disabled = True
        self.query_one("#problems", Static).update(Content("running…"))
        self.post_message(self.Confirmed(self))

    def add_output(self, line: str) -> None:
        self.query_one("#output", Log).write_line(line)

    def finish(self, outcome: RevertOutcome) -> None:
        self.running = False
        self.outcome = outcome
        if outcome.lock_holder is not None:
            text = f"NOT RUN: {outcome.reason}"
        elif outcome.dry_run:
            text = (
                f"dry run: {outcome.reason}" if outcome.ok else f"dry run FAILED: {outcome.reason}"
            )
        else:
            text = "done: reverted" if outcome.ok else f"FAILED: {outcome.reason}"
        style = "$success bold" if outcome.ok else "$error bold"
        self.query_one("#problems", Static).update(
            Content.assemble((text, style), "  (Escape closes)")
        )
        self.focus()

    def action_close(self) -> None:
        if self.running:
            self.notify("the revert is still running; it cannot be abandoned halfway")
            return
        self.dismiss(None if self.outcome is None else self.outcome.ok)


def _preflight_lines(preflight: Sequence[Sequence[str]]) -> list[str | tuple[str, str]]:
    out: list[str | tuple[str, str]] = []
    for argv in preflight:
        out += ["\n", ("check    ", "$text-muted"), shlex.join(argv)]
    return out


class NoteScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a note to the timeline", classes="dialog-title")
            yield Input(placeholder="what happened, what you tried", id="note")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, rows: Sequence[tuple[str, str]], read_only: bool):
        super().__init__()
        self.rows = rows
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        parts: list[str | tuple[str, str]] = []
        for key, description in self.rows:
            parts += [(f"{key:>8}  ", "bold"), description, "\n"]
        if self.read_only:
            parts.append(("read-only: declare and revert are disabled\n", "$warning"))
        parts += [
            "\n",
            (
                "Panels: probes (sessions ok/N, latency), recent deploys (SUSPECT = the deploy\n"
                "before the first failure), 5xx per second (markers: deploys, declared), Sentry\n"
                "issues (NEW = first seen after the suspect deploy; BLIND SPOT = failures with no\n"
                "Sentry issue). Stale panels say since when and why.",
                "$text-muted",
            ),
        ]
        with Vertical(classes="dialog wide"):
            yield Label("Keys", classes="dialog-title")
            yield Static(Content.assemble(*parts))

    def action_close(self) -> None:
        self.dismiss(None)
