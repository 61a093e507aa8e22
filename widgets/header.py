"""The top line: what is watched, the incident's state, DRILL / READ-ONLY, and the UTC clock.

Under it, only when there is something to say, up to three lines of notices: why the cockpit is
read-only (a store it cannot open), what is not saved yet, a revert running or whose outcome is
unknown. The essential words come first, so that 80 columns show them.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from cockpit.model import Incident, IncidentStatus
from cockpit.timeutil import local_hm, utc_hm, utcnow


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
        self.notices: tuple[tuple[str, str], ...] = ()  # (text, style), already inert
        self._shown_minute = ""

    def set_notices(self, notices: tuple[tuple[str, str], ...]) -> None:
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

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = [(f" {self.service}", "bold")]
        if self.environment:
            parts.append((f" · {self.environment}", "$text-muted"))
        if self.drill:
            parts.append(("  DRILL ", "$warning bold reverse"))
        if self.read_only:
            parts.append(("  READ-ONLY ", "$accent bold reverse"))
        parts.append("  ")
        incident = self.incident
        if incident is not None and incident.status is not IncidentStatus.RESOLVED:
            parts.append(
                (
                    f"INCIDENT #{incident.id} {incident.severity} {incident.status} "
                    f"since {local_hm(incident.declared_at)}",
                    "$error bold",
                )
            )
        elif self.degraded:
            parts.append(("DEGRADED, no incident declared", "$warning bold"))
        else:
            parts.append(("no incident", "$success"))
        self._shown_minute = utc_hm(utcnow())
        clock = f"{self._shown_minute} UTC "
        left = Content.assemble(*parts)
        room = self.size.width - len(clock)
        if left.cell_length > room - 1:
            left = left.truncate(max(0, room - 1), ellipsis=True)
        top = Content.assemble(left, " " * max(1, room - left.cell_length), (clock, "$text-muted"))
        if not self.notices:
            return top
        width = max(10, self.size.width - 1)
        lines = [
            Content.assemble(" ", (text, style)).truncate(width, ellipsis=True)
            for text, style in self.notices
        ]
        return Content("\n").join([top, *lines])
