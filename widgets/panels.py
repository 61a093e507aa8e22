"""The four panels. Each renders the latest View for its width; none does I/O.

Colours come from theme variables ($error, $warning, $success, ...), so themes, 16-colour
terminals and NO_COLOR all work. Every piece of text is Inert (widgets.inert): placed as plain
Content spans, never parsed as markup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.widget import Widget

from cockpit.detect.change_suspects import Suspect
from cockpit.detect.probes import ProbeState, ProbeView
from cockpit.detect.routes import route_shares, route_text
from cockpit.model import (
    Category,
    Change,
    ErrorSeries,
    Freshness,
    IncidentStatus,
    ProbeResults,
    SentryIssues,
    SourceStatus,
)
from cockpit.sentry.rank import is_rising, rank_issues
from cockpit.term.textsafe import Inert, identity, one_line
from cockpit.timeutil import from_epoch, local_clock, local_hm, local_hms
from widgets.glyphs import ASCII, UNICODE, Glyphs, fit, fit_middle, glyphs
from widgets.graph import axis_labels, bar_rows, columns, covered, marker_row
from widgets.inert import InertContent, Part, cut, lines, pad, set_border, styled, text

if TYPE_CHECKING:
    from cockpit.runtime import View

COSMETIC_REPAINT = 10.0  # seconds


def freshness_label(statuses: Sequence[SourceStatus]) -> Inert:
    """The freshness of a panel's sources in a few words (the border: a stale source's reason
    is too long for it at 80 columns, so it is written out in the panel, see `stale_rows`)."""
    if not statuses:
        return Inert("not configured")
    stale = [s for s in statuses if s.freshness is Freshness.STALE]
    unconfigured = [s for s in statuses if s.freshness is Freshness.UNCONFIGURED]
    if stale:
        first = stale[0]
        since = local_hms(first.stale_since) if first.stale_since else "?"
        others = len(stale) - 1 + len(unconfigured)
        more = f" (+{others})" if others else ""
        return one_line(f"stale since {since}{more}")
    if unconfigured:
        # A secret this shell lacks: said as such, never as "fresh" (the reason is written
        # out in the panel, see `stale_rows`).
        more = f" (+{len(unconfigured) - 1})" if len(unconfigured) > 1 else ""
        return Inert(f"not configured{more}")
    if any(s.freshness is Freshness.LOADING for s in statuses):
        return Inert("loading")
    # No timestamp while fresh: a clock that ticks with every poll would repaint the border
    # each second for nothing; staleness is what needs a time.
    return Inert("fresh")


# Sources whose panel says why they show nothing new: failing, or lacking a secret here.
NOT_WORKING = (Freshness.STALE, Freshness.UNCONFIGURED)


def stale_rows(statuses: Sequence[SourceStatus], width: int, room: int) -> list[list[Part]]:
    """Why each stale (or not configured) source is not working, whole: the reason first,
    wrapped to the panel's width (at 80 columns a border would cut it to "127.0.0.1…"), in at
    most `room` rows; what does not fit is cut in the middle, so the end (a file's name) still
    shows."""
    import textwrap

    stale = [s for s in statuses if s.freshness in NOT_WORKING]
    rows: list[list[Part]] = []
    span = max(8, width - 2)
    for i, status in enumerate(stale):
        left = room - len(rows)
        if left <= 0:
            break
        if left == 1 and i < len(stale) - 1:
            rows.append([(one_line(f"+{len(stale) - i} more stale sources"), "$warning")])
            break
        said = f"{status.reason or 'failing'} ({status.name})"
        if len(said) > span * left:
            keep = span * left - 1
            said = said[: keep // 2] + "…" + said[len(said) - (keep - keep // 2) :]
        wrapped = textwrap.wrap(said, span, break_on_hyphens=False) or [said]
        for n, piece in enumerate(wrapped[:left]):
            rows.append([(one_line(("! " if n == 0 else "  ") + piece), "$warning")])
    return rows


class Panel(Widget):
    """A bordered panel that shows one aspect of the latest view.

    Panels whose rows stand for things (probes, issues) are focusable: Tab moves between them,
    up/down move a cursor over the things, Enter posts `Panel.Chosen` with the thing's key.
    """

    category: Category
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("enter", "choose", "Details"),
    ]

    class Chosen(Message):
        def __init__(self, panel: Panel, key: str) -> None:
            super().__init__()
            self.panel = panel
            self.key = key

    def __init__(self, *, ascii_only: bool = False, id: str | None = None):
        super().__init__(id=id, classes="panel")
        self.g: Glyphs = glyphs(ascii_only)
        self.view: View | None = None
        self._shown: list[InertContent] = []
        self._items: dict[str, int] = {}  # thing's key -> the row it starts on, last render
        self._painted_at = 0.0
        self._border_texts: tuple[Inert, Inert] = (Inert(""), Inert(""))
        self.selected: str | None = None

    def item(self, key: str, rows: list[list[Part]]) -> None:
        """Called by `lines()`: the next row appended to `rows` starts the thing `key`."""
        self._items[key] = len(rows)

    def action_move(self, step: int) -> None:
        keys = list(self._items)
        if not keys:
            return
        index = keys.index(self.selected) if self.selected in keys else -1
        self.selected = keys[max(0, min(len(keys) - 1, index + step))]
        self.refresh()

    def action_choose(self) -> None:
        if self.selected is None and self._items:
            self.selected = next(iter(self._items))
        if self.selected is not None:
            self.post_message(self.Chosen(self, self.selected))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def show(self, view: View) -> None:
        self.view = view
        statuses = [s for s, _ in view.snapshot.of(self.category)]
        label = freshness_label(statuses)
        self.set_border(subtitle=fit(label, max(8, self.size.width - 4), self.g))
        self.set_class(any(s.freshness is Freshness.STALE for s in statuses), "-stale")
        self.set_class(self.alerting(view), "-alert")
        self.set_border(title=self.title(view))
        # Every repaint sends the whole panel over the SSH link. A change of state (a probe
        # failing, a new issue, a colour) repaints at once; figures that merely drift (latency,
        # counts, sparklines) at most every COSMETIC_REPAINT seconds.
        lines = self._render_lines()
        if _signature(lines) == _signature(self._shown):
            return
        now = time.monotonic()
        if (
            _gist(lines) != _gist(self._shown)
            or now - self._painted_at >= COSMETIC_REPAINT
            or self.has_focus
        ):
            self._painted_at = now
            self._refresh_rows(lines)

    def _refresh_rows(self, lines: list[InertContent]) -> None:
        """Repaint only the content rows that differ from the ones on screen: a repaint of
        the whole panel rewrites its border and every unchanged row over the SSH link."""
        old = _signature(self._shown)
        new = _signature(lines)
        width = self.content_region.width
        if len(old) != len(new) or not width:
            self.refresh()
            return
        for y, (was, now) in enumerate(zip(old, new, strict=True)):
            if was != now:
                self.refresh(Region(0, y, width, 1))

    def set_border(self, *, title: Inert | None = None, subtitle: Inert | None = None) -> None:
        """Border texts, set only when they change (every set repaints the whole panel)."""
        if title is not None and title != self._border_texts[0]:
            self._border_texts = (title, self._border_texts[1])
            set_border(self, title=title)
        if subtitle is not None and subtitle != self._border_texts[1]:
            self._border_texts = (self._border_texts[0], subtitle)
            set_border(self, subtitle=subtitle)

    def alerting(self, view: View) -> bool:
        return False

    def title(self, view: View) -> Inert:
        return Inert(self.BORDER_TITLE)

    def _render_lines(self) -> list[InertContent]:
        width = max(10, self.content_region.width)
        height = max(1, self.content_region.height)
        if self.view is None:
            return [text(Inert("waiting for the first data"))]
        self._items = {}
        statuses = [s for s, _ in self.view.snapshot.of(self.category)]
        stale: list[list[Part]] = []
        if any(s.freshness in NOT_WORKING for s in statuses):
            # The reason gets the rows the panel does not need, and at least half of them.
            own = len(self.lines(self.view, width, height))
            stale = stale_rows(statuses, width, max(height // 2, height - max(1, own)))
            self._items = {}
        if not statuses and self.category is Category.SENTRY:
            # No [[sentry]] at all: saying "no unresolved issues" would be a guess.
            rows: list[list[Part]] = [
                [(Inert("Sentry not configured"), "$warning bold")],
                [(Inert("  add [[sentry]] to the config to see issues here"), "$text-muted")],
            ]
        elif all(s.freshness is Freshness.UNCONFIGURED for s in statuses) and (
            self.category is not Category.PROBE
        ):
            # Nothing this panel could show is true ("no unresolved issues"), only why.
            rows = []
        else:
            rows = self.lines(self.view, width, max(1, height - len(stale))) or [
                [(Inert("nothing yet"), "$text-muted")]
            ]
        # Item rows (the probe or issue each row starts) move down by the stale rows.
        self._items = {key: row + len(stale) for key, row in self._items.items()}
        out = [cut(text(*parts), width) for parts in [*stale, *rows][:height]]
        if self.has_focus and self.selected not in self._items:
            self.selected = next(iter(self._items), None)
        if self.has_focus and self.selected in self._items:
            row = self._items[self.selected]
            if row < len(out):
                out[row] = styled(pad(out[row], width), "reverse")
        return out

    def render(self) -> InertContent:
        self._shown = self._render_lines()
        return lines(self._shown)

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        raise NotImplementedError


def _signature(rows: list[InertContent]) -> list[tuple[str, list[object]]]:
    # Content equality ignores styles; a colour change alone must repaint too.
    return [(line.plain, list(line.spans)) for line in rows]


_DRIFT = str.maketrans("", "", "0123456789.,%" + UNICODE.bars + ASCII.bars)


def _gist(rows: list[InertContent]) -> list[tuple[str, tuple[str, ...]]]:
    """What a panel says without its figures: words and the styles in use."""
    return [
        (line.plain.translate(_DRIFT).replace(" ", ""), tuple(str(s.style) for s in line.spans))
        for line in rows
    ]


# -- probes ---------------------------------------------------------------------------------------


class ProbesPanel(Panel):
    category = Category.PROBE
    BORDER_TITLE = "Probes"
    can_focus = True

    def alerting(self, view: View) -> bool:
        return any(p.state is ProbeState.DOWN for p in view.assessment.probes)

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        probes = {p.name: p for p in view.assessment.probes}
        shown = probe_rows(view)
        name_w = max(6, min(18, max((len(Inert(n)) for n, _ in shown), default=6)))
        if len(shown) > height:
            # Not all fit: the failing ones first, and a count of the rest.
            rank = {ProbeState.DOWN: 0, ProbeState.UNKNOWN: 2, ProbeState.UP: 3}

            def order(row: tuple[str, SourceStatus]) -> int:
                name, status = row
                if status.freshness is Freshness.UNCONFIGURED:
                    return 1
                return rank[probes[name].state] if name in probes else 2

            shown.sort(key=order)
            hidden = shown[height - 1 :]
            shown = shown[: height - 1]
        else:
            hidden = []
        rows: list[list[Part]] = []
        # Room for a detail line under failing probes only while every probe keeps its row.
        spare = height - len(shown) - (1 if hidden else 0)
        for name, status in shown:
            probe = probes.get(name)
            self.item(name, rows)
            rows.append(self._row(name, status, probe, width, name_w))
            if spare <= 0 or probe is None:
                continue
            if probe.only_under_concurrency:
                rows.append([(Inert("  fails only under concurrency"), "$error")])
                spare -= 1
            elif probe.state is ProbeState.DOWN and probe.last and probe.last.error:
                rows.append([(Inert("  " + one_line(probe.last.error)), "$text-muted")])
                spare -= 1
            elif _failing_unconfirmed(probe) and probe.last is not None:
                failed = _failed_in_a_row(probe)
                note = f"  last {failed} round{'s' * (failed > 1)} failed, not down yet"
                error = f": {one_line(probe.last.error)}" if probe.last.error else ""
                rows.append([(Inert(note + error), "$warning")])
                spare -= 1
        if hidden:
            down = sum(1 for n, _ in hidden if n in probes and probes[n].state is ProbeState.DOWN)
            off = sum(1 for _, st in hidden if st.freshness is Freshness.UNCONFIGURED)
            up = sum(1 for n, _ in hidden if n in probes and probes[n].state is ProbeState.UP)
            said = [f"{down} failing"] * bool(down) + [f"{off} not configured"] * bool(off)
            tail = ", " + ", ".join(said) if said else (", all ok" if up == len(hidden) else "")
            rows.append(
                [(Inert(f"+{len(hidden)} more{tail}"), "$error" if down else "$text-muted")]
            )
        return rows

    def title(self, view: View) -> Inert:
        total = len(probe_rows(view))
        up = sum(1 for p in view.assessment.probes if p.state is ProbeState.UP)
        return Inert(f"Probes {up}/{total} up" if total else "Probes")

    def _row(
        self, name: str, status: SourceStatus, probe: ProbeView | None, width: int, name_w: int
    ) -> list[Part]:
        if status.freshness is Freshness.UNCONFIGURED:
            return [
                (Inert(f"{'--':4} "), "$text-muted"),
                Inert(fit_middle(name, name_w, self.g).ljust(name_w)),
                Inert(" "),
                (Inert("not configured"), "$warning"),  # why: above, with the stale reasons
            ]
        if probe is None or probe.last is None:
            what = "stale" if status.freshness is Freshness.STALE else self.g.ellipsis
            return [
                (Inert(f"{'--':4} "), "$text-muted"),
                Inert(fit_middle(name, name_w, self.g).ljust(name_w)),
                Inert(" "),
                Inert(what),
            ]
        state = {
            ProbeState.UP: (Inert("ok  "), "$success"),
            ProbeState.DOWN: (Inert("FAIL"), "$error bold"),
            ProbeState.UNKNOWN: (Inert("... "), "$text-muted"),
        }[probe.state]
        if _failing_unconfirmed(probe):
            # Up by the thresholds, yet its last round failed: never a plain "ok".
            state = (Inert("warn"), "$warning bold")
        last = probe.last
        sessions = f"{last.sessions_ok}/{last.concurrency}"
        latency = f"{last.latency_ms:.0f}ms" if last.latency_ms is not None else "-"
        # Fails only with several sessions at once while one session passes: said in the row
        # itself, since at 80x24 there is no room for the line that explains it.
        only = probe.only_under_concurrency
        parts: list[Part] = [
            state,
            Inert(" "),
            Inert(fit_middle(name, name_w, self.g).ljust(name_w)),
            Inert(" "),
            (Inert(sessions.rjust(5)), "$error" if not last.ok else ""),
            Inert(" "),
            (Inert("concur"), "$error bold") if only else Inert(latency.rjust(6)),
        ]
        room = width - (4 + 1 + name_w + 1 + 5 + 1 + 6)
        optional: list[tuple[int, Part]] = []
        if probe.p50_ms is not None:
            optional.append((10, (Inert(f" p50 {probe.p50_ms:.0f}".ljust(10)), "$text-muted")))
        if probe.since is not None and self.view is not None:
            # Coarse on purpose: it changes once a minute at most (fewer repaints).
            age = coarse_age(probe.since, self.view.snapshot.at)
            optional.append((5, (Inert(f" {age:>4}"), "$text-muted")))
        optional.append((7, (Inert(f" {fit(probe.kind, 6, self.g):<6}"), "$text-muted")))
        for cost, part in optional:
            if room >= cost:
                parts.append(part)
                room -= cost
        if room >= 6 and probe.latencies:
            spark = bar_rows(probe.latencies[-(room - 1) :], 1, self.g)[0]
            parts.append((Inert(" " + spark), "$accent"))
        if status.freshness is Freshness.STALE:
            parts.append((Inert(" stale"), "$warning"))
        return parts


def _failing_unconfirmed(probe: ProbeView) -> bool:
    """Its last round failed, but not yet often enough in a row to count as down."""
    return probe.state is not ProbeState.DOWN and probe.last is not None and not probe.last.ok


def _failed_in_a_row(probe: ProbeView) -> int:
    count = 0
    for result in reversed(probe.history):
        if result.ok:
            break
        count += 1
    return max(count, 1)


def probe_rows(view: View) -> list[tuple[str, SourceStatus]]:
    """Every probe with its source's status: a source may report many probes (a fleet read
    from Prometheus), each shown as a probe of its own."""
    out: list[tuple[str, SourceStatus]] = []
    for status, reading in view.snapshot.of(Category.PROBE):
        if isinstance(reading, ProbeResults):
            out.extend((r.name, status) for r in reading.results)
        else:
            out.append((status.name, status))
    return out


def coarse_age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def view_time(view: View | None) -> datetime | None:
    return view.snapshot.at if view else None


# -- changes --------------------------------------------------------------------------------------

KIND_LABELS = {"deploy": "deploy", "package": "pkg", "config": "config", "maintenance": "maint"}


def shown_changes(view: View) -> tuple[tuple[Change, ...], dict[str, tuple[int, Suspect | None]]]:
    """The changes to list, suspects first (in their order) while degraded, then the rest
    newest first; and for each suspect's key, its rank and why."""
    from cockpit.sources.changes.merge import change_from_deploy, change_key

    a = view.assessment
    changes = a.changes or tuple(change_from_deploy(d) for d in a.deploys)
    ranks: dict[str, tuple[int, Suspect | None]] = {}
    if a.degraded:
        for rank, suspect in enumerate(a.suspects, start=1):
            ranks.setdefault(change_key(suspect.change), (rank, suspect))
        if not ranks and a.suspect is not None:
            ranks[change_key(change_from_deploy(a.suspect))] = (1, None)
    first = sorted(
        (c for c in changes if change_key(c) in ranks), key=lambda c: ranks[change_key(c)][0]
    )
    rest = [c for c in changes if change_key(c) not in ranks]
    return (*first, *rest), ranks


class ChangesPanel(Panel):
    """Deploys, package upgrades, config commits, maintenance runs, flags: newest first, and
    while degraded the suspects first, each with why. Up/down select one: `R` reverts it."""

    category = Category.DEPLOYS
    BORDER_TITLE = "Changes"
    can_focus = True

    def alerting(self, view: View) -> bool:
        a = view.assessment
        return a.degraded and (bool(a.suspects) or a.suspect is not None)

    def title(self, view: View) -> Inert:
        count = len(view.assessment.suspects) if view.assessment.degraded else 0
        return Inert(f"Changes · {count} suspect{'s' * (count != 1)}" if count else "Changes")

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        from cockpit.sources.changes.merge import change_key

        changes, ranks = shown_changes(view)
        rows: list[list[Part]] = []
        for change in changes:
            key = change_key(change)
            ranked = ranks.get(key)
            # Suspects get their why; the others a second row only when no suspect needs it.
            two = ranked is not None or not ranks
            if len(rows) + (2 if two and len(rows) + 2 <= height else 1) > height:
                break
            self.item(key, rows)
            rows.append(self._head(change, ranked, len(ranks), width))
            if two and len(rows) < height:
                rows.append(self._second(change, ranked))
        return rows

    def _head(
        self,
        c: Change,
        ranked: tuple[int, Suspect | None] | None,
        suspects: int,
        width: int,
    ) -> list[Part]:
        kind = KIND_LABELS.get(str(c.kind), fit(c.kind, 6, self.g))
        head: list[Part] = [
            (Inert(local_clock(c.at, view_time(self.view), seconds=False)), "$text-muted"),
            Inert(" "),
            (Inert(kind), "$accent"),
            Inert(" "),
        ]
        if c.host:
            head += [(identity(c.host, 20), "$text-muted"), Inert(" ")]
        # SUSPECT always shows: what the change is gets the room that is left.
        label = (" SUSPECT" + (f" {ranked[0]}" if suspects > 1 else "")) if ranked else ""
        room = width - sum(len(part[0] if isinstance(part, tuple) else part) for part in head)
        room -= len(label)
        d = c.deploy
        if d is not None:
            rollback = f" rollback of {identity(d.reverts)}" if d.reverts else ""
            version = fit(identity(d.version), max(4, room - len(rollback)), self.g)
            who = fit(one_line(d.who, 100), room - len(version) - len(rollback) - 1, self.g)
            head += [(version, "bold")] + ([Inert(" "), who] if who else [])
            if rollback:
                head.append((fit(rollback, room - len(version), self.g), "$success"))
        else:
            head.append((fit(one_line(c.what, 300), max(4, room), self.g), "bold"))
        if label:
            head.append((Inert(label), "$error bold"))
        return head

    def _second(self, c: Change, ranked: tuple[int, Suspect | None] | None) -> list[Part]:
        if ranked is not None and ranked[1] is not None:
            return [(Inert("  why: " + one_line(ranked[1].reasons, 500)), "$warning")]
        d = c.deploy
        if d is not None:
            summary = f"{identity(d.service)}: {d.summary}" if d.service else d.summary
            return [(Inert("  " + one_line(summary)), "$text-muted")]
        by = f"by {c.by}" if c.by else ""
        paths = ", ".join(str(p) for p in c.paths[:3])
        said = " · ".join(p for p in (by, paths or str(c.detail)) if p)
        return [(Inert("  " + one_line(said or str(c.source))), "$text-muted")]


DeploysPanel = ChangesPanel  # the name the panel had while it listed deploys only


# -- 5xx ------------------------------------------------------------------------------------------


ZOOMS = ((300, "5 min"), (1800, "30 min"), (10800, "3 h"))


class ErrorsPanel(Panel):
    category = Category.ERRORS
    BORDER_TITLE = "5xx"
    can_focus = True

    def __init__(self, *, ascii_only: bool = False, id: str | None = None):
        super().__init__(ascii_only=ascii_only, id=id)
        self.zoom = 1  # index into ZOOMS

    def cycle_zoom(self) -> str:
        self.zoom = (self.zoom + 1) % len(ZOOMS)
        if self.view is not None:
            self.show(self.view)
        return ZOOMS[self.zoom][1]

    def alerting(self, view: View) -> bool:
        return bool(view.assessment.spikes)

    def title(self, view: View) -> Inert:
        return Inert(f"5xx · {ZOOMS[self.zoom][1]}")

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        series = [r for _, r in view.snapshot.of(Category.ERRORS) if isinstance(r, ErrorSeries)]
        if not series:
            return []
        span = ZOOMS[self.zoom][0]
        rows = [self._summary(view, s, width, span, named=len(series) > 1) for s in series]
        # Where the 5xx go comes before the graph: at 80x24 one row, more when there is room.
        room = max(0, height - len(rows) - 4)
        routes = self._routes(view, series, width, max(1, min(3, room)), span)
        if routes and height - len(rows) - len(routes) < 3:
            routes = routes[: max(0, height - len(rows) - 3)] or routes[:1]
        if routes:
            self.item("routes", rows)
        rows.extend(routes)
        graph_h = height - len(rows)
        if graph_h >= 3:
            rows.extend(self._graph(view, series[0], width, graph_h, span))
        return rows

    def _routes(
        self, view: View, series: list[ErrorSeries], width: int, count: int, span: int
    ) -> list[list[Part]]:
        """The top failing routes with their share of the 5xx: since the spike began while
        one is open, else over the zoom's window."""
        for s in series:
            if not s.routes_known:
                continue
            spike = next((x for x in view.assessment.spikes if x.source == s.source), None)
            since = spike.start if spike else view.snapshot.at - timedelta(seconds=span)
            shares = route_shares(s, since)
            if not shares:
                continue
            style = "$error" if spike else "$text-muted"
            if count == 1:
                # One row: as many routes as fit, GET (the usual method) left implicit.
                items = [
                    f"{route_text(r.route).removeprefix('GET ')} {r.share:.0%}" for r in shares
                ]
                line = items[0]
                for i, item in enumerate(items[1:], start=1):
                    rest = len(items) - i - 1
                    candidate = f"{line}, {item}"
                    if len(candidate) + (len(f" +{rest}") if rest else 0) > width:
                        line += f" +{len(items) - i}"
                        break
                    line = candidate
                return [[(Inert(fit(line, width, self.g)), style)]]
            rows: list[list[Part]] = []
            for r in shares[:count]:
                figures = f" {r.count} {r.share:.0%}"
                where = fit(route_text(r.route), max(4, width - len(figures) - 2), self.g)
                rows.append([(Inert(f"{self.g.rising} {where}"), style), Inert(figures)])
            return rows
        return []

    def _summary(
        self, view: View, s: ErrorSeries, width: int, span: int, *, named: bool
    ) -> list[Part]:
        complete = s.buckets[:-1]  # the newest bucket is still filling
        width_s = timedelta(seconds=s.bucket_seconds)
        # Buckets from before the first logged request would read as "no traffic".
        recent = [b for b in complete[-2:] if s.first_ts is None or b.start + width_s > s.first_ts]
        if recent:
            seconds = len(recent) * s.bucket_seconds
        else:  # traffic has only just begun: the filling bucket, over the time it has filled
            recent = list(s.buckets[-1:])
            seconds = int((view.snapshot.at - recent[0].start).total_seconds()) if recent else 0
        seconds = max(1, seconds)
        req = sum(b.requests for b in recent) / seconds
        err = sum(b.errors_5xx for b in recent) / seconds
        ratio = err / req if req else 0.0
        spike = next((x for x in view.assessment.spikes if x.source == s.source), None)
        older = complete[:-2]
        old_req = sum(b.requests for b in older)
        baseline = (
            spike.baseline
            if spike is not None
            else (sum(b.errors_5xx for b in older) / old_req if old_req else 0.0)
        )
        parts: list[Part] = []
        if named:
            parts.append((Inert(fit(s.source, 10, self.g) + " "), "bold"))
        if s.behind:
            # A large read-back still being read (newest first): the counts are partial.
            parts.append((Inert("still reading back  "), "$warning"))
        if not any(b.requests for b in s.buckets):
            # Nothing logged yet: 0.0% would read as "healthy".
            return [*parts, (Inert("no requests logged yet"), "$text-muted")]
        parts += [
            (Inert(f"{ratio:.1%}"), "$error bold" if spike is not None else "$success"),
            Inert(f" {err:.1f}/s of {req:.1f} req/s"),
            (Inert(f" base {baseline:.1%}"), "$text-muted"),
        ]
        shown = [b for b in s.buckets if b.start >= view.snapshot.at - timedelta(seconds=span)]
        total = sum(b.requests for b in shown)
        window_ratio = sum(b.errors_5xx for b in shown) / total if total else 0.0
        if width >= 60:
            parts.append((Inert(f"  {window_ratio:.1%} over {ZOOMS[self.zoom][1]}"), "$text-muted"))
        if s.unparsed_lines:
            parts.append((Inert(f"  {s.unparsed_lines} unparsed"), "$warning"))
        return parts

    def _graph(
        self, view: View, s: ErrorSeries, width: int, height: int, span: int
    ) -> list[list[Part]]:
        # Complete buckets only, and a right edge on a bucket boundary: the graph then changes
        # once per bucket, not with every poll (fewer bytes over a slow link).
        buckets = s.buckets[:-1]
        if not buckets:
            return []
        end = buckets[-1].start.timestamp() + s.bucket_seconds
        cols = width
        # A column never shows less than a bucket: short windows draw fewer, wider-spaced columns.
        cols = max(1, min(cols, int(span // s.bucket_seconds)))
        starts = [b.start.timestamp() for b in buckets]
        # The y scale always has its place at the right of the top row, at every zoom.
        scale_room = 8
        cols = max(1, min(cols, width - scale_room))
        errors, step = columns(
            starts,
            [b.errors_5xx for b in buckets],
            end=end,
            span=span,
            width=cols,
            bucket=s.bucket_seconds,
        )
        rates = [e / step for e in errors]
        top = max(rates, default=0.0)
        scale_label = f"{top:.1f}/s" if top else "no 5xx"
        bars = bar_rows(rates, height - 2, self.g)
        begin = end - span
        # A zoom wider than the data: the columns before it hold no data, which is not zero.
        known = covered(starts[0], end, end=end, span=span, width=cols)
        blank = known.index(True) if True in known else cols
        if blank:
            bars = [" " * blank + line[blank:] for line in bars]
        rows: list[list[Part]] = [[(Inert(line), "$error")] for line in bars]
        if rows:
            rows[0] = [*rows[0], (Inert(" " + scale_label[: width - cols - 1]), "$text-muted")]
            if len(rows) > 1:
                rows[-1] = [*rows[-1], (Inert(" 0"), "$text-muted")]

        def column(when: datetime) -> int:
            # A moment inside the still-filling bucket belongs at the right edge.
            index = int((when.timestamp() - begin) // step)
            late = when.timestamp() - end <= s.bucket_seconds
            return cols - 1 if index >= cols and late else index

        marks: dict[int, str] = {}
        for d in view.assessment.deploys:
            marks[column(d.at)] = self.g.marker
        if view.incident is not None:
            marks[column(view.incident.declared_at)] = self.g.declared
            mitigated = view.status_times.get(IncidentStatus.MITIGATED)
            if mitigated is not None:
                marks[column(mitigated)] = self.g.mitigated
        axis = marker_row(cols, marks)
        named = (
            (self.g.marker, "deploy"),
            (self.g.declared, "declared"),
            (self.g.mitigated, "mitigated"),
        )
        legend = "".join(f" {g}{what}" for g, what in named if g in axis)
        tail = legend if width - cols >= len(legend) else ""
        rows.append([(Inert(axis), "$warning"), (Inert(tail), "$text-muted")])
        ticks = [(0, local_hm(from_epoch(begin)))]
        if blank:
            # Say where the data begin instead of drawing the time before it as zero.
            ticks = [(0, "no data"), (blank, "from " + local_hm(from_epoch(starts[0])))]
            if blank + 18 > cols - 5:
                ticks = [(0, "data from " + local_hm(from_epoch(starts[0])))]
        if cols >= 24 and not blank:
            ticks.append((cols // 2 - 2, local_hm(from_epoch(begin + span / 2))))
        ticks.append((cols - 5, local_hm(from_epoch(end))))
        rows.append([(Inert(axis_labels(cols, ticks)), "$text-muted")])
        return rows


# -- Sentry ---------------------------------------------------------------------------------------


class SentryPanel(Panel):
    category = Category.SENTRY
    BORDER_TITLE = "Sentry"
    can_focus = True

    def show(self, view: View) -> None:
        super().show(view)
        limited = [
            r.rate_limited_until
            for _, r in view.snapshot.of(Category.SENTRY)
            if isinstance(r, SentryIssues) and r.rate_limited_until is not None
        ]
        if limited and limited[0] > view.snapshot.at:
            label = f"rate limited until {local_hms(max(limited))}"
            self.set_border(subtitle=fit(label, max(8, self.size.width - 4), self.g))

    def alerting(self, view: View) -> bool:
        return view.assessment.blind_spot is not None

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        rows: list[list[Part]] = []
        if view.assessment.blind_spot:
            a = view.assessment
            since = a.first_failure_at
            before = "" if a.first_failure_known else "before "
            rows.append(
                [
                    (Inert("BLIND SPOT"), "$error bold"),
                    Inert(f" since {before}{local_hms(since)}" if since else ""),
                ]
            )
            # What fails that no issue names: the routes with their share of the 5xx, then
            # the probes; by timing alone when the 5xx source tells no routes.
            named = [
                f"{route_text(r.route).removeprefix('GET ')} {r.share:.0%}" for r in a.blind_routes
            ] + list(a.blind_probes)
            what = ", ".join(named) if named else "5xx (by timing: no route information)"
            rows.append([(Inert(fit(f"  no issue: {what}", width, self.g)), "$error")])
        suspect = view.assessment.suspect
        issues = [
            i
            for _, r in view.snapshot.of(Category.SENTRY)
            if isinstance(r, SentryIssues)
            for i in r.issues
        ]

        def is_new(first_seen: datetime | None) -> bool:
            return bool(suspect and first_seen and first_seen >= suspect.at)

        issues = rank_issues(issues, new_since=suspect.at if suspect else None)
        two_lines = width < 70
        for issue in issues:
            if len(rows) + (2 if two_lines else 1) > height:
                break
            first = local_hm(issue.first_seen) if issue.first_seen else "?"
            row: list[Part] = []
            self.item(issue.id, rows)
            if is_new(issue.first_seen):
                row.append((Inert("NEW "), "$error bold"))
            elif is_rising(issue.trend):
                row.append((Inert(f"{self.g.rising} "), "$warning bold"))
            row += [
                (one_line(issue.short_id, 40), "bold"),
                Inert(" "),
                (
                    one_line(issue.level, 20),
                    "$warning" if issue.level in ("error", "fatal") else "",
                ),
                (
                    Inert(
                        f" {issue.count}ev {issue.user_count}u {first}"
                        if two_lines  # narrow: the figures must fit beside the id
                        else f" {issue.count} events {issue.user_count} users, first {first}"
                    ),
                    "$text-muted",
                ),
            ]
            title = one_line(issue.title)
            if two_lines:
                rows += [row, [Inert("  "), title]]
            else:
                rows.append([*row, Inert("  "), title])
        read = any(
            s.freshness is Freshness.FRESH or s.updated_at is not None
            for s, _ in view.snapshot.of(Category.SENTRY)
        )
        if not issues and read:
            rows.append([(Inert("no unresolved issues"), "$text-muted")])
        return rows
