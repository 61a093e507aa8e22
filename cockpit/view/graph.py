"""The 5xx graph's columns: each bucket's 5xx summed into equal columns over a zoom's window,
and each column's rate over the part of it the data cover (a column the log only began in
is not averaged over the time before its first line)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def columns(
    starts: Sequence[float],
    counts: Sequence[float],
    *,
    end: float,
    span: float,
    width: int,
    bucket: float = 0.0,
    data_from: float = -math.inf,
) -> tuple[list[float], float]:
    """Sum counts (at bucket start times, epoch seconds) into `width` equal columns covering
    the `span` seconds before `end`. Returns the sums and each column's length in seconds.

    With `bucket` (seconds per bucket) each bucket's count is spread over the columns its time
    overlaps, in proportion: columns that are not a whole number of buckets wide then still
    draw a steady rate as a steady height, never as a comb of full and empty columns. A bucket
    that began before `data_from` (the log's first line) holds data only from there on."""
    width = max(1, width)
    step = span / width
    sums = [0.0] * width
    begin = end - span
    for start, count in zip(starts, counts, strict=True):
        if bucket <= 0:
            index = int((start - begin) // step)
            if 0 <= index < width:
                sums[index] += count
            continue
        stop = start + bucket
        start = min(max(start, data_from), stop)
        length = stop - start
        if length <= 0:
            continue
        first = max(0, int((start - begin) // step))
        last = min(width - 1, int((stop - begin) // step))
        for index in range(first, last + 1):
            left, right = begin + index * step, begin + (index + 1) * step
            overlap = min(right, stop) - max(left, start)
            if overlap > 0:
                sums[index] += count * overlap / length
    return sums, step


def covered_seconds(
    first: float, last_end: float, *, end: float, span: float, width: int
) -> list[float]:
    """How many seconds of each of `width` columns over the `span` before `end` the data
    cover, which run from `first` to `last_end` (epoch seconds): 0 is no data, not zero."""
    step = span / max(1, width)
    begin = end - span
    return [
        max(0.0, min(begin + (i + 1) * step, last_end) - max(begin + i * step, first))
        for i in range(max(1, width))
    ]


@dataclass(frozen=True, slots=True)
class GraphColumns:
    begin: float  # epoch seconds: the window's left edge
    end: float
    step: float  # seconds per column
    rates: tuple[float, ...]  # 5xx per second over the part of each column the data cover
    known: tuple[bool, ...]  # the columns holding any of the data

    @property
    def top(self) -> float:
        return max(self.rates, default=0.0)


def graph_columns(
    starts: Sequence[float],
    counts: Sequence[float],
    *,
    bucket: float,
    data_from: float,
    span: float,
    width: int,
) -> GraphColumns:
    """The window of `span` seconds ending with the newest bucket, in `width` columns."""
    end = starts[-1] + bucket if starts else data_from
    sums, step = columns(
        starts, counts, end=end, span=span, width=width, bucket=bucket, data_from=data_from
    )
    seconds = covered_seconds(data_from, end, end=end, span=span, width=width)
    known = [s > 1e-3 for s in seconds]
    rates = [total / s if k else 0.0 for total, s, k in zip(sums, seconds, known, strict=True)]
    return GraphColumns(end - span, end, step, tuple(rates), tuple(known))
