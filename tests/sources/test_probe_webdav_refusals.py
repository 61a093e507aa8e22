"""A WebDAV request the server refuses is reported as that request, and nothing more is sent.

Against a real nginx WebDAV (the dav module with dav_ext's PROPFIND) rate-limiting PROPFIND with
`limit_req`, which answers 503 as nginx does by default, and against wsgidav refusing a second
simultaneous session. The servers' own logs show which requests arrived.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_servers import Nginx, logged_lines, running_nginx, wait_for_lines
from probe_servers import DavServer, poll_once, secret

from cockpit.config.probes import WebdavProbeConfig

DAV_EXT = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"


def _dav_server(root: Path):  # type: ignore[no-untyped-def]
    def server(prefix: Path, port: int, upstream: int) -> str:
        # One PROPFIND a minute per client; GETs are not limited (an empty key is not counted).
        return f"""map $request_method $propfind_client {{
        PROPFIND $binary_remote_addr;
        default "";
    }}
    limit_req_zone $propfind_client zone=propfind:1m rate=1r/m;
    server {{
        listen 127.0.0.1:{port};
        location = /marker {{ return 204; }}
        location /dav/ {{
            alias {root}/;
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            limit_req zone=propfind;
        }}
    }}"""

    return server


@pytest.fixture
def nginx_dav(tmp_path: Path) -> Iterator[Nginx]:
    if not Path(DAV_EXT).exists():
        raise AssertionError(f"{DAV_EXT} is missing (apt-get install libnginx-mod-http-dav-ext)")
    root = tmp_path / "files"
    root.mkdir()
    (root / "status.json").write_text('{"status": "UP"}')
    with running_nginx(tmp_path, _dav_server(root), main=f"load_module {DAV_EXT};") as nginx:
        yield nginx


def requests_logged(nginx: Nginx) -> list[str]:
    """The requests nginx logged ("METHOD path HTTP/1.1 status"), up to now.

    A marker request is sent last and waited for: a request the probe sent was answered (and
    so logged, by nginx's single worker) before the probe's round ended and the marker went."""
    before = len(logged_lines(nginx.access_log))
    with urllib.request.urlopen(f"{nginx.url}/marker") as answer:
        answer.read()
    lines = wait_for_lines(before + 1, nginx.access_log)
    while not any("/marker" in line for line in lines):
        lines = wait_for_lines(len(lines) + 1, nginx.access_log)
    shown = [line.split('"')[1] + " " + line.split('"')[2].split()[0] for line in lines]
    return [line for line in shown if "/marker" not in line]


@pytest.mark.parametrize(
    "conditions", [(), ("[STATUS] == 207", "[BODY].status == UP")], ids=["plain", "conditions"]
)
async def test_a_propfind_refused_with_503_is_named_and_ends_the_check(
    nginx_dav: Nginx, conditions: tuple[str, ...]
) -> None:
    url = f"{nginx_dav.url}/dav/"
    cfg = WebdavProbeConfig(name="dav", url=url, get_path="status.json", conditions=conditions)
    first = await poll_once(cfg)
    assert first.ok, first.error
    refused = await poll_once(cfg)  # the second PROPFIND within a minute: 503
    assert not refused.ok
    assert refused.error == "PROPFIND /dav/: HTTP 503"
    assert requests_logged(nginx_dav) == [
        "PROPFIND /dav/ HTTP/1.1 207",
        "GET /dav/status.json HTTP/1.1 200",
        "PROPFIND /dav/ HTTP/1.1 503",
    ]


async def test_a_status_the_conditions_expect_is_the_result(nginx_dav: Nginx) -> None:
    """A probe that expects the limit ([STATUS] == 503) passes on it, and sends no GET."""
    url = f"{nginx_dav.url}/dav/"
    await poll_once(WebdavProbeConfig(name="dav", url=url))
    cfg = WebdavProbeConfig(
        name="dav", url=url, get_path="status.json", conditions=("[STATUS] == 503",)
    )
    result = await poll_once(cfg)
    assert result.ok, result.error
    assert [r.split()[0] for r in requests_logged(nginx_dav)] == ["PROPFIND", "PROPFIND"]


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dav"
    root.mkdir()
    (root / "status.json").write_text('{"status": "UP"}')
    with DavServer(root) as server:
        yield server


async def test_wsgidav_refusing_a_second_session_names_the_propfind(dav: DavServer) -> None:
    dav.sessions.one_at_a_time = True
    dav.gather = 2
    cfg = WebdavProbeConfig(
        name="dav",
        url=dav.url,
        user=DavServer.USER,
        password=secret(DavServer.PASSWORD),
        get_path="status.json",
        concurrency=2,
        conditions=("[STATUS] == 207",),
    )
    result = await poll_once(cfg)
    assert (result.ok, result.sessions_ok) == (False, 1)
    assert result.error == "1/2 sessions failed: PROPFIND /dav/: HTTP 503"
    # Three requests reached the server: two PROPFINDs, and the GET of the session that passed.
    assert dav.arrived == 3
