"""The Alertmanager API v2, the parts the cockpit uses: alerts, silences, status.

GET /api/v2/alerts (filtered by the configured matchers), GET /api/v2/silences,
GET /api/v2/status; POST /api/v2/silences creates (JSON body, Content-Type application/json)
and DELETE /api/v2/silence/{id} expires. Basic auth or a Bearer token from a Secret; messages
name the member's host only, never a credential. Answers are bounded in size; anything that is
not the documented shape is "garbage" with the reason, never a crash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from cockpit.config.alerts import AlertmanagerConfig
from cockpit.model import Alert, Matcher, Silence
from cockpit.sources.base import SourceError
from cockpit.sources.http_replies import transport_reason
from cockpit.term.textsafe import one_line
from cockpit.timeutil import iso_utc_precise, parse_iso

MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_ALERTS = 5000  # per member and poll: a storm is summarised, not held whole


class AlertmanagerError(SourceError):
    """A request to one member failed; short, inert, free of credentials."""


def host_of(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2] or url


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        when = parse_iso(raw)
    except (ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    when = when.astimezone(UTC)
    return None if when.year <= 1 else when  # Go's zero time: "not set"


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        return ()
    return tuple((str(k), v) for k, v in raw.items() if isinstance(v, str))


def _ids(raw: Any) -> tuple[str, ...]:
    return tuple(x for x in raw if isinstance(x, str)) if isinstance(raw, list) else ()


def parse_alert(item: Any) -> Alert | None:
    if not isinstance(item, dict):
        return None
    fingerprint = item.get("fingerprint")
    starts = _when(item.get("startsAt"))
    labels = _pairs(item.get("labels"))
    if not isinstance(fingerprint, str) or not fingerprint or starts is None or not labels:
        return None
    raw_status = item.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    state = status.get("state") if isinstance(status.get("state"), str) else "active"
    generator = item.get("generatorURL")
    return Alert(
        fingerprint=fingerprint[:64],
        labels=labels,
        annotations=_pairs(item.get("annotations")),
        starts_at=starts,
        ends_at=_when(item.get("endsAt")),
        state=one_line(state, 20),
        silenced_by=_ids(status.get("silencedBy")),
        inhibited_by=_ids(status.get("inhibitedBy")),
        updated_at=_when(item.get("updatedAt")),
        generator_url=one_line(generator, 300) if isinstance(generator, str) else "",
    )


def parse_silence(item: Any) -> Silence | None:
    if not isinstance(item, dict):
        return None
    sid, starts, ends = item.get("id"), _when(item.get("startsAt")), _when(item.get("endsAt"))
    raw_matchers = item.get("matchers")
    if not isinstance(sid, str) or not sid or starts is None or ends is None:
        return None
    if not isinstance(raw_matchers, list):
        return None
    matchers = []
    for m in raw_matchers:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            return None
        value = m.get("value")
        matchers.append(
            Matcher(
                m["name"],
                value if isinstance(value, str) else "",
                is_regex=m.get("isRegex") is True,
                is_equal=m.get("isEqual") is not False,
            )
        )
    raw_status = item.get("status")
    status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
    state = status.get("state")
    by, comment = item.get("createdBy"), item.get("comment")
    return Silence(
        id=sid[:64],
        matchers=tuple(matchers),
        starts_at=starts,
        ends_at=ends,
        created_by=one_line(by, 100) if isinstance(by, str) else "",
        comment=one_line(comment, 500) if isinstance(comment, str) else "",
        state=one_line(state, 20) if isinstance(state, str) else "",
    )


def silence_body(
    matchers: tuple[Matcher, ...],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
) -> dict[str, Any]:
    """The documented PostableSilence."""
    return {
        "matchers": [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in matchers
        ],
        "startsAt": iso_utc_precise(starts_at),
        "endsAt": iso_utc_precise(ends_at),
        "createdBy": created_by,
        "comment": comment,
    }


class AlertmanagerClient:
    """One httpx client for the members of one cluster."""

    def __init__(self, cfg: AlertmanagerConfig):
        self.cfg = cfg
        self.urls = tuple(u.rstrip("/") for u in cfg.urls)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Accept": "application/json", "User-Agent": "oncall-cockpit"}
            auth: httpx.BasicAuth | None = None
            if self.cfg.token is not None:
                headers["Authorization"] = f"Bearer {self.cfg.token.reveal()}"
            elif self.cfg.password is not None:
                auth = httpx.BasicAuth(self.cfg.user, self.cfg.password.reveal())
            self._client = httpx.AsyncClient(
                headers=headers, auth=auth, timeout=self.cfg.timeout, follow_redirects=False
            )
        return self._client

    async def _request(
        self, method: str, url: str, path: str, *, params: Any = None, body: Any = None
    ) -> Any:
        host = host_of(url)
        try:
            async with self._http().stream(
                method, f"{url}{path}", params=params, json=body
            ) as response:
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_ANSWER_BYTES:
                        raise AlertmanagerError(
                            f"{host}: answer larger than {MAX_ANSWER_BYTES // 1048576} MB"
                        )
        except httpx.HTTPError as exc:
            raise AlertmanagerError(f"{host}: {transport_reason(exc, host)}") from None
        status = response.status_code
        if status in (401, 403):
            raise AlertmanagerError(f"{host}: {status}: credentials rejected or missing")
        if status >= 400:
            said = one_line(bytes(data[:300]).decode("utf-8", "replace"), 160)
            raise AlertmanagerError(f"{host}: {status} {response.reason_phrase}: {said}")
        if not data:
            return None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise AlertmanagerError(f"{host}: answered garbage (not JSON)") from None

    async def alerts(self, url: str, matchers: tuple[Matcher, ...]) -> tuple[Alert, ...]:
        params = [("filter", str(m)) for m in matchers]
        params += [("silenced", "true"), ("inhibited", "true"), ("active", "true")]
        raw = await self._request("GET", url, "/api/v2/alerts", params=params)
        if not isinstance(raw, list):
            raise AlertmanagerError(f"{host_of(url)}: answered garbage (not a list of alerts)")
        parsed = [parse_alert(item) for item in raw[:MAX_ALERTS]]
        alerts = tuple(a for a in parsed if a is not None)
        if raw and not alerts:
            raise AlertmanagerError(f"{host_of(url)}: answered garbage (no alert in the list)")
        return alerts

    async def silences(self, url: str) -> tuple[Silence, ...]:
        raw = await self._request("GET", url, "/api/v2/silences")
        if not isinstance(raw, list):
            raise AlertmanagerError(f"{host_of(url)}: answered garbage (not a list of silences)")
        return tuple(s for s in (parse_silence(i) for i in raw) if s is not None)

    async def status(self, url: str) -> dict[str, Any]:
        raw = await self._request("GET", url, "/api/v2/status")
        if not isinstance(raw, dict) or not isinstance(raw.get("cluster"), dict):
            raise AlertmanagerError(f"{host_of(url)}: answered garbage (not an Alertmanager)")
        return raw

    async def create_silence(self, body: dict[str, Any]) -> tuple[str, str]:
        """Creates on the first member that takes it; returns (silence id, member host)."""
        errors = []
        for url in self.urls:
            try:
                raw = await self._request("POST", url, "/api/v2/silences", body=body)
            except AlertmanagerError as exc:
                errors.append(str(exc))
                continue
            sid = raw.get("silenceID") if isinstance(raw, dict) else None
            if not isinstance(sid, str) or not sid:
                errors.append(f"{host_of(url)}: answered garbage (no silenceID)")
                continue
            return sid, host_of(url)
        raise AlertmanagerError("; ".join(errors))

    async def expire_silence(self, silence_id: str) -> str:
        errors = []
        for url in self.urls:
            try:
                await self._request("DELETE", url, f"/api/v2/silence/{quote(silence_id, safe='')}")
            except AlertmanagerError as exc:
                errors.append(str(exc))
                continue
            return host_of(url)
        raise AlertmanagerError("; ".join(errors))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
