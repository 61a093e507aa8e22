"""Whether an access log is read as what it is: a source whose lines do not parse, or parse to
times far from this clock, is misconfigured, never "0 requests, fresh".

`LogHealth` keeps, for the last `SPAN` seconds of polls, how many lines were read and how many
were not counted for a reason that points at the config (not in the format, a time that does
not read, a time hours away from the clock). Above `BAD_SHARE` (or every line of a few), the
source is stale with a reason that says what was read and, from a few sample lines, which
format does read them.
"""

from __future__ import annotations

from collections import deque

from cockpit.sources.logs import formats as log_formats
from cockpit.sources.logs.formats import LogFormat

SPAN = 60  # seconds of polls judged together
BAD_SHARE = 0.5  # more than this share of lines not counted: misconfigured
MIN_LINES = 20  # ... judged from this many lines on
ALL_BAD_LINES = 3  # or this many lines with none counted
SAMPLES = 8  # unreadable lines kept to guess the format from
SAMPLE_BYTES = 2048

# What else a line may be, as the `kind` (and option) that reads it.
_CANDIDATES: tuple[tuple[str, LogFormat], ...] = (
    ('kind = "nginx_combined"', log_formats.nginx_combined()),
    ('kind = "nginx_json"', log_formats.nginx_json()),
    ('kind = "nginx_json" with time_key = "msec"', log_formats.nginx_json("msec")),
    ('kind = "nginx_json" with time_key = "time_local"', log_formats.nginx_json("time_local")),
    ('kind = "caddy"', log_formats.caddy()),
    ('kind = "haproxy"', log_formats.haproxy()),
    ('kind = "envoy"', log_formats.envoy()),
)


def reads(fmt: LogFormat, line: bytes) -> bool:
    """Whether `fmt` gets a readable time and a status from this one line."""
    found = fmt.scan(b"\n" + line + b"\n")
    return bool(found) and (not fmt.timed or fmt.epoch(found[0][0]) is not None)


def why_unread(fmt: LogFormat, line: bytes) -> str:
    """Why `fmt` does not count this line, in words."""
    found = fmt.scan(b"\n" + line + b"\n")
    if found and fmt.timed and fmt.epoch(found[0][0]) is None:
        stamp = found[0][0].decode("utf-8", "replace")[:40]
        return f"its time {stamp!r} does not read as a time"
    if found:
        return "read"
    if not line.strip():
        return "an empty line"
    why = f"no time and status where {fmt.name} has them"
    hint = suggest(fmt, [line])
    return f"{why}; {hint}" if hint else why


def suggest(fmt: LogFormat, samples: list[bytes]) -> str:
    """The format that reads most of the samples, as config words; "" if none does."""
    best, best_count = "", 0
    for words, other in _CANDIDATES:
        count = sum(reads(other, line) for line in samples)
        if count > best_count:
            best, best_count = words, count
    if best:
        # The kind first: a narrow panel cuts the end of the reason.
        return f"{best} reads {best_count} of {len(samples)} sampled"
    if samples and all(line.lstrip().startswith(b"{") for line in samples):
        return "is this a JSON log?"
    return ""


def _hours(seconds: float) -> str:
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


class LogHealth:
    def __init__(self, fmt: LogFormat) -> None:
        self.format = fmt
        # per poll: (time, lines read, lines not in the format or unreadable time, lines far
        # from the clock)
        self.polls: deque[tuple[int, int, int, int]] = deque()
        self.samples: deque[bytes] = deque(maxlen=SAMPLES)
        self.skew = 0  # seconds the last far line was from the clock (+ ahead)
        self._lines = self._unparsed = self._skewed = 0

    def read(self, lines: int, unparsed: int) -> None:
        self._lines += lines
        self._unparsed += unparsed

    def skewed(self, count: int, seconds: int) -> None:
        self._skewed += count
        self.skew = seconds

    def sample(self, data: bytes, wanted: int) -> None:
        """Keep a few of this chunk's lines the format does not read (looked for among its
        first lines only: a chunk of junk is junk from its start)."""
        if wanted <= 0:
            return
        kept = 0
        for line in data.split(b"\n", 200)[:200]:
            if line and not reads(self.format, line):
                self.samples.append(line[:SAMPLE_BYTES])
                kept += 1
                if kept >= min(wanted, SAMPLES):
                    break

    def judge(self, now: int) -> str:
        """ "" when healthy; else why not, in words for the status line."""
        self.polls.append((now, self._lines, self._unparsed, self._skewed))
        self._lines = self._unparsed = self._skewed = 0
        while self.polls and self.polls[0][0] <= now - SPAN:
            self.polls.popleft()
        lines = sum(p[1] for p in self.polls)
        unparsed = sum(p[2] for p in self.polls)
        skewed = sum(p[3] for p in self.polls)
        bad = unparsed + skewed
        if not lines or not (
            (lines >= ALL_BAD_LINES and bad >= lines)
            or (lines >= MIN_LINES and bad > BAD_SHARE * lines)
        ):
            return ""
        span = max(1, now - self.polls[0][0]) if len(self.polls) > 1 else SPAN
        within = f"in {span} s" if len(self.polls) > 1 else "read"
        if skewed >= unparsed:
            where = "ahead of" if self.skew > 0 else "behind"
            return (
                f"{skewed} of {lines} lines {within} are stamped {_hours(self.skew)} {where} "
                "this clock; a log written in local time without an offset needs the writer's "
                'zone: set timezone = "<its zone>"'
            )
        why = f"{unparsed} of {lines} lines {within} not in {self.format.name} format"
        hint = suggest(self.format, list(self.samples))
        return f"{why}; {hint}" if hint else why
