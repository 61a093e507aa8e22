"""Probe conditions in the style of Gatus: `[STATUS] == 200`, `[BODY].status == UP`,
`[RESPONSE_TIME] < 300`, `[CERTIFICATE_EXPIRATION] > 72h`.

A condition is parsed when the config is loaded (so a typo is a config error with its line, not
a red probe at 3 a.m.) and evaluated per session against the values that session observed.

Grammar: `<left> <op> <right>` with spaces around the operator, op one of == != < <= > >=.
A side is a placeholder (`[NAME]`, for [BODY] optionally followed by a JSON path such as
`.data.items[0].state`), `len(<placeholder>)`, `has(<placeholder>)`, or a literal. On the right
of == and != also `pat(<glob>)` and `any(<a>, <b>, ...)`.

Times ([RESPONSE_TIME], [CERTIFICATE_EXPIRATION]) are milliseconds; a literal may carry a unit:
ms, s, m, h or d (`72h`). Ordering operators compare numbers; == and != compare numbers when both
sides are numbers, else text. This module stays light: the config loader imports it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.term.textsafe import one_line

STATUS = "STATUS"
RESPONSE_TIME = "RESPONSE_TIME"
BODY = "BODY"
CONNECTED = "CONNECTED"
CERTIFICATE_EXPIRATION = "CERTIFICATE_EXPIRATION"
PLACEHOLDERS = frozenset({STATUS, RESPONSE_TIME, BODY, CONNECTED, CERTIFICATE_EXPIRATION})

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_SPLIT = re.compile(r"^(.+?)\s+(==|!=|<=|>=|<|>)\s+(.+)$")
_PLACEHOLDER = re.compile(r"^\[([A-Z_]+)\]((?:\.[^.\[\]\s]+|\[\d+\])*)$")
_PATH_STEP = re.compile(r"\.([^.\[\]\s]+)|\[(\d+)\]")
_FUNCTION = re.compile(r"^(len|has|pat|any)\((.*)\)$")
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_MS = {None: 1.0, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3, "d": 86400e3}
_SHOWN = 60  # characters of an actual value quoted in a failure message

_TIMES = frozenset({RESPONSE_TIME, CERTIFICATE_EXPIRATION})

_MISSING = object()


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    path: tuple[str | int, ...] = ()
    function: str | None = None  # "len" or "has"

    @property
    def text(self) -> str:
        inner = f"[{self.name}]" + "".join(
            f"[{step}]" if isinstance(step, int) else f".{step}" for step in self.path
        )
        return f"{self.function}({inner})" if self.function else inner


@dataclass(frozen=True, slots=True)
class Literal:
    text: str


@dataclass(frozen=True, slots=True)
class Pattern:
    """`pat(*ok*)`: a shell-style glob, matched case-sensitively against the whole value."""

    glob: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    choices: tuple[str, ...]


Operand = Placeholder | Literal | Pattern | AnyOf


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    left: Operand
    op: str
    right: Operand

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(o.name for o in (self.left, self.right) if isinstance(o, Placeholder))

    def evaluate(self, observed: Observed) -> str:
        """ "" when the condition holds, else a message naming it and the actual value."""
        left = observed.resolve(self.left)
        right = observed.resolve(self.right)
        if _holds(left, self.op, right):
            return ""
        side = self.left if isinstance(self.left, Placeholder) else self.right
        shown = left if side is self.left else right
        assert isinstance(side, Placeholder)
        if side.name in _TIMES and isinstance(shown, int | float) and not side.function:
            return f"{self.text} (got {_show_ms(float(shown))})"
        return f"{self.text} (got {_show(shown)})"


class Observed:
    """What one session saw, by placeholder name; [BODY] is parsed as JSON at most once."""

    def __init__(self, values: Mapping[str, object]):
        self.values = values
        self._json: object = _MISSING

    def resolve(self, operand: Operand) -> object:
        if not isinstance(operand, Placeholder):
            return operand
        value = self.values.get(operand.name, _MISSING)
        if operand.path and value is not _MISSING:
            value = _walk(self._document(), operand.path)
        if operand.function == "has":
            return value is not _MISSING and value is not None
        if operand.function == "len":
            return len(value) if isinstance(value, str | list | dict) else _MISSING
        return value

    def _document(self) -> object:
        if self._json is _MISSING:
            body = self.values.get(BODY)
            try:
                self._json = json.loads(body) if isinstance(body, str | bytes) else _MISSING
            except ValueError:
                self._json = _NOT_JSON
        return self._json


_NOT_JSON = object()


def _walk(document: object, path: tuple[str | int, ...]) -> object:
    if document is _NOT_JSON or document is _MISSING:
        return document
    node: Any = document
    for step in path:
        in_list = isinstance(step, int) and isinstance(node, list) and step < len(node)
        in_dict = isinstance(step, str) and isinstance(node, dict) and step in node
        if not (in_list or in_dict):
            return _MISSING
        node = node[step]
    return node


def evaluate_all(conditions: tuple[Condition, ...], values: Mapping[str, object]) -> str:
    """The first failing condition's message, or "" when all hold."""
    observed = Observed(values)
    for condition in conditions:
        failure = condition.evaluate(observed)
        if failure:
            return failure
    return ""


# -- parsing -------------------------------------------------------------------------------------


def parse_condition(text: str) -> Condition:
    match = _SPLIT.match(text.strip())
    if not match:
        raise ConditionError(
            "expected '<left> <operator> <right>' with spaces around the operator "
            f"({' '.join(OPERATORS)}), e.g. '[STATUS] == 200'"
        )
    left_text, op, right_text = match.groups()
    left = _operand(left_text.strip())
    right = _operand(right_text.strip())
    if isinstance(left, Pattern | AnyOf):
        raise ConditionError("pat() and any() go on the right of == or !=")
    if isinstance(right, Pattern | AnyOf) and op not in ("==", "!="):
        raise ConditionError(f"pat() and any() work with == and !=, not {op}")
    if not isinstance(left, Placeholder) and not isinstance(right, Placeholder):
        raise ConditionError("one side must be a placeholder such as [STATUS] or [BODY].field")
    if op not in ("==", "!="):
        for side in (left, right):
            if isinstance(side, Literal) and _number(side.text) is None:
                raise ConditionError(
                    f"{op} compares numbers: {side.text!r} is neither a number nor a duration "
                    "such as 300ms or 72h"
                )
    return Condition(" ".join((left_text.strip(), op, right_text.strip())), left, op, right)


def _operand(text: str) -> Operand:
    function = _FUNCTION.match(text)
    if function:
        name, inner = function.group(1), function.group(2).strip()
        if name == "pat":
            if not inner:
                raise ConditionError("pat() needs a pattern, e.g. pat(*ok*)")
            return Pattern(inner)
        if name == "any":
            choices = tuple(c.strip() for c in inner.split(","))
            if not all(choices):
                raise ConditionError("any() needs values separated by commas, e.g. any(UP, OK)")
            return AnyOf(choices)
        target = _operand(inner)
        if not isinstance(target, Placeholder) or target.function:
            raise ConditionError(f"{name}() takes a placeholder, e.g. {name}([BODY].items)")
        return Placeholder(target.name, target.path, name)
    if text.startswith("["):
        match = _PLACEHOLDER.match(text)
        if not match:
            raise ConditionError(f"cannot read placeholder {text!r}; e.g. [BODY].items[0].name")
        name, path_text = match.groups()
        if name not in PLACEHOLDERS:
            known = ", ".join(f"[{p}]" for p in sorted(PLACEHOLDERS))
            raise ConditionError(f"unknown placeholder [{name}]; one of {known}")
        path = tuple(int(index) if index else key for key, index in _PATH_STEP.findall(path_text))
        if path and name != BODY:
            raise ConditionError(f"only [BODY] takes a path, not [{name}]")
        return Placeholder(name, path)
    return Literal(text)


# -- evaluation ----------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER.match(value.strip())
        if match:
            return float(match.group(1)) * _UNIT_MS[match.group(2)]
    return None


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, Literal):
        return value.text
    return str(value)


def _holds(left: object, op: str, right: object) -> bool:
    if left is _MISSING or right is _MISSING or left is _NOT_JSON or right is _NOT_JSON:
        return False
    if isinstance(right, Pattern):
        return (op == "==") == fnmatch.fnmatchcase(_as_text(left), right.glob)
    if isinstance(right, AnyOf):
        return (op == "==") == (_as_text(left) in right.choices)
    a = _number(left.text if isinstance(left, Literal) else left)
    b = _number(right.text if isinstance(right, Literal) else right)
    if op in ("==", "!="):
        same = a == b if a is not None and b is not None else _as_text(left) == _as_text(right)
        return same == (op == "==")
    if a is None or b is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _show(value: object) -> str:
    if value is _MISSING:
        return "nothing"
    if value is _NOT_JSON:
        return "a body that is not JSON"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"
    text = _as_text(value)
    return repr(one_line(text, _SHOWN)) if isinstance(value, str) else one_line(text, _SHOWN)


def _show_ms(ms: float) -> str:
    """A time in the largest unit that keeps it readable: 12ms, 3.4s, 47m, 71h, 12d."""
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms >= 2 * size or (unit == "s" and ms >= size):
            value = ms / size
            return f"{sign}{value:.1f}{unit}" if value < 10 else f"{sign}{value:.0f}{unit}"
    return f"{sign}{ms:.0f}ms"
