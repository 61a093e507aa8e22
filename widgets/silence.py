"""The silence plan: the matchers (editable), how many of the current alerts they cover (said
in red when more than the selection), a required comment, a bounded duration, who creates it.
Dismisses with a SilenceRequest, or None when cancelled. The coverage is the core's
(`SilencePlan.with_matchers`), recomputed as the matchers are edited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen

from cockpit.actions.silence import SilencePlan, SilenceRefused, checked
from cockpit.alerts.matchers import MatcherError
from cockpit.model import Alert
from cockpit.term.textsafe import Inert, identity, one_line
from widgets.inert import InertLabel, InertStatic, text
from widgets.inert_forms import InertButton, InertInput


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    plan: SilencePlan
    comment: str
    minutes: float


class SilenceScreen(ModalScreen[SilenceRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: SilencePlan, alerts: Sequence[Alert]):
        super().__init__()
        self.plan = plan
        self.alerts = tuple(alerts)

    def compose(self) -> ComposeResult:
        plan = self.plan
        chosen = len(plan.selected)
        what = (
            identity(plan.selected[0].alertname, 60)
            if chosen == 1
            else f"{chosen} alerts of {identity(plan.selected[0].alertname, 60)}"
        )
        with Vertical(classes="dialog wide"):
            yield InertLabel(one_line(f"Silence {what}", 200), classes="dialog-title")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("matchers"), classes="label")
                yield InertInput(Inert(plan.shown_matchers()), id="matchers")
            yield InertStatic(id="coverage")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("comment"), classes="label")
                yield InertInput(placeholder=Inert("why (required)"), id="comment")
            with Horizontal(classes="field"):
                yield InertLabel(Inert("minutes"), classes="label")
                yield InertInput(Inert(str(plan.default_minutes)), id="minutes")
            yield InertStatic(
                one_line(
                    f"created by {plan.created_by}; at most {plan.max_minutes} minutes; "
                    "expire it from the alerts screen (e)"
                ),
                classes="hint",
            )
            yield InertStatic(id="problems", classes="problems")
            with Horizontal(classes="buttons"):
                yield InertButton(Inert("Silence"), variant="error", id="silence", compact=True)
                yield InertButton(Inert("Cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self._coverage()
        self.query_one("#comment", InertInput).focus()

    def _coverage(self) -> bool:
        shown = self.query_one("#coverage", InertStatic)
        try:
            self.plan = self.plan.with_matchers(
                self.query_one("#matchers", InertInput).value, self.alerts
            )
        except MatcherError as exc:
            shown.update(text((one_line(str(exc), 300), "$error")))
            return False
        wide = bool(self.plan.beyond_selection or self.plan.misses)
        shown.update(text((one_line(self.plan.coverage(), 400), "$error bold" if wide else "")))
        return True

    def on_input_changed(self, event: InertInput.Changed) -> None:
        if event.input.id == "matchers":
            self._coverage()

    def _submit(self) -> None:
        problems = self.query_one("#problems", InertStatic)
        if not self._coverage():
            problems.update(Inert("the matchers are not valid"))
            return
        raw = self.query_one("#minutes", InertInput).value.strip()
        try:
            minutes = float(raw)
        except ValueError:
            problems.update(one_line(f"minutes: not a number: {raw}"))
            return
        comment = self.query_one("#comment", InertInput).value.strip()
        try:
            comment, minutes = checked(self.plan, comment, minutes)
        except SilenceRefused as exc:
            problems.update(one_line(str(exc)))
            return
        self.dismiss(SilenceRequest(self.plan, comment, minutes))

    def on_input_submitted(self, event: InertInput.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: InertButton.Pressed) -> None:
        event.stop()
        if event.button.id == "silence":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
