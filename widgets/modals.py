"""Modal screens for user intent. They collect and confirm; the app does the acting."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Log, Select, Static

from cockpit.actions.declare import DeclareRequest, parse_when
from cockpit.actions.guarded import describe_outcome
from cockpit.actions.revert import RevertOutcome, RevertPlan
from cockpit.actions.runbook import ActionPlan
from cockpit.model import SEVERITIES, IncidentStatus
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
            yield Input(
                local_hms(d.impact_started_at) if d.impact_started_at else "",
                placeholder="impact started (local HH:MM[:SS] or ISO with zone; empty = now)",
                id="impact",
            )
            started = (
                f"impact start defaults to the first failure: {local_hms(d.impact_started_at)} "
                f"({utc_hms(d.impact_started_at)} UTC)"
                if d.impact_started_at
                else "no failure seen yet: empty impact start means the declaration time"
            )
            yield Static(started, classes="hint")
            yield Static("", id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                yield Button("Declare", variant="error", id="declare")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    def _impact(self) -> datetime | None:
        text = self.query_one("#impact", Input).value.strip()
        default = self.defaults.impact_started_at
        if not text:
            return None
        if default is not None and text == local_hms(default):
            return default  # untouched: keep the sub-second time the detector saw
        return parse_when(text)

    def _request(self, impact: datetime | None) -> DeclareRequest:
        severity = self.query_one("#severity", Select).value
        return DeclareRequest(
            title=self.query_one("#title", Input).value.strip(),
            severity=str(severity),
            commander=self.query_one("#commander", Input).value.strip(),
            summary=self.query_one("#summary", Input).value.strip(),
            impact_started_at=impact,
        )

    def _submit(self) -> None:
        try:
            impact = self._impact()
        except ValueError as exc:
            self.query_one("#problems", Static).update(Content(f"impact start: {exc}"))
            return
        request = self._request(impact)
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

    def __init__(self, plan: RevertPlan | ActionPlan):
        super().__init__()
        self.plan = plan
        self.running = False
        self.outcome: RevertOutcome | None = None

    def compose(self) -> ComposeResult:
        p = self.plan
        title = "Revert" if isinstance(p, RevertPlan) else f"Run {p.name}"
        versions: list[str | tuple[str, str]] = []
        if isinstance(p, RevertPlan):
            versions = [
                ("versions ", "$text-muted"),
                (p.from_version, "$error"),
                " -> ",
                (p.to_version, "$success"),
                "\n",
            ]
        with Vertical(classes="dialog wide"):
            yield Label(
                f"{title} (dry run: nothing will be changed)" if p.dry_run else title,
                classes="dialog-title",
            )
            with VerticalScroll(classes="plan"):
                yield Static(
                    Content.assemble(
                        ("service  ", "$text-muted"),
                        (p.service, "bold"),
                        "\n",
                        *versions,
                        ("runs     ", "$text-muted"),
                        p.command_line(),
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
        if outcome.unknown or not outcome.ran:
            text = describe_outcome(outcome)
        elif outcome.lock_holder is not None:
            text = f"NOT RUN: {outcome.reason}"
        elif outcome.dry_run:
            text = (
                f"dry run: {outcome.reason}" if outcome.ok else f"dry run FAILED: {outcome.reason}"
            )
        else:
            done = "reverted" if isinstance(self.plan, RevertPlan) else "finished"
            text = f"done: {done}" if outcome.ok else f"FAILED: {outcome.reason}"
        style = "$success bold" if outcome.ok else "$error bold"
        self.query_one("#problems", Static).update(
            Content.assemble((text, style), "  (Escape closes)")
        )
        self.focus()

    def action_close(self) -> None:
        if self.running:
            # It runs in its own process: closing only stops watching it.
            self.notify(
                f"{self.plan.describe()} goes on in its own process; the header shows it, "
                "w shows its output again",
                timeout=10,
            )
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


class StatusScreen(ModalScreen[IncidentStatus | str | None]):
    """Move the incident along: identified, mitigated, resolved (each time-stamped now), or
    retry the notifications that failed. Dismisses with the status, "retry", or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    NEXT = (IncidentStatus.IDENTIFIED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)

    def __init__(self, current: IncidentStatus, failed_notifications: int = 0):
        super().__init__()
        self.current = current
        self.failed = failed_notifications

    def compose(self) -> ComposeResult:
        order = list(IncidentStatus)
        with Vertical(classes="dialog"):
            yield Label(f"Incident is {self.current}", classes="dialog-title")
            with Horizontal(classes="buttons"):
                for status in self.NEXT:
                    yield Button(
                        status.value,
                        id=f"status-{status.value}",
                        variant="error" if status is IncidentStatus.RESOLVED else "primary",
                        disabled=order.index(status) <= order.index(self.current),
                    )
            if self.failed:
                yield Static(f"{self.failed} notification(s) failed to send", classes="problems")
                with Horizontal(classes="buttons"):
                    yield Button("Retry notifications", id="retry")
            yield Static(
                "Esc cancel; the time recorded is now (correct it later if needed)", classes="hint"
            )

    def on_mount(self) -> None:
        enabled = [b for b in self.query(Button) if not b.disabled]
        if enabled:
            enabled[0].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button == "retry":
            self.dismiss("retry")
        elif button.startswith("status-"):
            self.dismiss(IncidentStatus(button.removeprefix("status-")))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few named things (a runbook action, a fault to inject)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, str]]):
        super().__init__()
        self.title_text = title
        self.choices = choices  # (key, label)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            for i, (_, label) in enumerate(self.choices):
                yield Button(label, id=f"choice-{i}", classes="choice")
            yield Static("Esc cancel", classes="hint")

    def on_mount(self) -> None:
        buttons = list(self.query(Button))
        if buttons:
            buttons[0].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "choice-0").removeprefix("choice-"))
        self.dismiss(self.choices[index][0])

    def action_cancel(self) -> None:
        self.dismiss(None)
