"""5xx spikes: each error source judged bucket by bucket against its own baseline, the spikes
open now and the ones that ended during the current failure."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from math import ceil

from cockpit.config.sections import DetectSettings
from cockpit.model import ErrorBucket, ErrorSeries, TimelineEvent
from cockpit.timeutil import iso_utc, local_hms

# How far back the quiet buckets that make a 5xx baseline reach.
BASELINE_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class Spike:
    source: str
    start: datetime  # start of the first bucket over the threshold
    peak_ratio: float
    peak_at: datetime
    bucket_seconds: int = 0
    baseline: float = 0.0  # the 5xx ratio before the spike opened
    # False when the data begin inside the spike: it started at `start` or before.
    start_known: bool = True
    found_on_open: bool = False  # already under way in what was read back at start

    @property
    def latest_start(self) -> datetime:
        """The errors began somewhere in the first bucket: no later than its end."""
        return self.start + timedelta(seconds=self.bucket_seconds)


@dataclass
class _ErrorTrack:
    """One error source judged bucket by bucket, as if watched all along: a series read back
    at start is replayed in order, so a spike under way is dated by its own first bucket and
    judged against the buckets before it. Spike buckets never join the baseline."""

    recent: int
    last: datetime | None = None  # start of the newest bucket judged
    window: deque[ErrorBucket] = field(default_factory=deque)
    quiet: deque[tuple[int, int]] = field(default_factory=deque)  # (requests, 5xx), baseline
    seen_quiet: bool = False  # a bucket with traffic was judged outside any spike
    spike: Spike | None = None
    replayed: bool = False  # the first series (what was read back) has been judged

    def baseline(self) -> float:
        requests = sum(r for r, _ in self.quiet)
        return sum(e for _, e in self.quiet) / requests if requests else 0.0

    def leave(self, bucket: ErrorBucket, keep: int, in_failure: bool = False) -> None:
        """A bucket leaving the judged window joins the baseline unless it was in a spike or
        in a failure (a probe or an alert failing): what the service does while broken is not
        its normal, even when the 5xx stayed under the bar."""
        if self.spike is None or bucket.start < self.spike.start:
            if not in_failure:
                self.quiet.append((bucket.requests, bucket.errors_5xx))
                while len(self.quiet) > keep:
                    self.quiet.popleft()
            self.seen_quiet = self.seen_quiet or bucket.requests > 0


class SpikeWatch:
    """Every error source's track. `open` holds the spikes under way by source, `series` the
    latest series of each source, `ended` the (start, end) of spikes over during the current
    failure (the detector clears it when the failure ends)."""

    def __init__(self, settings: DetectSettings) -> None:
        self.settings = settings
        self.open: dict[str, Spike] = {}
        self.series: dict[str, ErrorSeries] = {}
        self.ended: list[tuple[datetime, datetime]] = []
        self._tracks: dict[str, _ErrorTrack] = {}
        self._adopted: dict[str, TimelineEvent] = {}  # recorded open, not yet seen

    def baselines(self) -> tuple[tuple[str, float], ...]:
        """Per source, the 5xx ratio a spike is judged against: the open spike's own, else
        the quiet buckets'."""
        return tuple(
            (source, t.spike.baseline if t.spike is not None else t.baseline())
            for source, t in self._tracks.items()
        )

    def adopt(self, source: str, event: TimelineEvent) -> None:
        """A `spike.start` the timeline already records and no `spike.end` after it."""
        self._adopted[source] = event

    def observe(
        self,
        series: ErrorSeries,
        in_failure: Callable[[datetime], bool],
        out: list[TimelineEvent],
    ) -> None:
        """Judge the buckets of `series` not judged yet; `in_failure(at)` tells whether a
        moment lies in a failure, whose buckets stay out of the baseline."""
        self.series[series.source] = series
        track = self._tracks.get(series.source)
        if track is None:
            track = self._tracks[series.source] = _ErrorTrack(self.settings.spike_recent_buckets)
        on_open = not track.replayed
        # The newest bucket is still filling; judge on the complete ones before it.
        for bucket in series.buckets[:-1]:
            if track.last is not None and bucket.start <= track.last:
                continue
            track.last = bucket.start
            self._judge(series, track, bucket, on_open, in_failure, out)
        track.replayed = True
        if track.spike is not None:
            self.open[series.source] = track.spike
        else:
            self.open.pop(series.source, None)
        adopted = self._adopted.pop(series.source, None)
        if adopted is None or not on_open:
            return
        spike = track.spike
        if spike is not None and not spike.start_known and adopted.at < spike.start:
            # Recorded by a cockpit that saw it begin: that start is the true one.
            track.spike = self.open[series.source] = replace(
                spike, start=adopted.at, start_known=True
            )
        elif spike is None and not any(e.kind == "spike.end" for e in out):
            seen = next((b.start for b in series.buckets if b.requests), None)
            if seen is None:
                return
            out.append(
                TimelineEvent(
                    seen,
                    "spike.end",
                    f"5xx spike on {series.source} from {local_hms(adopted.at)} over by "
                    f"{local_hms(seen)} (it ended while no cockpit watched)",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(adopted.at)}",
                )
            )

    def _judge(
        self,
        series: ErrorSeries,
        track: _ErrorTrack,
        bucket: ErrorBucket,
        on_open: bool,
        in_failure: Callable[[datetime], bool],
        out: list[TimelineEvent],
    ) -> None:
        s = self.settings
        keep = max(
            s.spike_recent_buckets + 1, ceil(BASELINE_SECONDS / max(1, series.bucket_seconds))
        )
        track.window.append(bucket)
        while len(track.window) > s.spike_recent_buckets:
            leaving = track.window.popleft()
            track.leave(leaving, keep, in_failure(leaving.start))
        window = track.window
        req = sum(b.requests for b in window)
        err = sum(b.errors_5xx for b in window)
        ratio = err / req if req else 0.0
        spike = track.spike
        # While a spike is open its own buckets must not raise the bar it is judged against.
        baseline = spike.baseline if spike is not None else track.baseline()
        bar = max(s.spike_min_ratio, baseline * s.spike_factor)
        hot = err >= s.spike_min_errors and ratio >= bar
        found = " (found on open)" if on_open else ""
        if spike is None and hot:
            # The spike starts at the first bucket over the bar on its own: an earlier bucket
            # holding only the usual stray error (thin traffic can make one look like a high
            # ratio) is not part of it.
            first = next(
                (b for b in window if b.errors_5xx >= 2 and b.errors_5xx >= bar * b.requests),
                next(b for b in window if b.errors_5xx),
            )
            known = track.seen_quiet or any(b.requests and b.start < first.start for b in window)
            for b in [b for b in window if b.start < first.start]:
                window.remove(b)
                track.leave(b, keep)
            track.spike = Spike(
                series.source,
                first.start,
                ratio,
                bucket.start,
                series.bucket_seconds,
                baseline,
                known,
                on_open,
            )
            since = (
                f"since {local_hms(first.start)}"
                if known
                else f"under way since before {local_hms(first.start)} (the data begin there)"
            )
            base = f"baseline {baseline:.1%}" if known else "no baseline in view"
            out.append(
                TimelineEvent(
                    first.start,
                    "spike.start",
                    f"5xx spike on {series.source} {since}: {ratio:.0%} of requests "
                    f"({base}){found}",
                    series.source,
                    f"spike:{series.source}:start:{iso_utc(first.start)}",
                )
            )
        elif spike is not None and hot and ratio > spike.peak_ratio:
            track.spike = replace(spike, peak_ratio=ratio, peak_at=bucket.start)
        elif spike is not None and not hot:
            end = window[0].start
            out.append(
                TimelineEvent(
                    spike.peak_at,
                    "spike.peak",
                    f"5xx spike on {series.source} peaked at {spike.peak_ratio:.0%} "
                    f"of requests (baseline {spike.baseline:.1%}){found}",
                    series.source,
                    f"spike:{series.source}:peak:{iso_utc(spike.start)}",
                )
            )
            self.ended.append((spike.start, end))
            out.append(
                TimelineEvent(
                    end,
                    "spike.end",
                    f"5xx spike on {series.source} over: {local_hms(spike.start)}-"
                    f"{local_hms(end)}, peak {spike.peak_ratio:.0%} "
                    f"at {local_hms(spike.peak_at)}{found}",
                    series.source,
                    f"spike:{series.source}:end:{iso_utc(spike.start)}",
                )
            )
            track.spike = None
