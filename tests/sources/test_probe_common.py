"""Every probe kind through the cockpit's own paths: the hub, `cockpit check --json`, and a
server that accepts and never answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from probe_servers import (
    BannerServer,
    Certs,
    DavServer,
    FtpServer,
    HttpsServer,
    SftpServer,
    TlsServer,
    make_certs,
    poll_once,
    refused_port,
    secret,
    serving,
    silent_port,
)

from cockpit.cli import main
from cockpit.config import parse
from cockpit.config.probes import (
    FtpProbeConfig,
    FtpsProbeConfig,
    HttpProbeConfig,
    SftpProbeConfig,
    TcpProbeConfig,
    TlsProbeConfig,
    WebdavProbeConfig,
)
from cockpit.hub import Hub
from cockpit.model import ProbeResult
from cockpit.sources.registry import build_source

KINDS = ("http", "tcp", "tls", "ftp", "ftps", "sftp", "webdav")
PASSWORD_ENV = "PROBE_TEST_PASSWORD"


@dataclass
class Fleet:
    certs: Certs
    known_hosts: Path
    https: HttpsServer
    banner: BannerServer
    tls: TlsServer
    ftp: FtpServer
    ftps: FtpServer
    sftp: SftpServer
    dav: DavServer


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("fleet")
    certs = make_certs(base)
    root = base / "root"
    root.mkdir()
    (root / "status.json").write_text('{"status": "UP"}')
    with (
        serving(HttpsServer(certs.cert, certs.key)) as https,
        serving(BannerServer()) as banner,
        serving(TlsServer(certs.cert, certs.key)) as tls,
        FtpServer(root) as ftp,
        FtpServer(root, certs) as ftps,
        SftpServer(root) as sftp,
        DavServer(root) as dav,
    ):
        known_hosts = base / "known_hosts"
        known_hosts.write_text(sftp.known_hosts_line())
        yield Fleet(certs, known_hosts, https, banner, tls, ftp, ftps, sftp, dav)


def good_config(fleet: Fleet, kind: str, **options: object) -> object:
    host = "127.0.0.1"
    pw = secret(FtpServer.PASSWORD)
    user = FtpServer.USER
    ca = fleet.certs.ca
    opts: dict[str, object] = {"name": f"good-{kind}", **options}
    if kind == "http":
        return HttpProbeConfig(url=fleet.https.url, ca_file=ca, **opts)  # type: ignore[arg-type]
    if kind == "tcp":
        return TcpProbeConfig(host=host, port=fleet.banner.port, expect="220", **opts)  # type: ignore[arg-type]
    if kind == "tls":
        return TlsProbeConfig(host=host, port=fleet.tls.port, ca_file=ca, **opts)  # type: ignore[arg-type]
    if kind == "ftp":
        return FtpProbeConfig(host=host, port=fleet.ftp.port, user=user, password=pw, **opts)  # type: ignore[arg-type]
    if kind == "ftps":
        port = fleet.ftps.port
        return FtpsProbeConfig(host=host, port=port, user=user, password=pw, ca_file=ca, **opts)  # type: ignore[arg-type]
    if kind == "sftp":
        return SftpProbeConfig(
            host=host,
            port=fleet.sftp.port,
            user=user,
            password=pw,
            known_hosts=fleet.known_hosts,
            **opts,  # type: ignore[arg-type]
        )
    return WebdavProbeConfig(url=fleet.dav.url, user=user, password=pw, **opts)  # type: ignore[arg-type]


def silent_config(kind: str, port: int, timeout: float) -> object:
    host, name = "127.0.0.1", f"silent-{kind}"
    return {
        "http": lambda: HttpProbeConfig(name=name, url=f"http://{host}:{port}/", timeout=timeout),
        "tcp": lambda: TcpProbeConfig(name=name, host=host, port=port, expect="x", timeout=timeout),
        "tls": lambda: TlsProbeConfig(name=name, host=host, port=port, timeout=timeout),
        "ftp": lambda: FtpProbeConfig(name=name, host=host, port=port, timeout=timeout),
        "ftps": lambda: FtpsProbeConfig(name=name, host=host, port=port, timeout=timeout),
        "sftp": lambda: SftpProbeConfig(
            name=name,
            host=host,
            port=port,
            user="a",
            timeout=timeout,
            insecure_skip_host_key_check=True,
        ),
        "webdav": lambda: WebdavProbeConfig(
            name=name, url=f"http://{host}:{port}/", timeout=timeout
        ),
    }[kind]()


@pytest.mark.parametrize("kind", KINDS)
async def test_silent_server_ends_at_the_timeout_and_spares_the_other_probe(
    fleet: Fleet, kind: str
) -> None:
    with silent_port() as port:
        hung, fine = await asyncio.gather(
            poll_once(silent_config(kind, port, timeout=0.5)),
            poll_once(good_config(fleet, kind, concurrency=2)),
        )
    # The probe ends its own round and says why (the hub's cancel is only a backstop).
    assert isinstance(hung, ProbeResult) and isinstance(fine, ProbeResult)
    assert (hung.ok, hung.error) == (False, "no response within 0.5s")
    assert fine.ok, fine.error
    assert fine.sessions_ok == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_hub_polls_every_kind_repeatedly(fleet: Fleet, kind: str) -> None:
    source = build_source(good_config(fleet, kind, concurrency=3))  # type: ignore[arg-type]
    hub = Hub([source])
    try:
        for _ in range(2):
            snapshot = await hub.poll_all_once()
            result = snapshot.readings[source.name]
            assert isinstance(result, ProbeResult)
            assert result.ok, result.error
            assert (result.kind, result.sessions_ok, result.concurrency) == (kind, 3, 3)
    finally:
        await hub.aclose()


def write_config(fleet: Fleet, path: Path, *, broken: str | None = None) -> Path:
    ca = fleet.certs.ca
    pw = f'password_env = "{PASSWORD_ENV}"'
    entries = {
        "http": f'url = "{fleet.https.url}"\nca_file = "{ca}"\n'
        'conditions = ["[STATUS] == 200", "[BODY].status == UP", "[CERTIFICATE_EXPIRATION] > 72h"]',
        "tcp": f'host = "127.0.0.1"\nport = {fleet.banner.port}\nexpect = "220"',
        "tls": f'host = "127.0.0.1"\nport = {fleet.tls.port}\nca_file = "{ca}"',
        "ftp": f'host = "127.0.0.1"\nport = {fleet.ftp.port}\nuser = "alice"\n{pw}\n'
        'retrieve_path = "status.json"\nconditions = ["[BODY].status == UP"]',
        "ftps": f'host = "127.0.0.1"\nport = {fleet.ftps.port}\nuser = "alice"\n{pw}\n'
        f'ca_file = "{ca}"\nlist_path = "/"',
        "sftp": f'host = "127.0.0.1"\nport = {fleet.sftp.port}\nuser = "alice"\n{pw}\n'
        f'known_hosts = "{fleet.known_hosts}"\nread_path = "status.json"',
        "webdav": f'url = "{fleet.dav.url}"\nuser = "alice"\n{pw}\nget_path = "status.json"',
    }
    if broken is not None:
        entries[broken] += '\nconditions = ["[RESPONSE_TIME] < 0"]'
    text = "".join(
        f'[[probes]]\nname = "{kind}-probe"\nkind = "{kind}"\nconcurrency = 2\ntimeout = 5\n'
        f"{body}\n\n"
        for kind, body in entries.items()
    )
    path.write_text(text)
    return path


def test_check_json_runs_every_kind(
    fleet: Fleet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, FtpServer.PASSWORD)
    config = write_config(fleet, tmp_path / "all.toml")
    assert len(parse(config.read_text(), config).probes) == len(KINDS)
    code = main(["check", "--json", "--config", str(config)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, rows
    assert [r["kind"] for r in rows] == list(KINDS)
    for row in rows:
        assert row["ok"] is True and row["error"] == ""
        assert (row["sessions_ok"], row["concurrency"]) == (2, 2)
        assert isinstance(row["latency_ms"], float)
        assert FtpServer.PASSWORD not in json.dumps(row)


def test_check_json_exits_1_when_one_kind_fails(
    fleet: Fleet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, FtpServer.PASSWORD)
    config = write_config(fleet, tmp_path / "one-bad.toml", broken="sftp")
    code = main(["check", "--json", "--config", str(config)])
    rows = {r["kind"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 1
    assert [k for k, r in rows.items() if not r["ok"]] == ["sftp"]
    assert rows["sftp"]["error"].startswith("2/2 sessions failed: [RESPONSE_TIME] < 0 (got ")


def test_check_json_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with refused_port() as port:
        config = tmp_path / "refused.toml"
        config.write_text(
            f'[[probes]]\nname = "t"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
        )
        code = main(["check", "--json", "--config", str(config)])
    row = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (row["ok"], row["error"]) == (False, "connection refused")
