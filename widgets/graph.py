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
