"""Run `cockpit` with candidate rendering fixes applied in-process, to measure a fix before it is
made in the widgets: the same bench run with and without `--fix` shows what the fix saves.

    python bench/what_if.py --fix titles --fix header -- demo

Fixes (each models a change recommended for widgets/ and cockpit/app.py):
  titles   a border title or subtitle set to what it already is does not repaint the widget
           (Textual's setter always calls refresh(), so a panel that re-sets its titles on
           every view repaints whole, borders and all, many times a second)
  header   the header repaints when what it shows changes, not on every view
  clock    the header clock shows minutes (HH:MM UTC), so the once-a-second tick paints
           nothing until the minute turns
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

FIXES: dict[str, Callable[[], None]] = {}


def fix(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(apply: Callable[[], None]) -> Callable[[], None]:
        FIXES[name] = apply
        return apply

    return register


@fix("titles")
def _titles() -> None:
    from textual.widget import Widget, _BorderTitle

    original = _BorderTitle.__set__

    def set_if_changed(self: _BorderTitle, obj: Widget, title: Any) -> None:
        before = getattr(obj, self._internal_name, None)
        shown = obj.render_str(title) if isinstance(title, str) else title
        if before is not None and shown is not None and _same(before, shown):
            return
        original(self, obj, title)

    _BorderTitle.__set__ = set_if_changed  # type: ignore[method-assign]


def _same(a: Any, b: Any) -> bool:
    return bool(a.plain == b.plain and list(a.spans) == list(b.spans))


@fix("header")
def _header() -> None:
    from widgets.header import CockpitHeader

    original = CockpitHeader.show

    def show_if_changed(self: CockpitHeader, **state: Any) -> None:
        now = tuple(state.items())
        if getattr(self, "_bench_shown", None) == now:
            return
        self._bench_shown = now  # type: ignore[attr-defined]
        original(self, **state)

    CockpitHeader.show = show_if_changed  # type: ignore[method-assign]


@fix("clock")
def _clock() -> None:
    import widgets.header

    widgets.header.utc_hms = lambda when: when.strftime("%H:%M")
    original_render = widgets.header.CockpitHeader.render
    original_refresh = widgets.header.CockpitHeader.refresh

    def refresh_if_changed(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not self.is_mounted:
            return original_refresh(self, *args, **kwargs)
        rendered = original_render(self)
        key = (rendered.plain, list(rendered.spans))
        if getattr(self, "_bench_rendered", None) == key:
            return self
        self._bench_rendered = key
        return original_refresh(self)

    widgets.header.CockpitHeader.refresh = refresh_if_changed  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fix", action="append", default=[], choices=sorted(FIXES))
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="cockpit's arguments (after --)")
    args = parser.parse_args()
    for name in args.fix:
        FIXES[name]()
    from cockpit.cli import main as cockpit_main

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    sys.exit(cockpit_main(argv))


if __name__ == "__main__":
    main()
