"""The Prometheus HTTP API, the parts the cockpit reads: instant and range queries.

GET {base_url}/api/v1/query and /api/v1/query_range. The same paths serve Prometheus, Thanos,
Mimir, VictoriaMetrics and Grafana's proxy; a token (if any) goes as a Bearer header and is never
shown: messages name the host only. Answers are bounded in size, values that are not finite
numbers (NaN, +Inf) are kept as None so callers can count them.
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from cockpit.config.prometheus import PrometheusServer
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import one_line, redact_url

MAX_ANSWER_BYTES = 16_777_216  # a runaway query must not fill a bastion's memory
_AUTH_HINT = "token rejected or missing"


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    at: float  # epoch seconds
    value: float | None  # None: not a finite number


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float | None], ...]  # (epoch seconds, value), oldest first


def _number(raw: Any) -> float | None:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _labels(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


def _point(raw: Any) -> tuple[float, float | None] | None:
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    at = _number(raw[0])
    return None if at is None else (at, _number(raw[1]))


class PrometheusApi:
    def __init__(self, cfg: PrometheusServer, timeout: float):
        self.cfg = cfg
        self.base = cfg.base_url.rstrip("/")
        self.host = urlsplit(self.base).netloc.rpartition("@")[2] or self.base
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def shown(self, path: str) -> str:
        return redact_url(f"{self.base}{path}")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Accept": "application/json", "User-Agent": "oncall-cockpit"}
            headers.update(self.cfg.headers)
            if self.cfg.token is not None:
                headers["Authorization"] = f"Bearer {self.cfg.token.reveal()}"
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                headers=headers,
                verify=self.cfg.verify_tls,
                follow_redirects=False,  # a redirect elsewhere must not carry the token along
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def instant(self, query: str, at: float | None = None) -> list[Sample]:
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", params)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            point = _point(result)
            return [] if point is None else [Sample({}, point[0], point[1])]
        if kind != "vector" or not isinstance(result, list):
            raise SourceError(f"{self.host}: expected a vector, got {one_line(str(kind), 20)}")
        samples = []
        for item in result:
            point = _point(item.get("value")) if isinstance(item, dict) else None
            if point is not None:
                samples.append(Sample(_labels(item.get("metric")), point[0], point[1]))
        return samples

    async def range(self, query: str, start: float, end: float, step: int) -> list[Series]:
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        data = await self._get("/api/v1/query_range", params)
        kind, result = data.get("resultType"), data.get("result")
        if kind != "matrix" or not isinstance(result, list):
            raise SourceError(f"{self.host}: expected a matrix, got {one_line(str(kind), 20)}")
        out = []
        for item in result:
            if not isinstance(item, dict) or not isinstance(item.get("values"), list):
                continue
            points = tuple(p for p in map(_point, item["values"]) if p is not None)
            out.append(Series(_labels(item.get("metric")), points))
        return out

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            async with self._http().stream("GET", f"{self.base}{path}", params=params) as answer:
                body = await self._body(answer)
                status = answer.status_code
        except httpx.TimeoutException:
            raise SourceError(f"no answer from {self.host} within {self.timeout:g}s") from None
        except httpx.ConnectError as exc:
            raise SourceError(f"cannot connect to {self.host}: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"{self.host}: {type(exc).__name__}") from None
        if status in (401, 403):
            raise SourceError(f"{self.host}: HTTP {status} ({_AUTH_HINT})")
        if 300 <= status < 400:
            raise SourceError(f"{self.host}: HTTP {status} redirect (check base_url)")
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise SourceError(f"{self.host}: HTTP {status}, not a Prometheus API answer")
        if decoded.get("status") != "success":
            kind = one_line(str(decoded.get("errorType", "error")), 40)
            reason = one_line(str(decoded.get("error", "")), 200)
            raise SourceError(f"{self.host}: query refused ({kind}): {reason}")
        data = decoded.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"{self.host}: answer without data")
        return data

    async def _body(self, answer: httpx.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise SourceError(f"{self.host}: answer larger than {MAX_ANSWER_BYTES >> 20} MB")
            chunks.append(chunk)
        return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    """The cause worth showing, from the chain httpx and anyio wrap around the socket error."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "host not found"
        if isinstance(seen, OSError) and seen.strerror:
            return one_line(seen.strerror, 120).lower()
        seen = seen.__cause__ or seen.__context__
    return one_line(str(exc), 120) or type(exc).__name__
