"""The header's words on a failure under way: DEGRADED and since when, from the detector's
impact start (local time, to the second, as the timeline says it). Several phrasings, longest
first: at 80 columns the header drops words, never the time."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.detect.detector import Assessment
from cockpit.timeutil import local_hms


@dataclass(frozen=True, slots=True)
class HeaderView:
    # While degraded with no incident open: the phrasings, longest first; () when not degraded.
    degraded: tuple[str, ...] = ()


def degraded_words(assessment: Assessment) -> tuple[str, ...]:
    """ "DEGRADED since 16:12:05, no incident declared", then shorter; "since before ..." when
    the data begin inside the failure (its real start is earlier)."""
    if not assessment.degraded:
        return ()
    since = assessment.first_failure_at
    head = "DEGRADED"
    if since is not None:
        before = "" if assessment.first_failure_known else "before "
        head += f" since {before}{local_hms(since)}"
    return (f"{head}, no incident declared", f"{head}, not declared", head)


def header_view(assessment: Assessment) -> HeaderView:
    return HeaderView(degraded_words(assessment))
