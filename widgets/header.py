"""The top line: what is watched, DRILL / READ-ONLY, how many alerts fire, the incident's
state (or DEGRADED since when), and the UTC clock. At 80 columns the shorter phrasings and
then the environment give way before the time a failure began is cut.

Under it, only when there is something to say, up to three lines of notices: why the cockpit is
read-only (a store it cannot open), what is not saved yet, a revert running or whose outcome is
unknown. The essential words come first, so that 80 columns show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from textual.widget import Widget

from cockpit.states import IncidentStatus
from cockpit.term.textsafe import Inert, one_line
from cockpit.timeutil import local_hm, utc_hm, utcnow
from widgets.glyphs import current
from widgets.inert import InertContent, Part, cut, lines, text

if TYPE_CHECKING:
    from cockpit.model import Incident


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
        # While degraded: the core's phrasings, longest first (cockpit.view.header).
        self.degraded_words: tuple[str, ...] = ()
        self.incident_known = True  # False: the store was never read (offline since start)
        self.alerts = 0  # firing alerts (Alertmanager), not silenced
        self.notices: tuple[tuple[Inert, str], ...] = ()  # (text, style of ours)
        self.status_times: dict[IncidentStatus, datetime] = {}
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
        status_times: Mapping[IncidentStatus, datetime] | None = None,
        alerts: int = 0,
        incident_known: bool = True,
        degraded_words: tuple[str, ...] = (),
    ) -> None:
        times = dict(status_times or {})
        fields = (
            service,
            environment,
            drill,
            incident,
            degraded,
            times,
            alerts,
            incident_known,
            degraded_words,
        )
        shown = (
            self.service,
            self.environment,
            self.drill,
            self.incident,
            self.degraded,
            self.status_times,
            self.alerts,
            self.incident_known,
            self.degraded_words,
        )
        if fields == shown:
            return  # unchanged: no repaint
        self.service, self.environment, self.drill = service, environment, drill
        self.incident, self.degraded, self.status_times = incident, degraded, times
        self.alerts = alerts
        self.incident_known = incident_known
        self.degraded_words = degraded_words
        self.refresh()

    def _incident_words(self, incident: Incident, room: int) -> Inert:
        """The incident and each status with its own time, as many as fit: the current one
        first ("mitigated 06:04"), then the earlier ones ("declared 05:58")."""
        times = self.status_times
        current = times.get(incident.status)
        if incident.status is IncidentStatus.INVESTIGATING or current is None:
            current = incident.declared_at
        head = f"INCIDENT #{incident.id} {incident.severity} {incident.status} {local_hm(current)}"
        earlier = [
            f"{status.value} {local_hm(at)}"
            for status, at in sorted(times.items(), key=lambda item: item[1], reverse=True)
            if status is not incident.status and status is not IncidentStatus.INVESTIGATING
        ]
        if incident.status is not IncidentStatus.INVESTIGATING:
            earlier.append(f"declared {local_hm(incident.declared_at)}")
        best = head
        for n in range(1, len(earlier) + 1):
            longer = f"{head} ({', '.join(earlier[:n])})"
            if len(longer) > room:
                break
            best = longer
        return one_line(best)

    def _left(self, *, environment: bool, service_room: int = 200) -> list[Part]:
        """The service (cut to `service_room`), the environment if asked, the badges."""
        parts: list[Part] = [(Inert(" " + one_line(self.service, max(1, service_room))), "bold")]
        if environment and self.environment:
            dot = "-" if current().bullet == "*" else "·"
            parts.append((Inert(f" {dot} " + one_line(self.environment, 200)), "$text-muted"))
        if self.drill:
            parts.append((Inert("  DRILL "), "$warning bold reverse"))
        if self.read_only:
            parts.append((Inert("  READ-ONLY "), "$accent bold reverse"))
        if self.alerts:
            word = "ALERT" if self.alerts == 1 else "ALERTS"
            parts.append((Inert(f"  {self.alerts} {word} "), "$error bold reverse"))
        parts.append(Inert("  "))
        return parts

    def _state_words(self) -> list[Part]:
        """The state without an open incident, longest phrasing first."""
        if not self.incident_known:
            return [(Inert("incident not known: store not read yet"), "$warning bold")]
        if self.degraded:
            words = self.degraded_words or ("DEGRADED, no incident declared",)
            return [(one_line(w), "$warning bold") for w in words]
        return [(Inert("no incident"), "$success")]

    def _fitted(self, room: int) -> list[Part]:
        """The left part within `room` cells: each phrasing with the environment, then each
        without it, then the service name cut; the state's last words are never cut."""
        options = self._state_words()
        for environment in (True, False):
            for words in options:
                parts = [*self._left(environment=environment), words]
                if text(*parts).cell_length <= room:
                    return parts
        last = options[-1]
        rest = text(*self._left(environment=False, service_room=0), last).cell_length
        service_room = room - rest + 1
        if service_room >= 4:
            return [*self._left(environment=False, service_room=service_room), last]
        return [*self._left(environment=False), last]

    def render(self) -> InertContent:
        incident = self.incident
        clock_room = self.size.width - len(f"{utc_hm(utcnow())} UTC ") - 1
        if incident is not None and incident.status is not IncidentStatus.RESOLVED:
            parts = self._left(environment=True)
            head = text(*parts)
            parts.append(
                (
                    self._incident_words(incident, clock_room - head.cell_length),
                    "$error bold",
                )
            )
        else:
            parts = self._fitted(clock_room)
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
