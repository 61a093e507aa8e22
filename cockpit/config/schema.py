"""What a config field may hold, declared with the field and enforced by the one loader.

A field's type says what it is (`int`, `float`, `str`, `Path`, `tuple[...]`, `Secret`), a
`Literal[...]` lists its choices, and `Annotated[T, Rule(...)]` adds what the type cannot say
(a range, not empty, an http(s) URL, a name fit to show). The aliases below name the rules
most fields share, so that two kinds with an `interval` cannot drift apart:

    interval: Seconds = 10.0
    max_deploys: Annotated[int, between(1, MAX_DEPLOYS)] = 50
    mode: Literal["tags", "merges"] = "tags"

A field without a default is required. What depends on two fields at once (a user needs a
password, a default within a maximum) stays in the section's `check()`. Numbers are always
finite: nan and inf mean nothing for any option and compare false with every bound.

This module is light (the standard library and the text sanitiser): the first frame loads
the [keys] section, which uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from cockpit.term.textsafe import Inert

MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Rule:
    """Constraints on one value, checked after its type; each says what is wrong in words.

    On an array (`tuple`) or table (`dict`), `ge`/`le` bound the number of items; a rule on
    each item goes on the item type: `tuple[Url, ...]`.
    """

    ge: float | None = None  # at least
    gt: float | None = None  # greater than
    le: float | None = None  # at most
    nonblank: bool = False  # a string with something in it besides spaces
    url: bool = False  # an http:// or https:// URL
    name: bool = False  # names a thing on screen, in check and in the timeline
    pattern: str | None = None  # the whole string must match (re.fullmatch)
    expected: str = ""  # what the value should be, in words, when it is not

    def problem(self, value: object) -> str | None:
        """Why `value` breaks this rule, or None."""
        if isinstance(value, tuple | dict):
            return self._bounds(len(value), "items")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._bounds(value, "")
        if isinstance(value, str):
            return self._text(value)
        return None

    def _bounds(self, number: float, unit: str) -> str | None:
        of = f" {unit}" if unit else ""
        low_ok = (self.ge is None or number >= self.ge) and (self.gt is None or number > self.gt)
        high_ok = self.le is None or number <= self.le
        if low_ok and high_ok:
            return None
        if self.expected:
            return f"expected {self.expected}"
        if unit and number == 0 and self.le is None:
            return "must not be empty"
        low = self.ge if self.ge is not None else self.gt
        if low is not None and self.le is not None:
            if self.gt is not None:
                return f"must be greater than {_show(low)} and at most {_show(self.le)}{of}"
            return f"must be between {_show(low)} and {_show(self.le)}{of}"
        if self.le is not None:
            return f"must be at most {_show(self.le)}{of}"
        if self.gt is not None:
            return f"must be greater than {_show(self.gt)}{of}"
        if self.ge == 0:
            return f"must be 0 or more{of}"
        return f"must be at least {_show(self.ge or 0)}{of}"

    def _text(self, value: str) -> str | None:
        if self.name:
            problem = name_problem(value)
            if problem:
                return problem
        if self.nonblank and not value.strip():
            return "must not be empty"
        if self.url and not value.startswith(("http://", "https://")):
            return "expected an http:// or https:// URL"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"expected {self.expected or 'a value matching ' + repr(self.pattern)}"
        if self.ge is not None or self.le is not None:
            return self._bounds(len(value), "characters")
        return None


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a source, service or channel (it is how the screen, `check`, the
    timeline and the exports refer to it), or None."""
    if not name.strip():
        return "must not be empty: the name is how the screen, check and the timeline say which"
    if name != name.strip():
        return "must not start or end with a space"
    if Inert(name) != name or any(c in name for c in "\n\r\t"):
        return "holds control or invisible characters"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; keep names under {MAX_NAME}"
    return None


def between(low: float, high: float) -> Rule:
    return Rule(ge=low, le=high)


def at_least(low: float) -> Rule:
    return Rule(ge=low)


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


# The rules most fields share.
Name = Annotated[str, Rule(name=True)]  # a source's, service's or channel's name
Seconds = Annotated[float, Rule(gt=0)]  # an interval or a timeout
Minutes = Annotated[float, Rule(gt=0)]
Count = Annotated[int, Rule(ge=1)]  # sessions, thresholds, buckets, bytes, pages
NonNegative = Annotated[int, Rule(ge=0)]
Port = Annotated[int, Rule(ge=1, le=65535)]
Url = Annotated[str, Rule(url=True)]
Text = Annotated[str, Rule(nonblank=True)]  # free text that must say something
# A program and its arguments, none empty.
Argv = Annotated[tuple[Text, ...], Rule(ge=1, expected="a program and its arguments")]
OutputBytes = Annotated[int, Rule(ge=1024)]  # what a command may print
HeaderName = Annotated[
    str, Rule(pattern=r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", expected="a valid header name")
]
# A git ref or tag pattern: never starting with "-" (it would reach git as an option), no spaces.
GitRef = Annotated[str, Rule(pattern=r"[^-\s]\S*", expected="a name such as 'main' or 'v*'")]
# A git pathspec inside the repository; "-" first would reach git as an option.
Pathspec = Annotated[str, Rule(pattern=r"[^-].*", expected="a path inside the repository")]
