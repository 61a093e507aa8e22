"""The four panels. Each renders the latest View for its width; none does I/O.

Colours come from theme variables ($error, $warning, $success, ...), so themes, 16-colour
terminals and NO_COLOR all work. Every piece of text is Inert (widgets.inert): placed as plain
Content spans, never parsed as markup.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.widget import Widget

from cockpit.states import Category, Freshness, ProbeState
from cockpit.term.textsafe import Inert, identity, one_line
from cockpit.timeutil import from_epoch, local_clock, local_hm, local_hms
from cockpit.view.zooms import DEFAULT_ZOOM, ZOOMS
from widgets.glyphs import ASCII, UNICODE, Glyphs, fit, fit_middle, glyphs
from widgets.graph import axis_labels, bar_rows, marker_row
from widgets.inert import InertContent, Part, cut, lines, pad, set_border, styled, text

if TYPE_CHECKING:
    # The view data is built by the core, loaded once the empty screen is drawn (the panels
    # only ever get it from `show`), so the core is not imported here to start.
    from cockpit.runtime import View
    from cockpit.view.deploys import ChangeRow, DeploysView
    from cockpit.view.errors import ErrorSummary, ErrorsView, GraphData
    from cockpit.view.probes import ProbeRow, ProbesView
    from cockpit.view.sentry import SentryView
    from cockpit.view.sources import SourceLine

COSMETIC_REPAINT = 10.0  # seconds


def freshness_label(statuses: Sequence[SourceLine]) -> Inert:
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


def stale_rows(statuses: Sequence[SourceLine], width: int, room: int) -> list[list[Part]]:
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
        # Each source left gets its share of the rows, so a second one's reason shows too
        # (not only a "(+1)" in the border).
        share = max(1, left // (len(stale) - i))
        said = f"{status.reason or 'failing'} ({status.name})"
        if len(said) > span * share:
            keep = span * share - 1
            said = said[: keep // 2] + "…" + said[len(said) - (keep - keep // 2) :]
        wrapped = textwrap.wrap(said, span, break_on_hyphens=False) or [said]
        for n, piece in enumerate(wrapped[:share]):
            rows.append([(one_line(("! " if n == 0 else "  ") + piece), "$warning")])
    return rows


class Panel(Widget):
    """A bordered panel that shows one aspect of the latest view.

    Each panel takes its slice of the view data the runtime built (`data`); a slice equal to
    the one on screen, at the same size and focus, is not drawn again. Panels whose rows stand
    for things (probes, issues) are focusable: Tab moves between them, up/down move a cursor
    over the things, Enter posts the panel's own message for the thing (`chosen`).
    """

    category: Category
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("enter", "choose", "Details"),
    ]

    def __init__(self, *, ascii_only: bool = False, id: str | None = None):
        super().__init__(id=id, classes="panel")
        self.g: Glyphs = glyphs(ascii_only)
        self.view: View | None = None
        self._shown: list[InertContent] = []
        self._items: dict[str, int] = {}  # thing's key -> the row it starts on, last render
        self._painted_at = 0.0
        self._border_texts: tuple[Inert, Inert] = (Inert(""), Inert(""))
        self._drawn: object = None  # what the rows on screen were drawn from
        self.selected: str | None = None

    def data(self, view: View) -> object:
        """This panel's view data: what its rows are drawn from, comparable."""
        raise NotImplementedError

    def sources(self, view: View) -> Sequence[SourceLine]:
        from cockpit.view.sources import source_lines

        return source_lines(view.snapshot, self.category)

    def chosen(self, key: str) -> Message | None:
        """The message Enter posts for the thing `key` (None: nothing to open)."""
        return None

    def item(self, key: str, rows: list[list[Part]]) -> None:
        """Called by `lines()`: the next row appended to `rows` starts the thing `key`."""
        self._items[key] = len(rows)

    def action_move(self, step: int) -> None:
        keys = list(self._items)
        if not keys:
            return
        index = keys.index(self.selected) if self.selected in keys else -1
        self.selected = keys[max(0, min(len(keys) - 1, index + step))]
        self._repaint()

    def action_choose(self) -> None:
        if self.selected is None and self._items:
            self.selected = next(iter(self._items))
        if self.selected is not None:
            message = self.chosen(self.selected)
            if message is not None:
                self.post_message(message)

    def on_focus(self) -> None:
        # After Textual's own handler has set `has_focus`, which the rows depend on.
        self.call_later(self._repaint)

    def on_blur(self) -> None:
        self.call_later(self._repaint)

    def on_resize(self) -> None:
        self._drawn = None  # drawn for another size

    def _repaint(self) -> None:
        """The cursor moved or focus changed: redraw the rows that differ now."""
        self._drawn = None
        if self.view is not None:
            self.show(self.view)
        else:
            self.refresh()

    def show(self, view: View) -> None:
        self.view = view
        data = self.data(view)
        drawn = (data, self.size, self.has_focus, self.selected, self.state())
        if drawn == self._drawn:
            return  # the same view data at the same size: nothing to draw
        self._drawn = drawn
        statuses = self.sources(view)
        label = freshness_label(statuses)
        self.set_border(subtitle=fit(label, max(8, self.size.width - 4), self.g))
        self.set_class(any(s.freshness is Freshness.STALE for s in statuses), "-stale")
        self.set_class(self.alerting(view), "-alert")
        self.set_border(title=self.title(view))
        # Every repaint sends the panel's rows over the SSH link. A change of state (a probe
        # failing, a new issue, a colour) repaints at once; figures that merely drift (latency,
        # counts, sparklines) at most every COSMETIC_REPAINT seconds.
        lines = self._lines_now()
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
        else:
            self._drawn = None  # a drift held back: drawn with a later view

    def state(self) -> object:
        """The panel's own state the rows depend on besides the view data (e.g. a zoom)."""
        return None

    def _refresh_rows(self, lines: list[InertContent]) -> None:
        """Repaint only the content rows that differ from the ones on screen: a repaint of
        the whole panel rewrites its border and every unchanged row over the SSH link. The
        rows are kept, so `render` does not build them again."""
        old = _signature(self._shown)
        new = _signature(lines)
        width = self.content_region.width
        self._shown = lines
        self._rendered = (self.content_region.size, lines)
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

    def _lines_now(self) -> list[InertContent]:
        width = max(10, self.content_region.width)
        height = max(1, self.content_region.height)
        if self.view is None:
            return [text(Inert("waiting for the first data"))]
        self._items = {}
        statuses = self.sources(self.view)
        stale: list[list[Part]] = []
        # Nothing this panel could show is true ("no unresolved issues"), only why.
        only_why = self.category is not Category.PROBE and all(
            s.freshness is Freshness.UNCONFIGURED for s in statuses
        )
        if any(s.freshness in NOT_WORKING for s in statuses):
            # The reason gets the rows the panel does not need, and at least half of them;
            # all of them when the panel has nothing else to say (a one-row strip at 80x24).
            # A panel with no rows of its own ("nothing yet") needs none: its reason is all.
            own = 0 if only_why else len(self.lines(self.view, width, height))
            stale = stale_rows(statuses, width, max(height // 2, height - own))
            self._items = {}
        if not statuses and self.category is Category.SENTRY:
            # No [[sentry]] at all: saying "no unresolved issues" would be a guess.
            rows: list[list[Part]] = [
                [(Inert("Sentry not configured"), "$warning bold")],
                [(Inert("  add [[sentry]] to the config to see issues here"), "$text-muted")],
            ]
        elif only_why:
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
        # Rows drawn by `show` for this size are used as they are; a layout or a first paint
        # builds them here.
        kept, self._rendered = self._rendered, None
        if kept is not None and kept[0] == self.content_region.size:
            rendered = kept[1]
        else:
            rendered = self._lines_now()
        self._shown = rendered
        return lines(rendered)

    _rendered: tuple[Size, list[InertContent]] | None = None

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

    class ProbeChosen(Message):
        """Enter on a probe: its detail screen."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def chosen(self, key: str) -> Message:
        return self.ProbeChosen(key)

    def data(self, view: View) -> ProbesView:
        return view.panels.probes

    def sources(self, view: View) -> Sequence[SourceLine]:
        return view.panels.probes.sources

    def alerting(self, view: View) -> bool:
        return view.panels.probes.alerting

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        shown = list(view.panels.probes.rows)
        if len(shown) > height:
            # Not all fit: the failing ones first, and a count of the rest.
            shown.sort(key=lambda row: row.rank)
            hidden = shown[height - 1 :]
            shown = shown[: height - 1]
        else:
            hidden = []
        name_w = max(6, min(18, max((len(Inert(r.name)) for r in shown), default=6)))
        rows: list[list[Part]] = []
        # Room for a detail line under failing probes only while every probe keeps its row.
        spare = height - len(shown) - (1 if hidden else 0)
        for probe in shown:
            self.item(probe.name, rows)
            rows.append(self._row(probe, width, name_w, view.snapshot.at))
            if spare <= 0 or probe.state is None:
                continue
            if probe.only_under_concurrency:
                rows.append([(Inert("  fails only under concurrency"), "$error")])
                spare -= 1
            elif probe.state is ProbeState.DOWN and probe.error:
                rows.append([(Inert("  " + one_line(probe.error)), "$text-muted")])
                spare -= 1
            elif probe.unconfirmed:
                failed = probe.failed_in_a_row
                note = f"  last {failed} round{'s' * (failed > 1)} failed, not down yet"
                error = f": {one_line(probe.error)}" if probe.error else ""
                rows.append([(Inert(note + error), "$warning")])
                spare -= 1
        if hidden:
            down = sum(1 for r in hidden if r.state is ProbeState.DOWN)
            off = sum(1 for r in hidden if r.source.freshness is Freshness.UNCONFIGURED)
            up = sum(1 for r in hidden if r.state is ProbeState.UP)
            said = [f"{down} failing"] * bool(down) + [f"{off} not configured"] * bool(off)
            tail = ", " + ", ".join(said) if said else (", all ok" if up == len(hidden) else "")
            rows.append(
                [(Inert(f"+{len(hidden)} more{tail}"), "$error" if down else "$text-muted")]
            )
        return rows

    def title(self, view: View) -> Inert:
        probes = view.panels.probes
        total = len(probes.rows)
        return Inert(f"Probes {probes.up}/{total} up" if total else "Probes")

    def _row(self, probe: ProbeRow, width: int, name_w: int, now: datetime) -> list[Part]:
        name = probe.name
        if probe.source.freshness is Freshness.UNCONFIGURED:
            return [
                (Inert(f"{'--':4} "), "$text-muted"),
                Inert(fit_middle(name, name_w, self.g).ljust(name_w)),
                Inert(" "),
                (Inert("not configured"), "$warning"),  # why: above, with the stale reasons
            ]
        stale = probe.source.freshness is Freshness.STALE
        if probe.state is None:
            what = "stale" if stale else self.g.ellipsis
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
        if probe.unconfirmed:
            # Up by the thresholds, yet its last round failed: never a plain "ok".
            state = (Inert("warn"), "$warning bold")
        sessions = f"{probe.sessions_ok}/{probe.concurrency}"
        latency = f"{probe.latency_ms:.0f}ms" if probe.latency_ms is not None else "-"
        # Fails only with several sessions at once while one session passes: said in the row
        # itself, since at 80x24 there is no room for the line that explains it.
        only = probe.only_under_concurrency
        parts: list[Part] = [
            state,
            Inert(" "),
            Inert(fit_middle(name, name_w, self.g).ljust(name_w)),
            Inert(" "),
            (Inert(sessions.rjust(5)), "$error" if not probe.ok else ""),
            Inert(" "),
            (Inert("concur"), "$error bold") if only else Inert(latency.rjust(6)),
        ]
        room = width - (4 + 1 + name_w + 1 + 5 + 1 + 6)
        optional: list[tuple[int, Part]] = []
        if probe.p50_ms is not None:
            optional.append((10, (Inert(f" p50 {probe.p50_ms:.0f}".ljust(10)), "$text-muted")))
        if probe.since is not None:
            # Coarse on purpose: it changes once a minute at most (fewer repaints).
            age = coarse_age(probe.since, now)
            optional.append((5, (Inert(f" {age:>4}"), "$text-muted")))
        optional.append((7, (Inert(f" {fit(probe.kind, 6, self.g):<6}"), "$text-muted")))
        for cost, part in optional:
            if room >= cost:
                parts.append(part)
                room -= cost
        if room >= 6 and probe.latencies:
            spark = bar_rows(probe.latencies[-(room - 1) :], 1, self.g)[0]
            parts.append((Inert(" " + spark), "$accent"))
        if stale:
            parts.append((Inert(" stale"), "$warning"))
        return parts


def coarse_age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


# -- changes --------------------------------------------------------------------------------------

KIND_LABELS = {"deploy": "deploy", "package": "pkg", "config": "config", "maintenance": "maint"}


class ChangesPanel(Panel):
    """Deploys, package upgrades, config commits, maintenance runs, flags: newest first, and
    while degraded the suspects first, each with why. Up/down select one: `R` reverts it."""

    category = Category.DEPLOYS
    BORDER_TITLE = "Changes"
    can_focus = True

    def data(self, view: View) -> DeploysView:
        return view.panels.deploys

    def sources(self, view: View) -> Sequence[SourceLine]:
        return view.panels.deploys.sources

    def alerting(self, view: View) -> bool:
        return view.panels.deploys.alerting

    def title(self, view: View) -> Inert:
        count = view.panels.deploys.suspects
        more = view.panels.deploys.more_suspects
        if not count:
            return Inert("Changes")
        # The candidates ranked below the listed ones are counted, not listed.
        tail = f" +{more} less likely" if more else ""
        return Inert(f"Changes · {count} suspect{'s' * (count != 1)}{tail}")

    class ChangeChosen(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, ascii_only: bool = False, id: str | None = None):
        super().__init__(ascii_only=ascii_only, id=id)
        self._top = 0  # the first change shown: the list scrolls with the selection

    def chosen(self, key: str) -> Message:
        return self.ChangeChosen(key)

    def action_move(self, step: int) -> None:
        # Over every change listed, not only the ones on screen: the rows scroll to it.
        if self.view is None:
            return
        keys = [row.key for row in self.view.panels.deploys.changes]
        if not keys:
            return
        index = keys.index(self.selected) if self.selected in keys else -1
        self.selected = keys[max(0, min(len(keys) - 1, index + step))]
        self._repaint()

    def state(self) -> object:
        return self._top

    def _why(self, row: ChangeRow, width: int, rows: int | None = None) -> tuple[str, ...]:
        from cockpit.view.deploys import WHY_ROWS, why_lines

        return why_lines(
            tuple(one_line(w, 300) for w in row.why), width, rows or WHY_ROWS, self.g.ellipsis
        )

    def _scrolled(self, data: DeploysView, width: int, height: int) -> int:
        """The first change to show so that the selected one is on screen."""
        keys = [row.key for row in data.changes]
        if not self.has_focus or self.selected not in keys:
            self._top = 0
            return 0
        any_ranked = any(row.rank for row in data.changes)
        sizes = [
            1 + max(1, len(self._why(row, width))) if row.rank else (1 if any_ranked else 2)
            for row in data.changes
        ]
        index = keys.index(self.selected)
        top = min(self._top, index)
        while top < index and sum(sizes[top : index + 1]) > height:
            top += 1
        self._top = top
        return top

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        data = view.panels.deploys
        any_ranked = any(row.rank for row in data.changes)
        rows: list[list[Part]] = []
        shown = data.changes[self._scrolled(data, width, height) :]
        for i, row in enumerate(shown):
            # Suspects get their why (on two rows where it needs them, as long as each
            # suspect after it keeps two); the others a second row only when no suspect
            # needs it.
            two = bool(row.rank) or not any_ranked
            if len(rows) + (2 if two and len(rows) + 2 <= height else 1) > height:
                break
            self.item(row.key, rows)
            rows.append(self._head(row, data.suspects, width, data.now))
            left = height - len(rows)
            if row.rank and row.why and left > 0:
                after = sum(2 for r in shown[i + 1 :] if r.rank)
                from cockpit.view.deploys import WHY_ROWS

                lines_ = self._why(row, width, max(1, min(WHY_ROWS, left - after)))
                rows += [[(Inert(line), "$warning")] for line in lines_[:left]]
            elif two and left > 0:
                rows.append(self._second(row))
        return rows

    def _head(self, row: ChangeRow, suspects: int, width: int, now: datetime | None) -> list[Part]:
        c = row.change
        kind = KIND_LABELS.get(str(c.kind)) or _kind_label(str(c.kind), self.g)
        clock = local_clock(c.at, now, seconds=False)
        host = identity(c.host, 20) if c.host else Inert("")
        # SUSPECT always shows: what the change is gets the room that is left.
        label = (" SUSPECT" + (f" {row.rank}" if suspects > 1 else "")) if row.rank else ""
        fixed = len(kind) + 2 + (len(host) + 1 if host else 0) + len(label)
        d = c.deploy
        rollback = f" rollback of {identity(d.reverts)}" if d is not None and d.reverts else ""
        version = identity(d.version) if d is not None else ""
        who = one_line(d.who, 100) if d is not None else ""
        if d is not None:
            need = len(version) + len(rollback) + (len(who) + 1 if who else 0)
        else:
            need = len(one_line(c.what, 300))
        if " " in clock and len(clock) + fixed + need > width:
            # Another day's change: its date says enough when the room is short.
            clock = clock.split(" ", 1)[0]
        room = width - len(clock) - fixed
        head: list[Part] = [
            (Inert(clock), "$text-muted"),
            Inert(" "),
            (Inert(kind), "$accent"),
            Inert(" "),
        ]
        if host:
            head += [(host, "$text-muted"), Inert(" ")]
        if d is not None:
            from cockpit.view.deploys import version_and_who

            shown_version, shown_who = version_and_who(
                version, who, max(4, room - len(rollback)), self.g.ellipsis
            )
            head.append((Inert(shown_version), "bold"))
            if shown_who:
                head += [Inert(" "), Inert(shown_who)]
            if rollback:
                used = len(shown_version) + (len(shown_who) + 1 if shown_who else 0)
                head.append((fit(rollback, room - used, self.g), "$success"))
        else:
            head.append((fit(one_line(c.what, 300), max(4, room), self.g), "bold"))
        if label:
            head.append((Inert(label), "$error bold"))
        return head

    def _second(self, row: ChangeRow) -> list[Part]:
        c = row.change
        if c.reverted_by:
            return [(Inert("  reverted by " + one_line(c.reverted_by, 300)), "$success")]
        d = c.deploy
        if d is not None:
            summary = f"{identity(d.service)}: {d.summary}" if d.service else d.summary
            return [(Inert("  " + one_line(summary)), "$text-muted")]
        by = f"by {c.by}" if c.by else ""
        paths = ", ".join(str(p) for p in c.paths[:3])
        said = " · ".join(p for p in (by, paths or str(c.detail)) if p)
        return [(Inert("  " + one_line(said or str(c.source))), "$text-muted")]


def _kind_label(kind: str, g: Glyphs) -> Inert:
    """A command's own kind, short: "feature-file" -> "feature", "db-grants" -> "db-gran…"."""
    head = kind.split("-", 1)[0]
    return fit(head if len(head) >= 4 else kind, 7, g)


DeploysPanel = ChangesPanel  # the name the panel had while it listed deploys only


# -- 5xx ------------------------------------------------------------------------------------------


class ErrorsPanel(Panel):
    category = Category.ERRORS
    BORDER_TITLE = "5xx"
    can_focus = True

    class RoutesChosen(Message):
        """Enter on the routes: every failing route."""

    def __init__(self, *, ascii_only: bool = False, id: str | None = None):
        super().__init__(ascii_only=ascii_only, id=id)
        self._chosen_zoom: int | None = None  # index into ZOOMS, once z picked one

    def chosen(self, key: str) -> Message:
        return self.RoutesChosen()

    def data(self, view: View) -> ErrorsView:
        return view.panels.errors

    def sources(self, view: View) -> Sequence[SourceLine]:
        return view.panels.errors.sources

    def state(self) -> object:
        return self.zoom

    @property
    def zoom(self) -> int:
        """The zoom picked with z, else the one the view says fits the data held."""
        if self._chosen_zoom is not None:
            return self._chosen_zoom
        return self.view.panels.errors.zoom if self.view is not None else DEFAULT_ZOOM

    def cycle_zoom(self) -> str:
        self._chosen_zoom = (self.zoom + 1) % len(ZOOMS)
        if self.view is not None:
            self.show(self.view)
        return ZOOMS[self.zoom][1]

    def alerting(self, view: View) -> bool:
        return view.panels.errors.alerting

    def title(self, view: View) -> Inert:
        return Inert(f"5xx · {ZOOMS[self.zoom][1]}")

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        errors = view.panels.errors
        if not errors.summaries:
            return []
        named = len(errors.summaries) > 1
        rows = [self._summary(s, width, named=named) for s in errors.summaries]
        # Where the 5xx go comes before the graph: at 80x24 one row, more when there is room.
        room = max(0, height - len(rows) - 4)
        routes = self._routes(errors, width, max(1, min(3, room)))
        if routes and height - len(rows) - len(routes) < 3:
            routes = routes[: max(0, height - len(rows) - 3)] or routes[:1]
        if routes:
            self.item("routes", rows)
        rows.extend(routes)
        graph_h = height - len(rows)
        if graph_h >= 3 and errors.graph is not None:
            rows.extend(self._graph(errors, errors.graph, width, graph_h, ZOOMS[self.zoom][0]))
        return rows

    def _routes(self, errors: ErrorsView, width: int, count: int) -> list[list[Part]]:
        """The top failing routes with their share of the 5xx: since the spike began while
        one is open, else over the zoom's window."""
        from cockpit.detect.routes import route_text

        if errors.routes is None:
            return []
        shares = errors.routes.per_zoom[self.zoom]
        if not shares:
            return []
        style = "$error" if errors.routes.spike else "$text-muted"
        if count == 1:
            # One row: as many routes as fit, GET (the usual method) left implicit.
            items = [f"{route_text(r.route).removeprefix('GET ')} {r.share:.0%}" for r in shares]
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

    def _summary(self, s: ErrorSummary, width: int, *, named: bool) -> list[Part]:
        parts: list[Part] = []
        if named:
            parts.append((Inert(fit(s.source, 10, self.g) + " "), "bold"))
        if s.behind:
            # A large read-back still being read (newest first): the counts are partial.
            parts.append((Inert("still reading back  "), "$warning"))
        if not s.requests:
            # Nothing logged yet: 0.0% would read as "healthy".
            return [*parts, (Inert("no requests logged yet"), "$text-muted")]
        parts += [
            (Inert(f"{s.ratio:.1%}"), "$error bold" if s.spike else "$success"),
            Inert(f" {s.errors_per_s:.1f}/s of {s.requests_per_s:.1f} req/s"),
            (Inert(f" base {s.baseline:.1%}"), "$text-muted"),
        ]
        if width >= 60 and s.window_ratios:
            window = s.window_ratios[self.zoom]
            parts.append((Inert(f"  {window:.1%} over {ZOOMS[self.zoom][1]}"), "$text-muted"))
        if s.unparsed:
            parts.append((Inert(f"  {s.unparsed} unparsed"), "$warning"))
        return parts

    def _graph(
        self, errors: ErrorsView, graph: GraphData, width: int, height: int, span: int
    ) -> list[list[Part]]:
        # Complete buckets only, and a right edge on a bucket boundary: the graph then changes
        # once per bucket, not with every poll (fewer bytes over a slow link).
        starts = graph.starts
        if not starts:
            return []
        bucket = graph.bucket_seconds
        # A column never shows less than a bucket: short windows draw fewer, wider-spaced columns.
        cols = max(1, min(width, int(span // bucket)))
        # The y scale always has its place at the right of the top row, at every zoom.
        scale_room = 8
        cols = max(1, min(cols, width - scale_room))
        from cockpit.view.graph import graph_columns

        shape = graph_columns(
            starts, graph.errors, bucket=bucket, data_from=graph.first, span=span, width=cols
        )
        begin, end, step = shape.begin, shape.end, shape.step
        top = shape.top
        scale_label = f"{top:.1f}/s" if top else "no 5xx"
        bars = bar_rows(shape.rates, height - 2, self.g)
        # A zoom wider than the data: the columns before it hold no data, which is not zero.
        known = shape.known
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
            late = when.timestamp() - end <= bucket
            return cols - 1 if index >= cols and late else index

        marks: dict[int, str] = {}
        for at in errors.deploys_at:
            marks[column(at)] = self.g.marker
        if errors.declared_at is not None:
            marks[column(errors.declared_at)] = self.g.declared
            if errors.mitigated_at is not None:
                marks[column(errors.mitigated_at)] = self.g.mitigated
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
            since = "from " + graph.data_from
            ticks = [(0, "no data"), (blank, since)]
            if blank + len(since) + 1 > cols - 5:
                ticks = [(0, "data " + since)]
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

    class IssueChosen(Message):
        """Enter on an issue: its latest event."""

        def __init__(self, issue_id: str) -> None:
            super().__init__()
            self.issue_id = issue_id

    def chosen(self, key: str) -> Message:
        return self.IssueChosen(key)

    def data(self, view: View) -> SentryView:
        return view.panels.sentry

    def sources(self, view: View) -> Sequence[SourceLine]:
        return view.panels.sentry.sources

    def show(self, view: View) -> None:
        super().show(view)
        until = view.panels.sentry.rate_limited_until
        if until is not None:
            label = f"rate limited until {local_hms(until)}"
            self.set_border(subtitle=fit(label, max(8, self.size.width - 4), self.g))

    def alerting(self, view: View) -> bool:
        return view.panels.sentry.alerting

    def lines(self, view: View, width: int, height: int) -> list[list[Part]]:
        sentry = view.panels.sentry
        rows: list[list[Part]] = []
        blind = sentry.blind_spot
        if blind is not None:
            before = "" if blind.since_known else "before "
            rows.append(
                [
                    (Inert("BLIND SPOT"), "$error bold"),
                    Inert(f" since {before}{local_hms(blind.since)}" if blind.since else ""),
                ]
            )
        two_lines = width < 70
        if blind is not None:
            # What fails that no issue names: the routes with their share of the 5xx, then
            # the probes; by timing alone when the 5xx source tells no routes. On a second
            # row where it needs one and the top issue still has its rows.
            issue_rows = (2 if two_lines else 1) if sentry.rows else 1
            from cockpit.view.sentry import BLIND_ROWS, blind_lines

            what_rows = max(1, min(BLIND_ROWS, height - len(rows) - issue_rows))
            said = blind_lines(blind, width, what_rows, self.g.ellipsis)
            rows += [[(Inert(line), "$error")] for line in said]
        for entry in sentry.rows:
            if len(rows) + (2 if two_lines else 1) > height:
                break
            issue = entry.issue
            first = local_hm(issue.first_seen) if issue.first_seen else "?"
            row: list[Part] = []
            self.item(issue.id, rows)
            if entry.new:
                row.append((Inert("NEW "), "$error bold"))
            elif entry.rising:
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
        if not sentry.rows and sentry.read:
            rows.append([(Inert("no unresolved issues"), "$text-muted")])
        return rows
