"""The page: Alertmanager's alerts on the main screen (a strip above the panels, as tall as
the screen allows) and all of them on Enter, with labels, annotations and the silences that
cover them. Renders the `AlertsView` the runtime built; asks the app to silence or expire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen

from cockpit.keys import ACTIONS_BY_NAME, on_screen
from cockpit.states import Category
from cockpit.term.textsafe import Inert, identity, one_line
from cockpit.timeutil import local_clock, local_hm
from widgets.inert import (
    InertContent,
    InertLabel,
    InertStatic,
    Part,
    lines,
    pad,
    styled,
    text,
    toast,
)
from widgets.keys import bindings
from widgets.panels import Panel

if TYPE_CHECKING:
    from cockpit.alerts.view import AlertGroup, AlertsView
    from cockpit.model import Alert
    from cockpit.runtime import View


def rows_allowed(screen_height: int) -> int:
    """Group rows the strip may take: at 24 rows the four panels keep their room."""
    if screen_height < 30:
        return 2
    if screen_height < 40:
        return 4
    return 8


def severity_style(severity: str) -> str:
    s = severity.lower()
    if s in ("critical", "page", "error", "high"):
        return "$error bold"
    if s in ("warning", "warn"):
        return "$warning bold"
    return "$text-muted"


def group_row(group: AlertGroup) -> list[Part]:
    firing = group.firing
    count = len(group.alerts)
    row: list[Part] = [
        (identity(group.severity or "-", 10), severity_style(group.severity)),
        Inert(" "),
        (identity(group.alertname or "(no alertname)", 60), "bold" if firing else "$text-muted"),
    ]
    if count > 1:
        row.append(Inert(f" x{count}"))
    row.append((Inert(f"  since {local_hm(group.since)}"), "$text-muted"))
    if not firing:
        row.append((Inert("  silenced"), "$text-muted"))
    elif firing < count:
        row.append((Inert(f"  {count - firing} silenced"), "$text-muted"))
    if group.summary:
        row += [Inert("  "), one_line(group.summary, 300)]
    return row


class AlertsPanel(Panel):
    category = Category.ALERTS
    BORDER_TITLE = "Alerts"
    can_focus = True
    DEFAULT_CSS = """
    AlertsPanel { height: 3; }
    """

    class AlertChosen(Message):
        """Enter on an alert group: every alert, that one selected."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def chosen(self, key: str) -> Message:
        return self.AlertChosen(key)

    def data(self, view: View) -> object:
        return (view.alerts, self.sources(view), self._cap())

    def show(self, view: View) -> None:
        alerts = view.alerts
        self.display = alerts.configured
        if not alerts.configured:
            return
        wanted = 2 + max(1, min(len(alerts.groups) + bool(alerts.unreachable), self._cap()))
        if self.styles.height is None or self.styles.height.value != wanted:
            self.styles.height = wanted
        super().show(view)

    def _cap(self) -> int:
        return rows_allowed(self.screen.size.height if self.is_attached else 24)

    def alerting(self, view: View) -> bool:
        return view.alerts.firing > 0

    def title(self, view: View) -> Inert:
        alerts = view.alerts
        if not any(s.updated_at for s, _ in view.snapshot.of(self.category)):
            return Inert("Alerts")  # never read: no count to give, the border says why
        words = [f"Alerts: {alerts.firing} firing"]
        if alerts.suppressed:
            words.append(f"{alerts.suppressed} silenced")
        room = self._cap() - bool(alerts.unreachable)
        hidden = len(alerts.groups) - max(0, room)
        if hidden > 0:
            words.append(f"+{hidden} more: Enter")
        return Inert(", ".join(words))

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        alerts = view.alerts
        rows: list[list[Part]] = []
        for reason in alerts.unreachable[:1]:
            rows.append([(one_line(f"! member {reason}", 300), "$warning")])
        for group in alerts.groups:
            if len(rows) >= height:
                break
            self.item(group.key, rows)
            rows.append(group_row(group))
        if not alerts.alerts and any(s.updated_at for s, _ in view.snapshot.of(self.category)):
            rows.append([(Inert("no alerts firing"), "$success")])
        return rows


# -- every alert ----------------------------------------------------------------------------


class AlertsScreen(ModalScreen[None]):
    """Every alert, grouped, with its labels, annotations and the silences over it. Keys:
    up/down choose an alert; the registry's alerts actions (cockpit/keys.py, remappable in
    [keys]) silence it or its group, expire a silence over it, acknowledge the page."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        *bindings("alerts"),
    ]
    # The screen's actions that change things: refused, with the reason, when read-only.
    WRITES = frozenset(s.action.split("(")[0] for s in on_screen("alerts") if s.writes)

    class SilenceAsked(Message):
        def __init__(self, fingerprint: str, whole_group: bool) -> None:
            super().__init__()
            self.fingerprint = fingerprint
            self.whole_group = whole_group

    class AcknowledgeAsked(Message):
        """The incident's PagerDuty page, acknowledged (Events v2, the dedup key resolve uses)."""

    class ExpireAsked(Message):
        def __init__(self, silence_id: str, fingerprint: str) -> None:
            super().__init__()
            self.silence_id = silence_id
            self.fingerprint = fingerprint

    def __init__(self, view: View, group_key: str | None = None):
        super().__init__()
        self.view = view
        group = view.alerts.group(group_key) if group_key else None
        first = group.alerts[0] if group else next(iter(ordered(view.alerts)), None)
        self.selected: str | None = first.fingerprint if first else None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield InertLabel(Inert("Alerts"), classes="dialog-title", id="alerts-title")
            with VerticalScroll(classes="scroll"):
                yield InertStatic(id="alert-rows")
            yield InertStatic(classes="hint", id="alerts-keys")

    def on_mount(self) -> None:
        self.query_one("#alerts-keys", InertStatic).update(self.keys_hint())
        self.show(self.view)

    def keys_hint(self) -> Inert:
        """The keys as bound (the config may have moved them), in the registry's order."""
        shown = {
            active.binding.id: self.app.get_key_display(active.binding)
            for active in self.active_bindings.values()
            if active.binding.id in ACTIONS_BY_NAME
        }
        words = [
            f"{shown[s.name]} {s.label.lower()}" for s in on_screen("alerts") if s.name in shown
        ]
        return Inert("  ".join(["up/down choose", *words, "Esc close"]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        read_only = bool(self.view.read_only)
        if action == "refuse":
            return read_only
        if action in self.WRITES and read_only:
            return None  # the key says why (action_refuse)
        return True

    def action_refuse(self, action: str) -> None:
        spec = ACTIONS_BY_NAME[action]
        said = f"read-only: {spec.label.lower()} is disabled ({self.view.read_only})"
        toast(self.app, one_line(said), severity="warning", timeout=8)

    def show(self, view: View) -> None:
        """Called by the app with every new view, so the list stays live."""
        self.view = view
        alerts = view.alerts
        if self.selected is None or alerts.alert(self.selected) is None:
            first = next(iter(ordered(alerts)), None)
            self.selected = first.fingerprint if first else None
        title = f"Alerts: {alerts.firing} firing, {alerts.suppressed} silenced"
        self.query_one("#alerts-title", InertLabel).update(Inert(title))
        self.query_one("#alert-rows", InertStatic).update(
            alert_rows(alerts, self.selected, max(20, self.size.width - 8), view)
        )

    def action_move(self, step: int) -> None:
        order = [a.fingerprint for a in ordered(self.view.alerts)]
        if not order:
            return
        index = order.index(self.selected) if self.selected in order else -1
        self.selected = order[max(0, min(len(order) - 1, index + step))]
        self.show(self.view)

    def action_silence(self, whole_group: bool) -> None:
        if self.selected is not None:
            self.post_message(self.SilenceAsked(self.selected, whole_group))

    def action_acknowledge(self) -> None:
        self.post_message(self.AcknowledgeAsked())

    def action_expire(self) -> None:
        alert = self.view.alerts.alert(self.selected) if self.selected else None
        if alert is None:
            return
        over = [s for s in self.view.alerts.covering(alert) if s.state == "active"]
        if over:
            self.post_message(self.ExpireAsked(over[0].id, alert.fingerprint))


def ordered(alerts: AlertsView) -> list[Alert]:
    return [a for g in alerts.groups for a in g.alerts]


def alert_rows(alerts: AlertsView, selected: str | None, width: int, view: View) -> InertContent:
    from cockpit.alerts.matchers import shown

    out: list[InertContent] = []
    if not alerts.alerts:
        return text((Inert("no alerts"), "$text-muted"))
    for group in alerts.groups:
        out.append(text(*group_row(group)))
        for alert in group.alerts:
            state = "silenced" if alert.suppressed else "firing"
            head = text(
                Inert("  "),
                (Inert(state.upper()), "$text-muted" if alert.suppressed else "$error bold"),
                Inert(f" since {local_clock(alert.starts_at, view.snapshot.at)}  "),
                identity(alert.label("instance") or alert.fingerprint, 80),
            )
            if alert.fingerprint == selected:
                head = styled(pad(head, width), "reverse")
            out.append(head)
            labels = ", ".join(f"{k}={v}" for k, v in alert.labels)
            out.append(text((Inert("    labels "), "$text-muted"), identity(labels, 2000)))
            for name, value in alert.annotations:
                out.append(
                    text((identity(f"    {name} ", 80), "$text-muted"), one_line(value, 2000))
                )
            for silence in alerts.covering(alert):
                out.append(
                    text(
                        (Inert("    silenced by "), "$text-muted"),
                        identity(silence.created_by or "?", 60),
                        Inert(f" until {local_clock(silence.ends_at, view.snapshot.at)}: "),
                        one_line(silence.comment, 300),
                        (Inert(f"  [{shown(silence.matchers)}]"), "$text-muted"),
                    )
                )
    return lines(out)
