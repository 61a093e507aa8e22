"""Reading what a Sentry SDK sends: auth, compressed bodies, envelopes.

An envelope is newline-separated: one JSON header line, then items, each a JSON item header
(with an optional byte `length`) followed by its payload. sentry-sdk gzips the body (brotli when
the brotli module is installed) and names the key in X-Sentry-Auth.
"""

from __future__ import annotations

import importlib
import json
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

# Bounds on what one request may cost, compressed and inflated.
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_INFLATED_BYTES = 50 * 1024 * 1024

try:
    _brotli: Any = importlib.import_module("brotli")
except ImportError:
    _brotli = None


class IngestError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def supported_encodings() -> tuple[str, ...]:
    return ("identity", "gzip", "deflate", *(("br",) if _brotli is not None else ()))


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 16+: gzip wrapper; 32+: zlib or gzip auto-detected (deflate bodies vary).
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else 32 + zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, MAX_INFLATED_BYTES)
        except zlib.error:
            raise IngestError(400, f"body is not valid {encoding}") from None
        if inflater.unconsumed_tail:
            raise IngestError(413, "inflated body is too large")
        return out
    if encoding == "br" and _brotli is not None:
        try:
            out = _brotli.decompress(body)
        except Exception:
            raise IngestError(400, "body is not valid br") from None
        if len(out) > MAX_INFLATED_BYTES:
            raise IngestError(413, "inflated body is too large")
        return bytes(out)
    raise IngestError(415, f"unsupported Content-Encoding {encoding!r}")


def public_key(auth_header: str | None, query: str) -> str | None:
    """The sentry_key from `X-Sentry-Auth: Sentry sentry_key=..., ...` or the query string."""
    if auth_header:
        text = auth_header.strip()
        if text.lower().startswith("sentry "):
            text = text[7:]
        for part in text.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip() == "sentry_key" and value.strip():
                return value.strip()
    values = parse_qs(query).get("sentry_key")
    return values[0] if values else None


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    headers: dict[str, Any]
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: tuple[EnvelopeItem, ...]


def _json_line(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise IngestError(400, f"invalid {what}") from None
    if not isinstance(value, dict):
        raise IngestError(400, f"invalid {what}")
    return value


def parse_envelope(data: bytes) -> Envelope:
    head, _, rest = data.partition(b"\n")
    headers = _json_line(head, "envelope header")
    items: list[EnvelopeItem] = []
    position = 0
    while position < len(rest):
        end = rest.find(b"\n", position)
        line = rest[position:] if end < 0 else rest[position:end]
        position = len(rest) if end < 0 else end + 1
        if not line.strip():
            continue  # trailing newline(s)
        item_headers = _json_line(line, "item header")
        length = item_headers.get("length")
        if length is not None:
            if not isinstance(length, int) or length < 0 or position + length > len(rest):
                raise IngestError(400, "item length runs past the end of the envelope")
            payload = rest[position : position + length]
            position += length
            if rest[position : position + 1] == b"\n":
                position += 1
        else:
            end = rest.find(b"\n", position)
            payload = rest[position:] if end < 0 else rest[position:end]
            position = len(rest) if end < 0 else end + 1
        items.append(EnvelopeItem(str(item_headers.get("type", "")), item_headers, payload))
    return Envelope(headers, tuple(items))


def events_in(envelope: Envelope) -> list[dict[str, Any]]:
    """The error events an envelope carries; sessions, client reports and the like are not."""
    events = []
    for item in envelope.items:
        if item.type != "event":
            continue
        try:
            event = item.json()
        except ValueError:
            raise IngestError(400, "event item is not JSON") from None
        if isinstance(event, dict):
            if "event_id" not in event and "event_id" in envelope.headers:
                event["event_id"] = envelope.headers["event_id"]
            events.append(event)
    return events
