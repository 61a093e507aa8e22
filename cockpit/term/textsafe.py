"""The one way in for text from outside the process: `Inert`.

Issue titles, log lines, server replies, command output, deploy records, config values shown
back and what the store read back are untrusted. Before any of it reaches the screen, a toast, a
log, the audit log, an export or the clipboard it becomes `Inert`:

- terminal control sequences (CSI, OSC including OSC 52, DCS, SOS, PM, APC, other escapes, in
  their 7-bit and 8-bit forms) and every other C0/C1 control character except newline and tab,
- bidi controls, zero-width and other invisible format characters (Unicode category Cf: U+202E,
  U+200B-U+200F, U+2066-U+2069, U+FEFF ...), line and paragraph separators, lone surrogates,

are removed, each run of removed characters leaving one visible MARK, so a reader sees that
something was there; and every registered secret is replaced by REDACTED. `Inert` is a str
whose constructor is that sanitiser: holding an `Inert` means the text went through it, and the
widgets and toasts accept nothing else (mypy checks it).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

MARK = "\ufffd"  # where control or invisible characters were removed
REDACTED = "***"  # where a secret was, as every scrubber of the cockpit has always written it

_INVISIBLE = (
    # Unicode category Cf (format: bidi controls, zero-width characters, the BOM, tags ...),
    # Zl and Zp (line and paragraph separators), and surrogates, which cannot be encoded.
    # tests/config/test_textsafe.py checks this list against unicodedata.
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\ud800-\udfff"
)
# Whole sequences first, so no fragment of one survives (an unterminated string sequence runs
# to the end, as a terminal would swallow it); a run of removals leaves a single MARK.
_REMOVED = re.compile(
    r"(?:"
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f" + _INVISIBLE + r"]"
    r")+"
)
_CLEAN = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f" + _INVISIBLE + r"]*")
_MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words
_MIN_URL_PART = 6  # parts of a secret URL shorter than this ("v2", "/hook") are left alone


class _Secrets:
    """Every configured secret value, in the forms a server may echo it."""

    def __init__(self) -> None:
        self.registered: set[str] = set()  # as given, for a process started to act for us
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self.pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        forms = {value, value.strip(), quote(value, safe=""), quote_plus(value)}
        parts = urlsplit(value) if "://" in value else None
        if parts is not None and parts.netloc:
            # A secret URL (a webhook): a server may echo its path or a piece of it.
            pieces = set(parts.path.split("/"))
            for key, item in parse_qsl(parts.query, keep_blank_values=True):
                pieces |= {item, f"{key}={item}"}
            if parts.password:
                pieces.add(parts.password)
            forms |= {p for p in pieces if _looks_secret(p)}
            forms |= {parts.path, parts.query, f"{parts.path}?{parts.query}"} - {"/"}
            forms = {f for f in forms if len(f) >= _MIN_URL_PART and f != parts.netloc} | {value}
        forms = {f for f in forms if len(f) >= _MIN_SECRET}
        with self._lock:
            self.registered.add(value)
            if forms <= self._values:
                return
            self._values |= forms
            # Longest first: a secret inside a longer one leaves nothing of the longer showing.
            # Any case: servers echo what they were sent changed (pyftpdlib's 530 capitalizes
            # its message, so a password comes back in lower case).
            ordered = sorted(self._values, key=len, reverse=True)
            self.pattern = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)
        _shared.cache_clear()  # made before this secret was known


def _looks_secret(piece: str) -> bool:
    """A piece of a secret URL worth hiding on its own: a token, not a word such as
    "services" or "webhooks" that ordinary text is full of."""
    return len(piece) >= 16 or (len(piece) >= _MIN_URL_PART and any(c.isdigit() for c in piece))


_secrets = _Secrets()


def register_secret(value: str) -> None:
    """From now on, `value` is redacted from every text that becomes Inert."""
    if value:
        _secrets.add(value)


def registered_secrets() -> tuple[str, ...]:
    """Every secret registered so far, as given: handed to a process that acts for this one
    (a revert's supervisor), so that what it keeps is redacted the same way."""
    with _secrets._lock:
        return tuple(sorted(_secrets.registered))


def redact(text: str) -> str:
    """`text` with every registered secret replaced by REDACTED."""
    pattern = _secrets.pattern
    return pattern.sub(REDACTED, text) if pattern is not None else text


def _sanitise(text: str) -> str:
    if not (text.isascii() and text.isprintable()):
        # Line ends and tabs are layout, not hostile: kept, a lone CR as a newline (it would
        # return the cursor and let a line overwrite itself).
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not _CLEAN.fullmatch(text):
            text = redact(text)  # before: a secret cut up by a removed sequence stays cut up
            text = _REMOVED.sub(MARK, text)
    return redact(text)


class Inert(str):
    """Text that is safe to show, store and export: made only by this constructor, which is
    the sanitiser (see the module doc). Newlines and tabs are kept; `one_line` folds them."""

    __slots__ = ()

    def __new__(cls, text: object = "") -> Inert:
        if type(text) is Inert:
            return text
        raw = text if isinstance(text, str) else str(text)
        return str.__new__(cls, _sanitise(raw))


_SHARED_MAX = 200


@lru_cache(maxsize=16384)
def _shared(text: str) -> Inert:
    return Inert(text)


def shared_inert(text: object) -> Inert:
    """`Inert(text)`, one object for a short text seen again: the same names, targets and
    errors in every result of every round (2,000 probes keep 60 results each) are kept once."""
    if type(text) is str and len(text) <= _SHARED_MAX:
        return _shared(text)
    return Inert(text)


def inert(text: object) -> Inert:
    """The text made Inert (the same as `Inert(text)`)."""
    return Inert(text)


def one_line(text: object, limit: int = 500) -> Inert:
    """Inert single-line text: sanitised, whitespace runs folded, length bounded (cut with …)."""
    flat = " ".join(Inert(text).split())
    return Inert(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def identity(text: object, limit: int = 100) -> Inert:
    """A value that must be told apart exactly (a version, a service): Inert on one line, but
    a line break or tab shows as MARK instead of being folded into a space, so "1.2\\n--force"
    never looks like the plain "1.2 --force"; cut with … past `limit`."""
    shown = Inert(text)
    if any(c in shown for c in "\n\t"):
        shown = Inert(shown.replace("\n", MARK).replace("\t", MARK))
    return shown if len(shown) <= limit else Inert(shown[: limit - 1] + "…")


def escaped_key(key: str) -> str:
    """An identity key kept exact but inert: unchanged when clean, else with its controls and
    invisible characters written as escapes (\\x1b), so two keys stay two."""
    if Inert(key) == key:
        return key
    return key.encode("unicode_escape").decode("ascii")


def blank(text: object) -> bool:
    """True when nothing but whitespace and removed characters is left: an empty title."""
    return not Inert(text).replace(MARK, "").strip()


def strip_controls(text: object) -> Inert:
    """Kept for existing callers: the same as `Inert(text)`."""
    return Inert(text)


def inert_log_records() -> None:
    """From now on every log record's message is Inert, whoever logs it and wherever the
    handler writes (a terminal, a file): log lines quote servers' answers too."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "inert", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # Bad format arguments are left for logging to report, as it does when emitting.
        with contextlib.suppress(Exception):
            record.msg, record.args = Inert(record.getMessage()), None
        return record

    factory.inert = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def redact_url(url: str) -> str:
    """The URL without user:password, so it can be shown and logged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
