"""[[alerts]] kind alertmanager against real Alertmanagers: alerts of the configured service,
deduplicated across the members of an HA pair, silences with their creator and expiry; a
member down, all down, garbage answers, basic auth and bearer tokens, hostile label values."""

from __future__ import annotations

import base64
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from alertmanager_servers import config, garbage_server, header_recorder, page

from cockpit.alerts.source import AlertmanagerSource
from cockpit.alerts.view import alert_json
from cockpit.config import parse
from cockpit.config.base import ConfigError, Secret
from cockpit.sources.base import SourceError
from cockpit.term.textsafe import MARK, identity
from cockpit.timeutil import utcnow
from cockpit.world.alertmanager.server import running_alertmanager


async def test_ha_pair_deduplicated_by_fingerprint_and_scoped_by_matchers(
    tmp_path: Path,
) -> None:
    with (
        running_alertmanager(tmp_path, "am-1") as one,
        running_alertmanager(tmp_path, "am-2") as two,
    ):
        # Prometheus pushes every alert to every member of the pair.
        for am in (one, two):
            page(am, "FilesWeb5xxHigh", "web-1:443", summary="5xx ratio above 5%")
            page(am, "FilesWeb5xxHigh", "web-2:443", summary="5xx ratio above 5%")
            page(am, "DiskFull", "db-1", service="billing")  # another team's
        page(two, "SftpSessionsFailing", "sftp-1:22", minutes_ago=2)  # one member only (yet)
        source = AlertmanagerSource(config(one.url, two.url))
        try:
            reading = await source.poll()
        finally:
            await source.aclose()
    names = sorted((a.alertname, a.label("instance")) for a in reading.alerts)
    assert names == [
        ("FilesWeb5xxHigh", "web-1:443"),
        ("FilesWeb5xxHigh", "web-2:443"),
        ("SftpSessionsFailing", "sftp-1:22"),
    ]
    assert len({a.fingerprint for a in reading.alerts}) == 3
    assert reading.unreachable == () and len(reading.members) == 2
    first = reading.alerts[0]
    assert first.alertname == "FilesWeb5xxHigh" and first.annotation("summary") == (
        "5xx ratio above 5%"
    )
    assert abs((utcnow() - first.starts_at) - timedelta(minutes=5)) < timedelta(seconds=30)


async def test_silences_listed_with_creator_and_expiry_and_suppress(tmp_path: Path) -> None:
    with running_alertmanager(tmp_path) as am:
        page(am, "FilesWeb5xxHigh", "web-1:443")
        page(am, "FilesWeb5xxHigh", "web-2:443")
        ends = utcnow() + timedelta(hours=1)
        made = am.request(
            "POST",
            "/api/v2/silences",
            {
                "matchers": [
                    {"name": "instance", "value": "web-1:443", "isRegex": False, "isEqual": True}
                ],
                "startsAt": utcnow().isoformat(),
                "endsAt": ends.isoformat(),
                "createdBy": "alice",
                "comment": "known, rolling back",
            },
        )
        source = AlertmanagerSource(config(am.url))
        try:
            reading = await source.poll()
            for _ in range(50):  # Alertmanager marks alerts silenced on its next pass
                if any(a.suppressed for a in reading.alerts):
                    break
                reading = await source.poll()
        finally:
            await source.aclose()
    (silence,) = reading.silences
    assert silence.id == made["silenceID"] and silence.created_by == "alice"
    assert silence.comment == "known, rolling back" and silence.state == "active"
    assert abs(silence.ends_at - ends) < timedelta(seconds=1)
    by_instance = {a.label("instance"): a for a in reading.alerts}
    assert by_instance["web-1:443"].silenced_by == (silence.id,)
    assert [a.label("instance") for a in reading.firing] == ["web-2:443"]


async def test_one_member_down_said_all_down_stale_with_reason(tmp_path: Path) -> None:
    with running_alertmanager(tmp_path, "am-1") as one:
        page(one, "FilesWeb5xxHigh", "web-1:443")
        two = running_alertmanager(tmp_path, "am-2")
        second = two.__enter__()
        page(second, "FilesWeb5xxHigh", "web-1:443")
        source = AlertmanagerSource(config(one.url, second.url))
        try:
            assert len((await source.poll()).alerts) == 1
            two.__exit__(None, None, None)
            reading = await source.poll()
            assert len(reading.alerts) == 1
            (why,) = reading.unreachable
            assert why.startswith(second.url.removeprefix("http://")) and "refused" in why
            one.stop()
            with pytest.raises(SourceError, match="connection refused"):
                await source.poll()
        finally:
            await source.aclose()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>502 Bad Gateway from a proxy</html>", "answered garbage (not JSON)"),
        (b'{"status": "success", "data": []}', "answered garbage (not a list of alerts)"),
        (b'[{"labels": "x"}, 7]', "answered garbage (no alert in the list)"),
    ],
)
async def test_garbage_answers_fail_the_poll_with_the_reason(body: bytes, said: str) -> None:
    with garbage_server(body) as url:
        source = AlertmanagerSource(config(url))
        try:
            with pytest.raises(SourceError) as failed:
                await source.poll()
        finally:
            await source.aclose()
    assert said in str(failed.value)


async def test_hostile_label_values_are_inert(tmp_path: Path) -> None:
    hostile = "web-1\x1b]52;c;SElKQUNLRUQ=\x07\x1b[2J\u202e"
    with running_alertmanager(tmp_path) as am:
        am.push(
            {"alertname": "Pwn\x1b[31m", "instance": hostile, "service": "files-web"},
            {"summary": "[b]markup[/b] \x1b]0;TITLE-PWN\x07 here", "runbook": "\x9b2J"},
        )
        source = AlertmanagerSource(config(am.url))
        try:
            (alert,) = (await source.poll()).alerts
        finally:
            await source.aclose()
    # Labels stay exact (a silence must match them), shown only through identity().
    assert alert.label("instance") == hostile
    assert identity(alert.label("instance")) == f"web-1{MARK}"
    for _, value in alert.annotations:
        assert "\x1b" not in value and "\x9b" not in value
    assert alert.annotation("summary") == f"[b]markup[/b] {MARK} here"
    assert alert_json(alert)["labels"]["instance"] == f"web-1{MARK}"


def _htpasswd(user: str, password: str) -> str:
    line = subprocess.run(
        ["htpasswd", "-nbB", "-C", "5", user, password], check=True, capture_output=True, text=True
    ).stdout.strip()
    return line.partition(":")[2]


async def test_basic_auth_from_a_secret_and_never_in_messages(tmp_path: Path) -> None:
    password = "s3cret-am-pass"
    web = f"basic_auth_users:\n  cockpit: {_htpasswd('cockpit', password)}\n"
    with running_alertmanager(tmp_path, web_config=web) as am:
        am.authorization = "Basic " + base64.b64encode(f"cockpit:{password}".encode()).decode()
        page(am, "FilesWeb5xxHigh", "web-1:443")
        good = AlertmanagerSource(
            config(am.url, user="cockpit", password=Secret(password, "env:AM_PASSWORD"))
        )
        bad = AlertmanagerSource(
            config(am.url, user="cockpit", password=Secret("wrong-pass-xyz", "env:AM_PASSWORD"))
        )
        try:
            assert len((await good.poll()).alerts) == 1
            with pytest.raises(SourceError) as refused:
                await bad.poll()
        finally:
            await good.aclose()
            await bad.aclose()
    assert "401: credentials rejected" in str(refused.value)
    assert "wrong-pass" not in str(refused.value) and password not in str(refused.value)


async def test_bearer_token_sent_as_authorization() -> None:
    with header_recorder() as (url, seen):
        source = AlertmanagerSource(config(url, token=Secret("tok-abc-123", "env:AM_TOKEN")))
        try:
            reading = await source.poll()
        finally:
            await source.aclose()
    assert reading.alerts == ()
    assert {h.get("Authorization") for h in seen} == {"Bearer tok-abc-123"}


def test_config_refuses_inline_secrets_and_bad_matchers(tmp_path: Path) -> None:
    good = parse(
        '[[alerts]]\nname = "am"\nurls = ["http://127.0.0.1:9093"]\n'
        'matchers = [\'service="files-web"\']\nuser = "cockpit"\npassword_env = "AM_PW"\n',
        env={"AM_PW": "pw-value-1"},
    )
    (section,) = good.alerts
    assert section.password is not None and section.password.reveal() == "pw-value-1"
    assert [s.name for s in good.sources()] == ["am"]
    with pytest.raises(ConfigError, match=r":3: alerts\[0\]\.password: secrets are not written"):
        parse('[[alerts]]\nname = "am"\npassword = "x"\nurls = ["http://a:1"]\n')
    with pytest.raises(ConfigError, match=r":3: alerts\[0\]\.matchers\[0\]: not a matcher"):
        parse('[[alerts]]\nname = "am"\nmatchers = ["service files"]\nurls = ["http://a:1"]\n')
    with pytest.raises(ConfigError, match=r"alerts\[0\]\.silence_minutes"):
        parse(
            '[[alerts]]\nname = "am"\nurls = ["http://a:1"]\n'
            "silence_minutes = 600\nmax_silence_minutes = 60\n"
        )
