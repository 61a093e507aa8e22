"""WebDAV probe: PROPFIND on each of N connections held open together, then an optional GET of
a file on the same connection, read in a bounded amount."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from cockpit.conditions import BODY, STATUS
from cockpit.config.probes import WebdavProbeConfig
from cockpit.sources.http_probe import HttpConnector, HttpSession, basic_auth, http_reason
from cockpit.sources.sessions import SessionFailed, SessionProbe
from cockpit.sources.tls_probe import expiry_values
from cockpit.textsafe import one_line, redact_url

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
        self._status_by_condition = cfg.uses(STATUS)
        self._wants_body = cfg.uses(BODY)

    def address(self) -> tuple[str, int]:
        return self._http.host, self._http.port

    async def prepare(self) -> None:
        self._http.prepare()

    async def open_session(self) -> HttpSession:
        return await self._http.open()

    async def check_session(self, session: HttpSession) -> Mapping[str, object]:
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
        if not self._status_by_condition and listing.status != MULTI_STATUS:
            raise SessionFailed(_status_reason("PROPFIND", listing.status))
        body = listing.body
        if self._get_url is not None:
            got = await self._http.request(
                session, "GET", self._get_url, {}, cfg.max_body_bytes, whole=True
            )
            if got.status != 200:
                path = one_line(urlsplit(self._get_url).path, 80)
                raise SessionFailed(f"GET {path}: {_status_reason('GET', got.status)}")
            body = got.body
        values: dict[str, object] = {STATUS: listing.status}
        if self._wants_body:
            values[BODY] = body.decode("utf-8", "replace")
        values.update(expiry_values(session.ssl_object()))
        return values

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
