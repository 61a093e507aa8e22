"""Words that must be read whole on a narrow panel, wrapped onto a few rows: a list of items
(a suspect's reasons, what fails with no Sentry issue) packed so that a row breaks between
items before it breaks inside one."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence


def _pack(pieces: Sequence[str], first: int, rest: int) -> list[str]:
    out: list[str] = []
    line = ""
    for piece in pieces:
        room = first if not out else rest
        if not line:
            line = piece
        elif len(line) + 1 + len(piece) <= room:
            line += " " + piece
        elif len(piece) <= rest:
            out.append(line)
            line = piece
        else:
            line += " " + piece
        while len(line) > (first if not out else rest):  # an item longer than a row
            room = first if not out else rest
            head, *tail = textwrap.wrap(line, room, break_on_hyphens=False) or [line]
            out.append(head)
            line = " ".join(tail)
    if line:
        out.append(line)
    return out


def wrap_items(
    items: Sequence[str],
    width: int,
    rows: int,
    *,
    head: str,
    indent: str,
    sep: str,
    count_left_out: bool = False,
    ellipsis: str = "…",
) -> tuple[str, ...]:
    """`items` after `head`, joined by `sep`, in at most `rows` rows of `width` cells, the rows
    after the first starting with `indent`. What does not fit ends the last row: "+N" (the
    items left out) with `count_left_out`, else `ellipsis`."""
    if not items or rows < 1:
        return ()
    first = max(8, width - len(head))
    rest = max(8, width - len(indent))
    n = len(items)

    def pieces(k: int) -> list[str]:
        return [item + (sep if i < k - 1 else "") for i, item in enumerate(items[:k])]

    packed = _pack(pieces(n), first, rest)
    if len(packed) > rows:
        if count_left_out:
            for k in range(n - 1, 0, -1):
                tried = pieces(k)
                tried[-1] += f"{sep} +{n - k}"
                attempt = _pack(tried, first, rest)
                if len(attempt) <= rows:
                    packed = attempt
                    break
            else:
                packed = _pack([f"{items[0]}{sep} +{n - 1}"], first, rest)
        if len(packed) > rows:
            last = " ".join(packed[rows - 1 :])
            room = first if rows == 1 else rest
            keep = last[: room - len(ellipsis)].rstrip()
            packed = [*packed[: rows - 1], keep + ellipsis]
    return tuple((head if i == 0 else indent) + line for i, line in enumerate(packed))
