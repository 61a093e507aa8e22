"""Every action a key does, in one list: the Textual bindings, the footer, the help screen, the
command palette, the read-only rules and the `[keys]` config section all derive from it.

Headless data (no Textual): the config validates `[keys]` against it, and the TUI builds its
bindings from it (`widgets/keys.py`). A new action is one `ActionSpec` here, the runtime
operation, and an `action_<name>` method on the screen it applies to.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

# Where an action applies: the main screen (app-wide keys), or the alerts screen (Enter on an
# alert), whose keys are its own: a modal screen does not see the app's bindings.
Screen = Literal["main", "alerts"]
# What an action needs before it can run: nothing, the sources up, or an open incident.
Needs = Literal["", "cockpit", "incident"]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str  # the action's id, and its option in [keys]
    key: str  # the default key (Textual's key names: "d", "R", "question_mark", "ctrl+d")
    label: str  # the word in the footer and the palette
    description: str  # the help line, and the palette's help text
    writes: bool  # changes the incident, a deploy or an alert: refused in read-only mode
    footer: bool = False  # shown in the footer at 80 columns; every action is in the help
    screen: Screen = "main"
    # The screen's action it runs, when it takes arguments ("silence(True)"); else `name`.
    run: str = ""
    needs: Needs = ""

    @property
    def action(self) -> str:
        return self.run or self.name


ACTION_SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("declare", "d", "Declare", "declare an incident", True, True, needs="cockpit"),
    ActionSpec(
        "revert",
        "R",
        "Revert",
        "revert the latest deploy (plan, typed confirmation, lock, audit)",
        True,
        True,
        needs="cockpit",
    ),
    ActionSpec(
        "export",
        "x",
        "Export",
        "write the incident's timeline draft (Markdown)",
        False,
        True,
        needs="cockpit",
    ),
    ActionSpec("note", "n", "Note", "add a note to the timeline", True, True, needs="cockpit"),
    ActionSpec(
        "runbook",
        "a",
        "Action",
        "run a runbook action of the service (e.g. failover), guarded like R",
        True,
        needs="cockpit",
    ),
    ActionSpec(
        "status",
        "s",
        "Status",
        "incident status: identified, mitigated, resolved; retry notifications",
        True,
        True,
        needs="incident",
    ),
    ActionSpec(
        "mitigate",
        "m",
        "Mitigated",
        "mark the incident mitigated (or resolved) at the verified recovery",
        True,
        needs="incident",
    ),
    ActionSpec(
        "correct",
        "c",
        "Correct",
        "correct a recorded time: impact start, detected, declared, mitigated",
        True,
        needs="incident",
    ),
    ActionSpec(
        "timeline",
        "t",
        "Timeline",
        "the whole timeline, scrollable, filtered by kind (f)",
        False,
        needs="cockpit",
    ),
    ActionSpec(
        "watch",
        "w",
        "Watch",
        "watch the revert or action running (or whose outcome is unknown)",
        False,
        needs="cockpit",
    ),
    ActionSpec("zoom", "z", "Zoom", "5xx graph window: 5 min, 30 min, 3 h", False),
    ActionSpec("help", "question_mark", "Help", "this help", False, True),
    ActionSpec("quit", "q", "Quit", "quit (the incident and its timeline are kept)", False, True),
    # On the alerts screen (Enter on an alert in the alerts panel).
    ActionSpec(
        "silence",
        "s",
        "Silence alert",
        "silence the chosen alert (plan, matchers, comment, duration)",
        True,
        True,
        "alerts",
        "silence(False)",
    ),
    ActionSpec(
        "silence_group",
        "g",
        "Silence group",
        "silence the chosen alert's whole group",
        True,
        True,
        "alerts",
        "silence(True)",
    ),
    ActionSpec(
        "expire_silence",
        "e",
        "Expire silence",
        "expire the silence over the chosen alert",
        True,
        True,
        "alerts",
        "expire",
    ),
    ActionSpec(
        "acknowledge",
        "a",
        "Acknowledge page",
        "acknowledge the incident's PagerDuty page",
        True,
        True,
        "alerts",
    ),
)
ACTIONS_BY_NAME = {spec.name: spec for spec in ACTION_SPECS}
WRITES = frozenset(spec.name for spec in ACTION_SPECS if spec.writes)


def on_screen(screen: Screen) -> tuple[ActionSpec, ...]:
    return tuple(spec for spec in ACTION_SPECS if spec.screen == screen)


# Keys that move around a screen; an action bound to one would never run (the focused panel
# or list takes it first) or would take navigation away.
NAVIGATION: dict[Screen, frozenset[str]] = {
    "main": frozenset(
        {"up", "down", "left", "right", "j", "k", "tab", "shift+tab", "enter", "escape"}
        | {"home", "end", "pageup", "pagedown", "ctrl+i", "ctrl+m"}
    ),
    "alerts": frozenset(
        {"up", "down", "j", "k", "tab", "shift+tab", "enter", "escape", "pageup", "pagedown"}
        | {"home", "end", "ctrl+i", "ctrl+m"}
    ),
}
# Keys every screen keeps for itself: interrupt, Textual's quit, the command palette.
RESERVED = frozenset({"ctrl+c", "ctrl+q", "ctrl+p"})
# Keys only one action may have: q quits (and closes the alerts screen), ? is the help.
RESERVED_FOR: dict[Screen, dict[str, str]] = {
    "main": {"q": "quit", "question_mark": "help"},
    "alerts": {"q": "closes this screen"},
}

_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_NAMED = frozenset(
    {"up", "down", "left", "right", "home", "end", "pageup", "pagedown", "insert", "delete"}
    | {"backspace", "tab", "enter", "escape", "space"}
    | {f"f{n}" for n in range(1, 25)}
)
# Textual's short names of some punctuation (unicodedata's name otherwise).
_SHORT_NAMES = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
_LONG_NAMES = {short: long for long, short in _SHORT_NAMES.items()}


def key_name(key: str) -> str:
    """A key as Textual names it: "?" is "question_mark", "/" is "slash"."""
    key = key.strip()
    if len(key) == 1 and not key.isalnum():
        try:
            long = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            return key
        return _SHORT_NAMES.get(long, long)
    return key


def key_problem(key: str) -> str | None:
    """Why `key` is not a key a terminal can send, or None."""
    if not key or any(c.isspace() for c in key) or len(key) > 40:
        return "empty or with spaces"
    *modifiers, base = key.split("+") if len(key) > 1 else [key]
    if any(m not in _MODIFIERS for m in modifiers):
        return f"unknown modifier in {key!r} (ctrl, shift, alt, meta)"
    if len(base) == 1:
        return None if base.isprintable() else "not a printable character"
    if base in _NAMED:
        return None
    name = _LONG_NAMES.get(base, base).replace("_", " ")
    try:
        unicodedata.lookup(name)
    except KeyError:
        return f"no key is called {base!r}"
    return None


def keys_of(binding: str) -> list[str]:
    """The keys of one [keys] value: one key, or several separated by commas."""
    return [key_name(k) for k in binding.split(",")]
