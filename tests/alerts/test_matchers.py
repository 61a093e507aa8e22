"""What the matcher parser says about text a person typed wrong."""

from __future__ import annotations

import pytest

from cockpit.alerts.matchers import MatcherError, parse_matcher, parse_matchers


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('alertname="FilesWeb5xxHigh', "the quote after alertname= is not closed"),
        ('service="files-web", instance= "edge-2', "the quote after instance= is not closed"),
        ('{alertname=~"Files.*}', "the quote after alertname=~ is not closed"),
    ],
)
def test_an_unclosed_quote_is_named(text: str, said: str) -> None:
    with pytest.raises(MatcherError, match=said) as raised:
        parse_matchers(text)
    assert "comma" not in str(raised.value)


def test_an_unclosed_quote_in_one_matcher_is_named() -> None:
    with pytest.raises(MatcherError, match="the quote after alertname= is not closed"):
        parse_matcher('alertname="FilesWeb5xxHigh')


def test_a_closed_quote_still_parses_and_a_missing_comma_is_still_said() -> None:
    assert [str(m) for m in parse_matchers('alertname="A", x=~"b.*"')] == [
        'alertname="A"',
        'x=~"b.*"',
    ]
    with pytest.raises(MatcherError, match="expected a comma"):
        parse_matchers('alertname="A" x="b"')
