"""Textual bindings built from the action registry (`cockpit.keys`): one binding per action of
a screen, and for each write a twin that says "read-only" instead of doing nothing; the keymap
that moves both to the key `[keys]` gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from cockpit.keys import ACTION_SPECS, Screen, on_screen

if TYPE_CHECKING:
    from cockpit.config.sections import KeysSection


def refusal_id(action: str) -> str:
    return f"{action}!"


def bindings(screen: Screen) -> list[Binding]:
    """The screen's actions at their default keys; `keymap` moves them. A write's refusal
    (`refuse('<action>')`) is enabled only in read-only mode, when the write itself is not."""
    specs = on_screen(screen)
    return [
        *(Binding(s.key, s.action, s.label, id=s.name, show=s.footer) for s in specs),
        *(
            Binding(s.key, f"refuse('{s.name}')", show=False, id=refusal_id(s.name))
            for s in specs
            if s.writes
        ),
    ]


def keymap(keys: KeysSection) -> dict[str, str]:
    """Binding id -> key for `App.set_keymap`, every screen's actions and their refusals."""
    out: dict[str, str] = {}
    for spec in ACTION_SPECS:
        key = getattr(keys, spec.name)
        out[spec.name] = key
        if spec.writes:
            out[refusal_id(spec.name)] = key
    return out
