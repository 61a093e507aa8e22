"""Alertmanager matchers: parsed from the text a person writes (`service="files-web"`,
`instance=~"web-.*"`), matched against an alert's labels the way Alertmanager matches them.

One parser for the config, the silence plan the engineer edits and `cockpit alerts silence`, and
one matcher, so the number of alerts a plan says a silence covers is the number Alertmanager
will silence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from cockpit.model import Alert, Labels, Matcher

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s,"{}]*))\s*"""
)
MAX_VALUE = 1024


class MatcherError(ValueError):
    """The text is not a matcher; the message says what is wrong with it."""


def _unclosed_quote(text: str, found: re.Match[str] | None) -> None:
    """A value that opens a quote and never closes it matches the pattern as an empty bare
    value followed by a stray quote; say so rather than asking for a comma."""
    if found is None or found.group("quoted") is not None or found.group("bare"):
        return
    rest = text[found.end() :]
    if rest.startswith('"'):
        raise MatcherError(
            f"the quote after {found.group('name')}{found.group('op')} is not closed: {rest!r}"
        )


def parse_matcher(text: str) -> Matcher:
    found = _MATCHER.fullmatch(text)
    if found is None:
        _unclosed_quote(text, _MATCHER.match(text))
        raise MatcherError(f'not a matcher: expected name="value" (or !=, =~, !~), got {text!r}')
    quoted = found.group("quoted")
    value = found.group("bare") if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
    if len(value) > MAX_VALUE:
        raise MatcherError(f"matcher value longer than {MAX_VALUE} characters")
    op = found.group("op")
    regex = op in ("=~", "!~")
    if regex:
        try:
            re.compile(value)
        except re.error as exc:
            raise MatcherError(f"not a regular expression: {value!r} ({exc})") from None
    return Matcher(found.group("name"), value, is_regex=regex, is_equal=op in ("=", "=~"))


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """`alertname="X", instance="web-1"` (braces allowed) -> matchers; MatcherError if any
    part is not one, or if there are none."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(body):
        found = _MATCHER.match(body, pos)
        _unclosed_quote(body, found)
        if found is None or found.end() == pos:
            raise MatcherError(f"not a matcher at {body[pos:]!r}")
        out.append(parse_matcher(found.group(0)))
        pos = found.end()
        if pos < len(body):
            if body[pos] != ",":
                raise MatcherError(f"expected a comma before {body[pos:]!r}")
            pos += 1
    if not out:
        raise MatcherError("no matchers: a silence needs at least one")
    return tuple(out)


def matches(matcher: Matcher, labels: Labels) -> bool:
    """Alertmanager's rule: a missing label is the empty string; regexes are anchored."""
    value = next((v for k, v in labels if k == matcher.name), "")
    if matcher.is_regex:
        hit = re.fullmatch(matcher.value, value) is not None
    else:
        hit = value == matcher.value
    return hit if matcher.is_equal else not hit


def covers(matchers: Sequence[Matcher], alert: Alert) -> bool:
    return bool(matchers) and all(matches(m, alert.labels) for m in matchers)


def covered(matchers: Sequence[Matcher], alerts: Iterable[Alert]) -> tuple[Alert, ...]:
    return tuple(a for a in alerts if covers(matchers, a))


def shown(matchers: Iterable[Matcher]) -> str:
    return ", ".join(str(m) for m in matchers)
