"""What a JSON-printing command said: one JSON array, or one JSON object per line."""

from __future__ import annotations

import json

from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line


def json_records(text: str, noun: str) -> list[tuple[str, object]]:
    """(where, record) pairs, where names the item or line for messages; SourceError when
    the output is neither form. `noun` says what the records should be ("deploys")."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise SourceError(f"output is not valid JSON: {one_line(str(exc), 120)}") from None
        if not isinstance(items, list):
            raise SourceError(f"output is not a JSON array of {noun}")
        return [(f"item {i + 1}", item) for i, item in enumerate(items)]
    records: list[tuple[str, object]] = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except (ValueError, RecursionError):
            raise SourceError(f"output line {number} is not JSON: {one_line(line, 60)!r}") from None
    return records
