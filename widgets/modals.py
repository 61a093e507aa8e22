"""Modal screens for user intent. They collect and confirm; the app does the acting."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen

from cockpit.actions.change_revert import ChangeRevertPlan
from cockpit.actions.guarded import describe_outcome
from cockpit.actions.lock import LockHolder
from cockpit.actions.revert import RevertOutcome, RevertPlan
from cockpit.actions.runbook import ActionPlan
from cockpit.incident.declare import DeclareRequest, parse_when
from cockpit.keys import ACTION_SPECS
from cockpit.model import SEVERITIES, IncidentStatus, TimelineEvent
from cockpit.term.textsafe import Inert, identity, one_line
from cockpit.timeutil import local_hms, utc_hms
from widgets.glyphs import current
from widgets.inert import InertLabel, InertStatic, Part, text, toast
from widgets.inert_forms import InertButton, InertInput, InertLog, InertSelect


def ascii_arrows(screen: ModalScreen[Any]) -> None:
    """A select's arrows drawn in ASCII where the terminal is."""
    if current().arrow == "->":
        for arrow in screen.query("SelectCurrent .arrow"):
            update = getattr(arrow, "update", None)
            if update is not None:
                update(Inert("^" if arrow.has_class("up-arrow") else "v"))


class DeclareScreen(ModalScreen[DeclareRequest | None]):
    """Title, severity, commander, summary -> a DeclareRequest, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, defaults: DeclareRequest):
        super().__init__()
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        d = self.defaults
        with Vertical(classes="dialog"):
            yield InertLabel(Inert("Declare an incident"), classes="dialog-title")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("title"), classes="label")
                yield InertInput(
                    Inert(d.title), placeholder=Inert("what is broken"), id="title", compact=True
                )
            with Horizontal(classes="field"):
                yield InertLabel(Inert("severity"), classes="label")
                yield InertSelect(
                    [(Inert(s), s) for s in SEVERITIES],
                    value=d.severity,
                    allow_blank=False,
                    id="severity",
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield InertLabel(Inert("commander"), classes="label")
                yield InertInput(
                    Inert(d.commander), placeholder=Inert("who leads"), id="commander", compact=True
                )
            with Horizontal(classes="field"):
                yield InertLabel(Inert("summary"), classes="label")
                yield InertInput(
                    Inert(d.summary), placeholder=Inert("optional"), id="summary", compact=True
                )
            with Horizontal(classes="field"):
                yield InertLabel(Inert("impact from"), classes="label")
                yield InertInput(
                    Inert(local_hms(d.impact_started_at) if d.impact_started_at else ""),
                    placeholder=Inert("local HH:MM[:SS] or ISO with zone; empty = now"),
                    id="impact",
                    compact=True,
                )
            started = (
                f"impact start defaults to the first failure: {local_hms(d.impact_started_at)} "
                f"({utc_hms(d.impact_started_at)} UTC)"
                if d.impact_started_at
                else "no failure seen yet: empty impact start means the declaration time"
            )
            yield InertStatic(Inert(started), classes="hint")
            yield InertStatic(id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                yield InertButton(Inert("Declare"), variant="error", id="declare", compact=True)
                yield InertButton(Inert("Cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#title", InertInput).focus()
        ascii_arrows(self)

    def _impact(self) -> datetime | None:
        typed = self.query_one("#impact", InertInput).value.strip()
        default = self.defaults.impact_started_at
        if not typed:
            return None
        if default is not None and typed == local_hms(default):
            return default  # untouched: keep the sub-second time the detector saw
        return parse_when(typed)

    def _request(self, impact: datetime | None) -> DeclareRequest:
        severity = self.query_one("#severity", InertSelect).value
        return DeclareRequest(
            title=self.query_one("#title", InertInput).value.strip(),
            severity=str(severity),
            commander=self.query_one("#commander", InertInput).value.strip(),
            summary=self.query_one("#summary", InertInput).value.strip(),
            impact_started_at=impact,
        )

    def _submit(self) -> None:
        try:
            impact = self._impact()
        except ValueError as exc:
            self.query_one("#problems", InertStatic).update(one_line(f"impact start: {exc}"))
            return
        request = self._request(impact)
        problems = request.validate()
        if problems:
            self.query_one("#problems", InertStatic).update(one_line("; ".join(problems)))
            return
        self.dismiss(request)

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
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

    def __init__(
        self, plan: RevertPlan | ChangeRevertPlan | ActionPlan, holder: LockHolder | None = None
    ):
        super().__init__()
        self.plan = plan
        self.holder = holder  # who held the service's lock when the plan was made
        self.running = False
        self.outcome: RevertOutcome | None = None

    def compose(self) -> ComposeResult:
        p = self.plan
        title = f"Run {p.name}" if isinstance(p, ActionPlan) else "Revert"
        service = identity(p.service, 200)
        versions: list[Part] = []
        if isinstance(p, ChangeRevertPlan):
            where = f" on {identity(p.host, 100)}" if p.host else ""
            versions = [
                (Inert("change   "), "$text-muted"),
                (Inert(f"{p.kind} {identity(p.subject, 100)}{where}"), "$error"),
                (Inert(f" ({p.source})"), "$text-muted"),
                Inert("\n"),
                (Inert("what     "), "$text-muted"),
                one_line(p.what, 300),
                Inert("\n"),
            ]
        elif isinstance(p, RevertPlan):
            versions = [
                (Inert("versions "), "$text-muted"),
                (identity(p.from_version, 200), "$error"),
                Inert(" -> "),
                (identity(p.to_version, 200), "$success"),
                Inert("\n"),
            ]
        with Vertical(classes="dialog wide"):
            yield InertLabel(
                one_line(f"{title} (dry run: nothing will be changed)" if p.dry_run else title),
                classes="dialog-title",
            )
            with VerticalScroll(classes="plan"):
                yield InertStatic(
                    text(
                        (Inert("service  "), "$text-muted"),
                        (service, "bold"),
                        Inert("\n"),
                        *versions,
                        (Inert("runs     "), "$text-muted"),
                        one_line(p.command_line(), 2000),
                        Inert("\n"),
                        (Inert("timeout  "), "$text-muted"),
                        Inert(f"{p.timeout:g}s"),
                        *_preflight_lines(p.preflight),
                        *_lock_lines(self.holder),
                    )
                )
            yield InertStatic(
                text(Inert("Type "), (service, "bold"), Inert(" to confirm, Escape to cancel:")),
                id="prompt",
            )
            yield InertInput(placeholder=service, id="confirm", compact=True)
            yield InertStatic(id="problems", classes="problems")
            yield InertLog(id="output", max_lines=500, classes="output")

    def on_mount(self) -> None:
        self.query_one("#confirm", InertInput).focus()

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        if self.running or self.outcome is not None:
            return
        if event.value.strip() != self.plan.service:
            self.query_one("#problems", InertStatic).update(
                text(
                    Inert("does not match; type "),
                    (one_line(self.plan.service, 200), "bold"),
                    Inert(" exactly, or Escape"),
                )
            )
            event.input.value = ""
            return
        self.running = True
        event.input.disabled = True
        self.query_one("#problems", InertStatic).update(Inert(f"running{current().ellipsis}"))
        self.post_message(self.Confirmed(self))

    def add_output(self, line: str) -> None:
        """A line of the command's or the server's output: untrusted, made Inert here."""
        self.query_one("#output", InertLog).write_line(Inert(line))

    def finish(self, outcome: RevertOutcome) -> None:
        self.running = False
        self.outcome = outcome
        if outcome.unknown or not outcome.ran:
            said = describe_outcome(outcome)
        elif outcome.lock_holder is not None:
            said = f"NOT RUN: {outcome.reason}"
        elif outcome.dry_run:
            said = (
                f"dry run: {outcome.reason}" if outcome.ok else f"dry run FAILED: {outcome.reason}"
            )
        else:
            done = "finished" if isinstance(self.plan, ActionPlan) else "reverted"
            said = f"done: {done}" if outcome.ok else f"FAILED: {outcome.reason}"
        style = "$success bold" if outcome.ok else "$error bold"
        self.query_one("#problems", InertStatic).update(
            text((one_line(said, 2000), style), Inert("  (Escape closes)"))
        )
        self.focus()

    def action_close(self) -> None:
        if self.running:
            # It runs in its own process: closing only stops watching it.
            toast(
                self,
                one_line(
                    f"{self.plan.describe()} goes on in its own process; the header shows it, "
                    "w shows its output again"
                ),
                timeout=10,
            )
        self.dismiss(None if self.outcome is None else self.outcome.ok)


def _lock_lines(holder: LockHolder | None) -> list[Part]:
    if holder is None:
        return []
    since = (
        f" since {local_hms(holder.since)} ({utc_hms(holder.since)} UTC)" if holder.since else ""
    )
    where = f" on {holder.host}" if holder.host else ""
    what = f", running {holder.what}" if holder.what else ""
    return [
        Inert("\n"),
        (Inert("lock     "), "$text-muted"),
        (
            one_line(
                f"HELD by {holder.user or 'someone'}{where}{since}{what}: a confirmation is "
                "refused until it is released",
                600,
            ),
            "$error bold",
        ),
    ]


def _preflight_lines(preflight: Sequence[Sequence[str]]) -> list[Part]:
    out: list[Part] = []
    for argv in preflight:
        out += [Inert("\n"), (Inert("check    "), "$text-muted"), one_line(shlex.join(argv))]
    return out


class NoteScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield InertLabel(Inert("Add a note to the timeline"), classes="dialog-title")
            yield InertInput(
                placeholder=Inert("what happened, what you tried"), id="note", compact=True
            )
            yield InertStatic(Inert("Enter adds it, Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#note", InertInput).focus()

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


PANELS_HELP = (
    "Panels: probes (sessions ok/N, latency), recent deploys (SUSPECT = the deploy\n"
    "before the first failure), 5xx per second (markers: deploys, declared), Sentry\n"
    "issues (NEW = first seen after the suspect deploy; BLIND SPOT = failures with no\n"
    "Sentry issue). Stale panels say since when and why."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, rows: Sequence[tuple[str, str]], read_only: bool):
        super().__init__()
        self.rows = rows
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        parts: list[Part] = []
        for key, description in self.rows:
            key_shown = Inert(f"{one_line(key, 40):>8}  ")
            parts += [(key_shown, "bold"), one_line(description), Inert("\n")]
        if self.read_only:
            writes = ", ".join(spec.name for spec in ACTION_SPECS if spec.writes)
            parts.append((Inert(f"read-only: {writes} are disabled\n"), "$warning"))
        parts += [Inert("\n"), (Inert(PANELS_HELP), "$text-muted")]
        with Vertical(classes="dialog wide"):
            yield InertLabel(Inert("Keys (up/down scroll, Esc closes)"), classes="dialog-title")
            with VerticalScroll(classes="scroll", can_focus=True):
                yield InertStatic(text(*parts))

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


class StatusScreen(ModalScreen["tuple[IncidentStatus, datetime | None] | str | None"]):
    """Move the incident along: identified, mitigated, resolved, at the time in the field
    (the verified recovery when there is one, else now; editable), or retry the notifications
    that failed. Dismisses with (status, time or None for now), "retry", or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    NEXT = (IncidentStatus.IDENTIFIED, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)

    def __init__(
        self,
        current: IncidentStatus,
        failed_notifications: int = 0,
        *,
        recovered: TimelineEvent | None = None,
        focus: IncidentStatus | None = None,
    ):
        super().__init__()
        self.current = current
        self.failed = failed_notifications
        self.recovered = recovered
        self.focus_status = focus

    def compose(self) -> ComposeResult:
        order = list(IncidentStatus)
        r = self.recovered
        with Vertical(classes="dialog"):
            yield InertLabel(Inert(f"Incident is {self.current}"), classes="dialog-title")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("at"), classes="label")
                yield InertInput(
                    Inert(local_hms(r.at) if r else ""),
                    placeholder=Inert("local HH:MM[:SS] or ISO with zone; empty = now"),
                    id="at",
                    compact=True,
                )
            yield InertStatic(
                one_line(
                    f"{r.text}: the time above is when it happened ({utc_hms(r.at)} UTC)"
                    if r
                    else "empty: the time recorded is now (correct it later with c)"
                ),
                classes="hint",
            )
            yield InertStatic(id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                for status in self.NEXT:
                    yield InertButton(
                        Inert(status.value),
                        id=f"status-{status.value}",
                        variant="error" if status is IncidentStatus.RESOLVED else "primary",
                        disabled=order.index(status) <= order.index(self.current),
                        compact=True,
                    )
            if self.failed:
                yield InertStatic(
                    Inert(f"{self.failed} notification(s) failed to send"), classes="problems"
                )
                with Horizontal(classes="buttons"):
                    yield InertButton(Inert("Retry notifications"), id="retry", compact=True)
            yield InertStatic(Inert("Enter picks the focused button, Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        enabled = [b for b in self.query(InertButton) if not b.disabled]
        wanted = f"status-{self.focus_status.value}" if self.focus_status else ""
        chosen = next((b for b in enabled if b.id == wanted), enabled[0] if enabled else None)
        if chosen is not None:
            chosen.focus()

    def _at(self) -> datetime | None:
        typed = self.query_one("#at", InertInput).value.strip()
        if not typed:
            return None
        if self.recovered is not None and typed == local_hms(self.recovered.at):
            return self.recovered.at  # untouched: the exact time the check saw
        return parse_when(typed)

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        focused = next(
            (b for b in self.query(InertButton) if not b.disabled and b.id != "retry"), None
        )
        wanted = f"status-{self.focus_status.value}" if self.focus_status else ""
        chosen = next(
            (b for b in self.query(InertButton) if b.id == wanted and not b.disabled), focused
        )
        if chosen is not None:
            chosen.press()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
        event.stop()
        button = event.button.id or ""
        if button == "retry":
            self.dismiss("retry")
        elif button.startswith("status-"):
            try:
                at = self._at()
            except ValueError as exc:
                self.query_one("#problems", InertStatic).update(one_line(f"at: {exc}"))
                return
            self.dismiss((IncidentStatus(button.removeprefix("status-")), at))

    def action_cancel(self) -> None:
        self.dismiss(None)


CORRECTABLE = ("impact-start", "detected", "declared", "identified", "mitigated", "resolved")


class CorrectScreen(ModalScreen["tuple[str, datetime] | None"]):
    """Correct one recorded time (as `cockpit incident correct`): the field, the new time.
    Dismisses with (field, time) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, times: dict[str, datetime | None]):
        super().__init__()
        self.times = times  # field -> as recorded now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield InertLabel(Inert("Correct a recorded time"), classes="dialog-title")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("which"), classes="label")
                yield InertSelect(
                    [(Inert(f"{f}  (now {self._shown(f)})"), f) for f in CORRECTABLE],
                    value="impact-start",
                    allow_blank=False,
                    id="field",
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield InertLabel(Inert("new time"), classes="label")
                yield InertInput(
                    placeholder=Inert("local HH:MM[:SS] or ISO with zone"), id="when", compact=True
                )
            yield InertStatic(
                Inert("the correction is itself on the timeline, with your name"), classes="hint"
            )
            yield InertStatic(id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                yield InertButton(Inert("Correct"), variant="primary", id="correct", compact=True)
                yield InertButton(Inert("Cancel"), id="cancel", compact=True)

    def _shown(self, field: str) -> str:
        at = self.times.get(field)
        return local_hms(at) if at else "unknown"

    def on_mount(self) -> None:
        self.query_one("#when", InertInput).focus()
        ascii_arrows(self)

    def _submit(self) -> None:
        field = str(self.query_one("#field", InertSelect).value)
        try:
            when = parse_when(self.query_one("#when", InertInput).value)
        except ValueError as exc:
            self.query_one("#problems", InertStatic).update(one_line(f"new time: {exc}"))
            return
        self.dismiss((field, when))

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
        event.stop()
        if event.button.id == "correct":
            self._submit()
        else:
            self.dismiss(None)

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
            yield InertLabel(one_line(self.title_text), classes="dialog-title")
            for i, (_, label) in enumerate(self.choices):
                yield InertButton(
                    one_line(label, 200), id=f"choice-{i}", classes="choice", compact=True
                )
            yield InertStatic(Inert("Esc cancel"), classes="hint")

    def on_mount(self) -> None:
        buttons = list(self.query(InertButton))
        if buttons:
            buttons[0].focus()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "choice-0").removeprefix("choice-"))
        self.dismiss(self.choices[index][0])

    def action_cancel(self) -> None:
        self.dismiss(None)
