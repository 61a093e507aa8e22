"""FTP, SFTP and WebDAV in the drill world: real clients, the session bug on each protocol,
one session table across them, the access log, and the probes the world's config asks for."""

from __future__ import annotations

import asyncio
import ftplib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import httpx
import pytest
from world_helpers import (
    REPO,
    TEST_SESSION_HOLD,
    ftp_login,
    propfind,
    sftp_list,
    sftp_refused,
    simultaneous_propfinds,
    world_password,
)

from cockpit import config
from cockpit.world.world import World

TREE = ["README.txt", "backups", "exports", "inbox", "invoices", "media", "shared"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(
        tmp_path / "world", bad_deploy_after=None, traffic=False, session_hold=TEST_SESSION_HOLD
    ) as running:
        yield running


def password(world: World) -> str:
    return world_password(world.password_file)


def urls(world: World) -> tuple[str, str, str]:
    assert world.urls is not None
    ftp, sftp, webdav = world.urls.ftp, world.urls.sftp, world.urls.webdav
    assert ftp and sftp and webdav
    return ftp, sftp, webdav


def test_secrets_and_host_keys_are_written_for_the_probes(world: World) -> None:
    assert stat.S_IMODE(world.password_file.stat().st_mode) == 0o600
    assert len(password(world)) >= 20
    _, sftp, _ = urls(world)
    port = sftp.rsplit(":", 1)[1]
    (line,) = world.known_hosts_path.read_text().splitlines()
    host, kind, key = line.split()
    assert (host, kind) == (f"[127.0.0.1]:{port}", "ssh-ed25519") and key
    assert password(world) not in world.config_path.read_text()  # type: ignore[union-attr]


# -- FTP --------------------------------------------------------------------------------------


def test_ftp_good_release_serves_several_sessions_of_one_user(world: World) -> None:
    ftp_url, _, _ = urls(world)
    first = ftp_login(ftp_url, "drill", password(world))
    second = ftp_login(ftp_url, "drill", password(world))
    try:
        assert sorted(first.nlst()) == TREE
        second.cwd("exports")
        assert second.pwd() == "/exports"
        assert sorted(second.nlst()) == ["2026-11-20.csv", "2026-11-21.csv"]
    finally:
        first.close()
        second.close()
    assert os.getcwd() == str(Path.cwd())  # CWD never moved the process


def test_ftp_bad_release_refuses_the_second_simultaneous_login(world: World) -> None:
    ftp_url, _, _ = urls(world)
    world.apply("bad_deploy")
    first = ftp_login(ftp_url, "drill", password(world))
    try:
        with pytest.raises(ftplib.error_temp, match=r"^421 Session limit reached"):
            ftp_login(ftp_url, "drill", password(world)).close()
        assert sorted(first.nlst()) == TREE  # the first session keeps working
        other = ftp_login(ftp_url, "acme-backup", password(world))  # the bug is per user
        other.close()
    finally:
        first.close()


def test_ftp_wrong_password_is_refused_as_usual(world: World) -> None:
    ftp_url, _, _ = urls(world)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp_login(ftp_url, "drill", "not-the-password").close()
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp_login(ftp_url, "nobody", password(world)).close()


# -- SFTP -------------------------------------------------------------------------------------


def sftp_pair(world: World) -> tuple[list[str] | BaseException, list[str] | BaseException]:
    """A first session that stays open while a second one of the same user tries."""
    _, sftp_url, _ = urls(world)
    secret = password(world)

    async def run() -> tuple[list[str] | BaseException, list[str] | BaseException]:
        hold = asyncio.Event()
        first = asyncio.create_task(
            sftp_list(sftp_url, "drill", secret, world.known_hosts_path, hold=hold)
        )
        # The first session is open once the tracker holds it.
        while world.backend.sessions.open_count("drill") == 0:
            if first.done():
                break
            await asyncio.sleep(0.01)
        try:
            second: list[str] | BaseException = await sftp_list(
                sftp_url, "drill", secret, world.known_hosts_path
            )
        except Exception as exc:
            second = exc
        hold.set()
        try:
            return await first, second
        except Exception as exc:
            return exc, second

    return asyncio.run(run())


def test_sftp_good_release_serves_several_sessions_of_one_user(world: World) -> None:
    first, second = sftp_pair(world)
    assert first == second == sorted([".", "..", *TREE])


def test_sftp_bad_release_refuses_the_second_simultaneous_session(world: World) -> None:
    world.apply("bad_deploy")
    first, second = sftp_pair(world)
    assert first == sorted([".", "..", *TREE])
    assert isinstance(second, Exception) and "Permission denied" in str(second)


def test_sftp_host_key_is_verified_and_passwords_checked(world: World) -> None:
    _, sftp_url, _ = urls(world)
    assert sftp_refused(sftp_url, "drill", "wrong", world.known_hosts_path)
    stranger = world.known_hosts_path.with_name("other_known_hosts")
    stranger.write_text(
        world.known_hosts_path.read_text().split(" ssh-ed25519 ")[0]
        + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(sftp_list(sftp_url, "drill", password(world), stranger))


# -- WebDAV -----------------------------------------------------------------------------------


def test_webdav_propfind_lists_the_tree(world: World) -> None:
    _, _, dav = urls(world)
    answer = propfind(dav, "drill", password(world))
    assert answer.status_code == 207
    assert "/exports/" in answer.text and "README.txt" in answer.text
    assert propfind(dav, None, "").status_code == 401
    assert propfind(dav, "drill", "wrong").status_code == 401
    got = httpx.get(dav + "exports/2026-11-21.csv", auth=("acme-backup", password(world)))
    assert got.status_code == 200 and got.text == "id,amount\n3,8.25\n"


def test_webdav_good_release_serves_simultaneous_sessions(world: World) -> None:
    _, _, dav = urls(world)
    assert simultaneous_propfinds(dav, "drill", password(world), 4) == [207] * 4


def test_webdav_bad_release_fails_every_second_simultaneous_session(world: World) -> None:
    _, _, dav = urls(world)
    world.apply("bad_deploy")
    assert simultaneous_propfinds(dav, "drill", password(world), 4) == [207, 503, 503, 503]
    log = world.access_log_path.read_text().splitlines()
    failed = [line for line in log if '"PROPFIND / HTTP/1.1" 503 ' in line]
    assert len(failed) == 3
    assert all(line.startswith("127.0.0.1 - drill [") for line in failed)
    assert sum('"PROPFIND / HTTP/1.1" 207 ' in line for line in log) == 1


def test_one_session_table_across_protocols(world: World) -> None:
    """An FTP session of a user makes their WebDAV and SFTP sessions collide, and back."""
    ftp_url, sftp_url, dav = urls(world)
    world.apply("bad_deploy")
    secret = password(world)
    ftp = ftp_login(ftp_url, "globex-sync", secret)
    try:
        assert propfind(dav, "globex-sync", secret).status_code == 503
        assert sftp_refused(sftp_url, "globex-sync", secret, world.known_hosts_path)
        assert propfind(dav, "hooli-media", secret).status_code == 207
    finally:
        ftp.close()


def test_session_failures_are_not_reported_to_sentry(world: World) -> None:
    _, _, dav = urls(world)
    world.apply("bad_deploy")
    assert 503 in simultaneous_propfinds(dav, "drill", password(world), 3)
    world.flush_sentry()
    assert world.sentry.store.all() == []


# -- the config the cockpit gets --------------------------------------------------------------


def test_config_has_probe_twins_per_protocol_within_one_screen(world: World) -> None:
    assert world.config_path is not None
    loaded = config.load(world.config_path)
    probes = {p.name: p for p in loaded.probes}
    assert len(probes) <= 8
    kinds = set(config.PROBE_KINDS)
    expected = {"ftp": "ftp-login", "sftp": "sftp-list", "webdav": "webdav-propfind"}
    for kind, name in expected.items():
        if kind not in kinds:
            assert name not in probes
            continue
        single, many = probes[name], probes[f"{name}-x4"]
        assert (single.kind, single.concurrency, many.concurrency) == (kind, 1, 4)
        assert single.user != many.user  # each probe trips only over its own sessions
        assert single.password.reveal() == password(world)
    assert probes["mobile-files"].concurrency == 5
    (service,) = loaded.services
    actions = getattr(service, "actions", None)
    if actions is not None:
        assert actions["failover"][-1] == "failover"


def cockpit_check(config_path: Path) -> dict[str, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "--config", str(config_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {str(row["name"]): row for row in rows if "name" in row}


def test_the_cockpits_probes_see_the_bug_only_with_concurrency(world: World) -> None:
    """`cockpit check` on the world's own config, on the bad release: the single-session
    probes stay green and the x4 ones fail (both pass on the good one: test_check_e2e)."""
    assert world.config_path is not None
    names = ("ftp-login", "sftp-list", "webdav-propfind")
    world.apply("bad_deploy")
    after = cockpit_check(world.config_path)
    for name in names:
        assert after[name]["ok"] is True, after[name]
        assert after[f"{name}-x4"]["ok"] is False, after[f"{name}-x4"]


def test_an_http_only_world_keeps_the_http_session_twins(tmp_path: Path) -> None:
    with World(tmp_path, scenario="dropbox", bad_deploy_after=None, protocols=["http"]) as world:
        assert world.urls is not None and world.config_path is not None
        assert (world.urls.ftp, world.urls.sftp, world.urls.webdav) == (None, None, None)
        loaded = config.load(world.config_path)
        assert loaded.cockpit.service == "sync-web"
        assert [p.name for p in loaded.probes] == [
            "web-health",
            "session",
            "session-x4",
            "mobile-files",
        ]
        assert not world.known_hosts_path.exists()


def test_early_clients_wait_for_the_protocols_instead_of_failing(tmp_path: Path) -> None:
    """The ready line comes before FTP, SFTP and WebDAV serve: a client that connects at once
    waits in the listen queue and is served."""
    world = World(tmp_path, bad_deploy_after=None, traffic=False)
    try:
        world.start(wait_for_protocols=False)
        ftp_url, _, dav = urls(world)
        ftp = ftp_login(ftp_url, "drill", password(world))
        ftp.close()
        assert propfind(dav, "drill", password(world)).status_code == 207
        world.wait_for_protocols()
        assert world.protocols_ready.is_set()
    finally:
        world.stop()
