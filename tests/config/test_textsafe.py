"""The sanitiser every outside string passes through: what it removes, what it marks, what it
redacts, and that it is the only way to make an Inert."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from cockpit.config.base import Secret
from cockpit.term.textsafe import MARK, REDACTED, Inert, one_line, redact, register_secret

# What hostile servers, logs and issue titles were seen sending, and what it did to a terminal.
VECTORS = {
    "osc52-clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "osc52-st": "\x1b]52;c;cm0gLXJmIH4=\x1b\\",
    "osc-title": "\x1b]0;pwned\x07",
    "osc8-link": "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\",
    "csi-clear": "\x1b[2J\x1b[H",
    "csi-color": "\x1b[31;1m",
    "csi-8bit": "\x9b2J",
    "osc-8bit": "\x9d0;pwned\x9c",
    "dcs": "\x1bPq#0;2;0;0;0#1~~@@vv@@~~\x1b\\",
    "apc": "\x1b_Gf=100;AAAA\x1b\\",
    "charset": "\x1b(0",
    "keypad": "\x1b=",
    "bell-backspace": "\x07\x08\x08",
    "nul-del": "\x00\x7f",
    "c1-nel": "\x85",
    "vt-ff": "\x0b\x0c",
}
INVISIBLE = {
    "rlo": "\u202e",
    "lro": "\u202d",
    "rli-pdi": "\u2067\u2069",
    "zwsp": "\u200b",
    "zwnj": "\u200c",
    "zwj": "\u200d",
    "bom": "\ufeff",
    "lrm-rlm": "\u200e\u200f",
    "word-joiner": "\u2060",
    "line-separator": "\u2028",
    "tag": "\U000e0041",
    "surrogate": "\udc80",
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_control_sequences_leave_one_mark(name: str) -> None:
    shown = Inert(f"before {VECTORS[name]} after")
    assert shown.startswith("before ") and shown.endswith(" after")
    assert MARK in shown
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert "pwned" not in shown and "cm0gLXJmIH4" not in shown and "evil" not in shown


@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_bidi_and_invisible_characters_are_marked(name: str) -> None:
    shown = Inert(f"abc{INVISIBLE[name]}def")
    assert shown == f"abc{MARK}def"
    shown.encode("utf-8")  # nothing left that a terminal write would choke on


def test_every_format_character_is_covered() -> None:
    # The list in textsafe is written out (building it at import would slow the start); it must
    # hold every Cf, Zl and Zp character this Python knows.
    missed = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in ("Cf", "Zl", "Zp") and Inert(chr(cp)) != MARK
    ]
    assert missed == []


def test_plain_text_layout_and_markup_stay() -> None:
    assert Inert("plain [bold]x[/] $error é 日本 🙂") == "plain [bold]x[/] $error é 日本 🙂"
    assert Inert("line 1\r\nline 2\rline 3\tend") == "line 1\nline 2\nline 3\tend"
    assert one_line("a \x1b[2J\n b\t c") == f"a {MARK} b c"


def test_a_run_of_sequences_is_one_mark_and_sanitising_twice_changes_nothing() -> None:
    once = Inert("x\x1b[1m\x1b[31m\u202e\x07y")
    assert once == f"x{MARK}y"
    assert Inert(str(once)) == once
    assert Inert(once) is once


def test_inert_is_made_only_by_the_sanitiser() -> None:
    value = Inert("\x1b[2J")
    assert isinstance(value, str) and value == MARK
    assert type(Inert(12)) is Inert and Inert(12) == "12"
    # Operations on an Inert give a plain str: mypy then refuses it where Inert is required.
    assert type(value + "x") is str
    assert type(value.upper()) is str


def test_registered_secrets_are_redacted_in_the_forms_a_server_echoes() -> None:
    register_secret("Hunter2-probe-pw")
    assert Inert("530 Login incorrect, you sent Hunter2-probe-pw") == (
        f"530 Login incorrect, you sent {REDACTED}"
    )
    register_secret("p@ss w/rd%x")
    assert REDACTED in Inert("got p%40ss%20w%2Frd%25x")  # percent-encoded
    assert REDACTED in Inert("got p%40ss+w%2Frd%25x")  # form-encoded
    # An escape sequence inside the echo does not smuggle the secret out whole.
    assert "Hunter2-probe-pw" not in Inert("Hunter2-\x1b[0mprobe-pw")
    assert redact("x Hunter2-probe-pw y") == f"x {REDACTED} y"
    # pyftpdlib capitalizes its 530 message: the password comes back in lower case.
    assert Inert("530 you sent hunter2-probe-pw") == f"530 you sent {REDACTED}"


def test_a_secret_url_is_redacted_with_its_parts() -> None:
    url = "https://hooks.example.com/services/T0AAA/B0BBB/xoxSecretPart123?sig=abcdef123"
    register_secret(url)
    assert Inert(f"posting to {url} failed") == f"posting to {REDACTED} failed"
    echoed = Inert("404: no hook /services/T0AAA/B0BBB/xoxSecretPart123 here")
    assert "xoxSecretPart123" not in echoed
    assert "abcdef123" not in Inert("bad signature abcdef123")
    assert Inert("see [[services]]") == "see [[services]]"  # common words stay


def test_a_config_secret_is_registered_when_it_is_read() -> None:
    Secret("tok-9f8e7d6c5b4a", "env:DEPLOY_TOKEN")
    assert Inert("401: bad token tok-9f8e7d6c5b4a") == f"401: bad token {REDACTED}"


def test_short_values_are_not_treated_as_secrets() -> None:
    register_secret("abc")
    assert Inert("abc") == "abc"


def test_a_basic_auth_header_echoed_back_is_redacted() -> None:
    import base64

    from cockpit.sources.probes.http import basic_auth

    header = basic_auth("probe", "dav-Secret-77").decode()
    encoded = base64.b64encode(b"probe:dav-Secret-77").decode()
    assert header == f"Basic {encoded}"
    assert Inert(f"401: you sent Authorization: Basic {encoded}") == (
        f"401: you sent Authorization: Basic {REDACTED}"
    )


def test_log_records_are_inert_whoever_logs_them() -> None:
    import io
    import logging

    from cockpit.term.textsafe import inert_log_records

    register_secret("log-Secret-1234")
    inert_log_records()
    inert_log_records()  # once is enough; twice changes nothing
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.inert.logs")
    logger.addHandler(handler)
    try:
        logger.warning("server said %s", "\x1b]52;c;SElKQUNL\x07 log-Secret-1234 \u202e")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"server said {MARK} {REDACTED} {MARK}\n"


def test_texts_repeated_in_results_are_kept_once_and_a_later_secret_still_redacts() -> None:
    from datetime import UTC, datetime

    from cockpit.model import ProbeResult

    def result(error: str) -> ProbeResult:
        at = datetime.now(UTC)
        return ProbeResult("web", "http", "https://files.example/", 1, 0, False, None, error, at)

    secret = "tok-" + "9f3a" * 6
    first, second = result(f"401 for {secret}"), result(f"401 for {secret}")
    assert first.error is second.error and first.target is second.target
    assert secret in first.error  # not known as a secret yet
    register_secret(secret)
    later = result(f"401 for {secret}")
    assert secret not in later.error and REDACTED in later.error
