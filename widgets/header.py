"""The top line: what is watched, the incident's state, DRILL / READ-ONLY, and the UTC clock.

Under it, only when there is something to say, up to three lines of notices: why the cockpit is
read-only (a store it cannot open), what is not saved yet, a revert running or whose outcome is
unknown. The essential words come first, so that 80 columns show them.
"""

from __future__ import annotations

from textual.widget import Widget

from cockpit.model import Incident, IncidentStatus
from cockpit.textsafe import Inert, one_line
from cockpit.timeutil import local_hm, utc_hm, utcnow
from widgets.inert import InertContent, Part, cut, lines, text


class CockpitHeader(Widget):
    DEFAULT_CSS = """
    CockpitHeader { height: 1; background: $panel; color: $text; }
    """

    def __init__(self, *, read_only: bool = False, id: str | None = None):
        super().__init__(id=id)
        self.service = "starting…"
        self.environment = ""
        self.drill = False
        self.read_only = read_only
        self.incident: Incident | None = None
        self.degraded = False
        self.notices: tuple[tuple[Inert, str], ...] = ()  # (text, style of ours)
        self._shown_minute = ""

    def set_notices(self, notices: tuple[tuple[Inert, str], ...]) -> None:
        if notices == self.notices:
            return
        self.notices = notices
        self.styles.height = 1 + len(notices)
        self.refresh()

    def set_read_only(self, read_only: bool) -> None:
        if read_only != self.read_only:
            self.read_only = read_only
            self.refresh()

    def on_mount(self) -> None:
        # The clock shows minutes: a repaint a minute, not a second (bytes over SSH).
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if utc_hm(utcnow()) != self._shown_minute:
            self.refresh()

    def show(
        self,
        *,
        service: str,
        environment: str,
        drill: bool,
        incident: Incident | None,
        degraded: bool,
    ) -> None:
        fields = (service, environment, drill, incident, degraded)
        if fields == (self.service, self.environment, self.drill, self.incident, self.degraded):
            return  # unchanged: no repaint
        self.service, self.environment, self.drill = service, environment, drill
        self.incident, self.degraded = incident, degraded
        self.refresh()

    def render(self) -> InertContent:
        parts: list[Part] = [(Inert(" " + one_line(self.service, 200)), "bold")]
        if self.environment:
            parts.append((Inert(" · " + one_line(self.environment, 200)), "$text-muted"))
        if self.drill:
            parts.append((Inert("  DRILL "), "$warning bold reverse"))
        if self.read_only:
            parts.append((Inert("  READ-ONLY "), "$accent bold reverse"))
        parts.append(Inert("  "))
        incident = self.incident
        if incident is not None and incident.status is not IncidentStatus.RESOLVED:
            parts.append(
                (
                    one_line(
                        f"INCIDENT #{incident.id} {incident.severity} {incident.status} "
                        f"since {local_hm(incident.declared_at)}"
                    ),
                    "$error bold",
                )
            )
        elif self.degraded:
            parts.append((Inert("DEGRADED, no incident declared"), "$warning bold"))
        else:
            parts.append((Inert("no incident"), "$success"))
        self._shown_minute = utc_hm(utcnow())
        clock = f"{self._shown_minute} UTC "
        left = text(*parts)
        room = self.size.width - len(clock)
        if left.cell_length > room - 1:
            left = cut(left, room - 1)
        gap = Inert(" " * max(1, room - left.cell_length))
        top = text(left, gap, (Inert(clock), "$text-muted"))
        if not self.notices:
            return top
        width = max(10, self.size.width - 1)
        rows = [cut(text(Inert(" "), (note, style)), width) for note, style in self.notices]
        return lines([top, *rows])
