"""Deploys from the GitHub Deployments API (github.com or GitHub Enterprise).

    GET {base_url}/repos/{owner}/{repo}/deployments?environment=...&per_page=N
    GET {base_url}/repos/{owner}/{repo}/deployments/{id}/statuses?per_page=1   (latest first)

version = the deployment's ref (a 40-hex sha is shortened to 7), who = creator login,
at = created_at, summary = "[latest state] description". Deployments whose latest state is
failure or error did not change what runs, so they are left out unless include_failed.
The list is asked with If-None-Match (a 304 costs no rate limit); a status that can no
longer change is not asked again.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from cockpit.config.deploys import GitHubDeploymentsConfig
from cockpit.model import Category, Deploy, Deploys
from cockpit.sources.base import SourceError
from cockpit.sources.http_replies import host_of, json_message, transport_reason
from cockpit.term.textsafe import one_line
from cockpit.timeutil import local_hms, parse_iso

API_VERSION = "2022-11-28"
STATUS_REQUESTS = 4  # status requests in flight at once
FAILED = frozenset({"failure", "error"})
# States that no longer change by themselves ("success" may still become "inactive": harmless).
SETTLED = frozenset({"success", "inactive", "failure", "error"})
_SHA = re.compile(r"^[0-9a-f]{40}$")


class GitHubDeployments:
    kind = "github"
    category = Category.DEPLOYS

    def __init__(self, cfg: GitHubDeploymentsConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.service = cfg.service or cfg.repo
        base = cfg.base_url.rstrip("/")
        self._repo_url = f"{base}/repos/{quote(cfg.owner, safe='')}/{quote(cfg.repo, safe='')}"
        self._host = host_of(base)
        self._client: httpx.AsyncClient | None = None
        self._etag: str | None = None
        self._listed: list[dict[str, Any]] = []
        self._settled: dict[int, str] = {}  # deployment id -> latest state that cannot change
        self.requests = 0  # made so far; tests and `cockpit check` read it

    @property
    def target(self) -> str:
        env = f" ({self.cfg.environment})" if self.cfg.environment else ""
        return f"{self._repo_url}/deployments{env}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "oncall-cockpit",
            }
            if self.cfg.token is not None:
                headers["Authorization"] = f"Bearer {self.cfg.token.reveal()}"
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.cfg.timeout),
                headers=headers,
                follow_redirects=False,  # a redirect elsewhere must not carry the token
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def poll(self) -> Deploys:
        try:
            listed = await self._list()
            limit = asyncio.Semaphore(STATUS_REQUESTS)
            states = await asyncio.gather(*(self._state(item, limit) for item in listed))
        except SourceError as exc:
            raise SourceError(self._scrub(str(exc))) from None
        deploys = []
        for item, state in zip(listed, states, strict=True):
            if state in FAILED and not self.cfg.include_failed:
                continue
            deploy = self._deploy(item, state)
            if deploy is not None:
                deploys.append(deploy)
        deploys.sort(key=lambda d: d.at, reverse=True)
        return Deploys(source=self.name, deploys=tuple(deploys))

    async def _list(self) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"per_page": self.cfg.max_deploys}
        if self.cfg.environment:
            params["environment"] = self.cfg.environment
        headers = {"If-None-Match": self._etag} if self._etag else {}
        response = await self._get(f"{self._repo_url}/deployments", params, headers)
        if response.status_code == 304:
            return self._listed
        body = self._json(response)
        if not isinstance(body, list):
            raise SourceError(f"unexpected answer from {self._host}: not a list of deployments")
        self._listed = [item for item in body if isinstance(item, dict)]
        self._etag = response.headers.get("ETag")
        return self._listed

    async def _state(self, item: dict[str, Any], limit: asyncio.Semaphore) -> str:
        ident = item.get("id")
        if not isinstance(ident, int):
            return ""
        if ident in self._settled:
            return self._settled[ident]
        async with limit:
            response = await self._get(
                f"{self._repo_url}/deployments/{ident}/statuses", {"per_page": 1}, {}
            )
        body = self._json(response)
        if not isinstance(body, list):
            raise SourceError(f"unexpected answer from {self._host}: not a list of statuses")
        latest = body[0] if body and isinstance(body[0], dict) else {}
        state = latest.get("state")
        state = state.lower() if isinstance(state, str) else ""
        if state in SETTLED:
            self._settled[ident] = state
        return state

    async def _get(
        self, url: str, params: dict[str, str | int], headers: dict[str, str]
    ) -> httpx.Response:
        self.requests += 1
        try:
            response = await self._http().get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceError(transport_reason(exc, self._host)) from None
        if response.status_code == 304 or 200 <= response.status_code < 300:
            return response
        raise SourceError(self._status_reason(response))

    def _status_reason(self, response: httpx.Response) -> str:
        status = response.status_code
        try:
            detail = json_message(response.json())
        except ValueError:
            detail = ""
        if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            try:
                until = datetime.fromtimestamp(int(reset), UTC)
                return f"rate limited by {self._host} until {local_hms(until)}"
            except (ValueError, OverflowError, OSError):
                return f"rate limited by {self._host}"
        if status == 401:
            return f"401 from {self._host}: the token was refused ({detail or 'Bad credentials'})"
        if status == 404:
            return (
                f"404 from {self._host}: no repository {self.cfg.owner}/{self.cfg.repo}, "
                "or the token cannot see it"
            )
        return f"HTTP {status} from {self._host}" + (f": {detail}" if detail else "")

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"malformed JSON from {self._host}") from None

    def _deploy(self, item: dict[str, Any], state: str) -> Deploy | None:
        ref, sha, created = item.get("ref"), item.get("sha"), item.get("created_at")
        if not isinstance(created, str):
            return None
        try:
            at = parse_iso(created).astimezone(UTC)
        except (ValueError, OverflowError):
            return None
        version = ref if isinstance(ref, str) and ref else sha
        if not isinstance(version, str) or not version:
            return None
        if _SHA.match(version):
            version = version[:7]
        creator = item.get("creator")
        login = creator.get("login") if isinstance(creator, dict) else None
        description = item.get("description")
        summary = description if isinstance(description, str) else ""
        if state:
            summary = f"[{state}] {summary}".strip()
        return Deploy(
            service=self.service,
            version=version,  # exact: a ref or a commit, passed on as it is (or refused)
            who=one_line(login, 100) if isinstance(login, str) else "",
            at=at,
            summary=one_line(summary, 500),
            source=self.name,
        )

    def _scrub(self, message: str) -> str:
        token = self.cfg.token.reveal() if self.cfg.token is not None else ""
        return message.replace(token, "***") if token else message
