"""The top line: what is watched, the incident's state, DRILL / READ-ONLY, and the UTC clock."""

from __future__ import annotations

from textual.widget import Widget

from cockpit.model import Incident, IncidentStatus
from cockpit.textsafe import Inert, one_line
from cockpit.timeutil import local_hm, utc_hm, utcnow
from widgets.inert import InertContent, Part, cut, text


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
        self._shown_minute = ""

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
        return text(left, gap, (Inert(clock), "$text-muted"))
