"""WebDAV probe: PROPFIND on each of N connections held open together, then an optional GET of
a file on the same connection, read in a bounded amount. A failing request is named ("PROPFIND
/dav/: HTTP 503") and is the last one sent."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from cockpit.config.conditions import BODY, CONNECTED, STATUS, evaluate_all
from cockpit.config.probes import WebdavProbeConfig
from cockpit.sources.probes.http import HttpConnector, HttpSession, basic_auth, http_reason
from cockpit.sources.probes.sessions import SessionFailed, SessionProbe
from cockpit.sources.probes.tls import expiry_values
from cockpit.term.textsafe import one_line, redact_url

MULTI_STATUS = 207
_PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/></prop></propfind>'
)


class WebdavProbe(SessionProbe[HttpSession]):
    """Open = TCP connect (+ TLS); check = PROPFIND (Depth 0 or 1), then GET get_path."""

    kind = "webdav"

    def __init__(self, cfg: WebdavProbeConfig):
        super().__init__(cfg, redact_url(cfg.url))
        self.cfg: WebdavProbeConfig = cfg
        self._http = HttpConnector(cfg.url, cfg.verify_tls, cfg.ca_file)
        if cfg.user is not None:
            password = cfg.password.reveal() if cfg.password is not None else ""
            self._http.authorization = basic_auth(cfg.user, password)
        self._get_url = urljoin(cfg.url, cfg.get_path) if cfg.get_path else None
        self._path = one_line(urlsplit(cfg.url).path or "/", 80)
        self._status_by_condition = cfg.uses(STATUS)
        self._wants_body = cfg.uses(BODY)

    def address(self) -> tuple[str, int]:
        return self._http.host, self._http.port

    async def prepare(self) -> None:
        await self._http.prepare()

    async def open_session(self) -> HttpSession:
        return await self._http.open()

    async def check_session(self, session: HttpSession) -> Mapping[str, object]:
        """PROPFIND, then GET. A request that fails is named in the reason and ends the check:
        nothing more is sent on a connection whose server just refused (a 503 from a session
        limit, a 401), so the server's log shows the one request that failed."""
        cfg = self.cfg
        listing = await self._http.request(
            session,
            "PROPFIND",
            cfg.url,
            {"Depth": str(cfg.depth), "Content-Type": 'application/xml; charset="utf-8"'},
            cfg.max_body_bytes,
            content=_PROPFIND,
            whole=True,
        )
        values: dict[str, object] = {STATUS: listing.status}
        values.update(expiry_values(session.ssl_object()))
        if listing.status != MULTI_STATUS:
            if not self._status_by_condition or self._status_fails(listing.status):
                raise SessionFailed(
                    f"PROPFIND {self._path}: {_status_reason('PROPFIND', listing.status)}"
                )
            # The conditions expect this answer (a 401 where a login is required, say): it
            # is the result, and the GET that needs a listing is not sent.
            if self._wants_body:
                values[BODY] = listing.body.decode("utf-8", "replace")
            return values
        body = listing.body
        if self._get_url is not None:
            got = await self._http.request(
                session, "GET", self._get_url, {}, cfg.max_body_bytes, whole=True
            )
            if got.status != 200:
                path = one_line(urlsplit(self._get_url).path, 80)
                raise SessionFailed(f"GET {path}: {_status_reason('GET', got.status)}")
            body = got.body
        if self._wants_body:
            values[BODY] = body.decode("utf-8", "replace")
        return values

    def _status_fails(self, status: int) -> bool:
        on_status = tuple(c for c in self.conditions if STATUS in c.placeholders)
        return bool(evaluate_all(on_status, {CONNECTED: True, STATUS: status}))

    async def close_session(self, session: HttpSession) -> None:
        await self._http.close(session)

    def abort_session(self, session: HttpSession) -> None:
        self._http.abort(session)

    def reason(self, exc: BaseException) -> str:
        return http_reason(exc)


def _status_reason(method: str, status: int) -> str:
    if status == 401:
        return "HTTP 401: credentials rejected"
    if status == 405 and method == "PROPFIND":
        return "HTTP 405: not a WebDAV resource"
    return f"HTTP {status}"
