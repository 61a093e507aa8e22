"""Column charts as text: one column per time bucket, several rows high, with markers below."""

from __future__ import annotations

from collections.abc import Sequence

from widgets.glyphs import Glyphs


def bar_rows(
    values: Sequence[float], height: int, g: Glyphs, top: float | None = None
) -> list[str]:
    """Rows of text, top row first, drawing each value as a column scaled to `top`."""
    if height <= 0:
        return []
    scale = top if top is not None else max(values, default=0.0)
    steps = len(g.bars) - 1
    cells_per_value = [round(v / scale * height * steps) if scale > 0 else 0 for v in values]
    # Any non-zero value shows at least the smallest bar, so a trickle of errors is visible.
    cells_per_value = [
        max(c, 1) if v > 0 else 0 for c, v in zip(cells_per_value, values, strict=True)
    ]
    rows = []
    for row in range(height - 1, -1, -1):
        floor = row * steps
        line = []
        for cells in cells_per_value:
            filled = cells - floor
            line.append(g.bars[-1] if filled >= steps else g.bars[max(0, filled)])
        rows.append("".join(line))
    return rows


def marker_row(width: int, marks: dict[int, str]) -> str:
    """A row of spaces with a glyph at each marked column (later marks win)."""
    cells = [" "] * width
    for column, glyph in marks.items():
        if 0 <= column < width:
            cells[column] = glyph
    return "".join(cells)


def columns(
    starts: Sequence[float],
    counts: Sequence[float],
    *,
    end: float,
    span: float,
    width: int,
    bucket: float = 0.0,
) -> tuple[list[float], float]:
    """Sum counts (at bucket start times, epoch seconds) into `width` equal columns covering
    the `span` seconds before `end`. Returns the sums and each column's length in seconds.

    With `bucket` (seconds per bucket) each bucket's count is spread over the columns its time
    overlaps, in proportion: columns that are not a whole number of buckets wide then still
    draw a steady rate as a steady height, never as a comb of full and empty columns."""
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
        first = max(0, int((start - begin) // step))
        last = min(width - 1, int((stop - begin) // step))
        for index in range(first, last + 1):
            left, right = begin + index * step, begin + (index + 1) * step
            overlap = min(right, stop) - max(left, start)
            if overlap > 0:
                sums[index] += count * overlap / bucket
    return sums, step


def covered(first: float, last_end: float, *, end: float, span: float, width: int) -> list[bool]:
    """Which of `width` columns over the `span` before `end` hold any of the data, which runs
    from `first` to `last_end` (epoch seconds): a column outside it has no data, not zero."""
    step = span / max(1, width)
    begin = end - span
    return [begin + (i + 1) * step > first and begin + i * step < last_end for i in range(width)]


def axis_labels(width: int, labels: Sequence[tuple[int, str]]) -> str:
    """Labels placed at columns (left-aligned at their column, kept inside the row and apart
    from each other); a label that would overlap the previous one is left out."""
    cells = [" "] * width
    free_from = 0
    for column, text in labels:
        start = max(free_from, min(column, width - len(text)))
        if start < 0 or start + len(text) > width or start < free_from:
            continue
        cells[start : start + len(text)] = list(text)
        free_from = start + len(text) + 1
    return "".join(cells)
