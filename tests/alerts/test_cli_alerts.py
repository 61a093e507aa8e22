"""`cockpit alerts` headless, against a real Alertmanager: list --json, silence with the same
rules and audit as the TUI (and on the timeline), expire; a rule broken is exit 2 with a word,
an Alertmanager that is down exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alertmanager_servers import page

from cockpit.actions.audit import read_audit
from cockpit.cli import main
from cockpit.host.whoami import current_user
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.timeutil import parse_iso, utcnow
from cockpit.world.alertmanager.server import Alertmanager, running_alertmanager


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "am") as server:
        page(server, "FilesWeb5xxHigh", "web-1:443", summary="5xx above 5%")
        page(server, "FilesWeb5xxHigh", "web-2:443")
        page(server, "SftpSecondSessionFails", "sftp-1:22", severity="warning")
        page(server, "DiskFull", "db-1", service="billing")
        yield server


@pytest.fixture
def cfg(am: Alertmanager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f'[[alerts]]\nname = "am"\nurls = ["{am.url}"]\n'
        "matchers = ['service=\"files-web\"']\nmax_silence_minutes = 90\n"
    )
    return path


def test_list_json(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "list", "--json", "--config", str(cfg)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["source"] == "am" and entry["ok"] is True
    listed = sorted((a["alertname"], a["labels"]["instance"]) for a in entry["alerts"])
    assert listed == [
        ("FilesWeb5xxHigh", "web-1:443"),
        ("FilesWeb5xxHigh", "web-2:443"),
        ("SftpSecondSessionFails", "sftp-1:22"),
    ]
    first = next(a for a in entry["alerts"] if a["labels"]["instance"] == "web-1:443")
    assert first["annotations"]["summary"] == "5xx above 5%" and first["severity"] == "critical"
    assert first["silences"] == [] and entry["silences"] == []


def test_silence_then_expire(
    am: Alertmanager, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["alerts", "silence", "--config", str(cfg), "--matcher", 'alertname="FilesWeb5xxHigh"']
    assert main([*argv, "--comment", " ", "--duration", "20"]) == 2
    assert "a comment is required" in capsys.readouterr().err
    assert main([*argv, "--comment", "rollback", "--duration", "200"]) == 2
    assert "between 1 and 90 minutes" in capsys.readouterr().err
    assert main([*argv, "--matcher", "instance=~web-(", "--comment", "x"]) == 2
    assert "not a regular expression" in capsys.readouterr().err
    assert am.silences() == []

    before = utcnow()
    assert main([*argv, "--matcher", 'service="files-web"', "--comment", "rollback"]) == 0
    said = capsys.readouterr().out
    assert "covers 2 current alerts" in said
    (made,) = am.silences()
    assert made["createdBy"] == current_user() and made["comment"] == "rollback"
    assert {(m["name"], m["value"]) for m in made["matchers"]} == {
        ("alertname", "FilesWeb5xxHigh"),
        ("service", "files-web"),
    }
    ends = parse_iso(made["endsAt"])
    assert 59 * 60 < (ends - before).total_seconds() < 61 * 60  # the default hour
    assert f"silenced: {made['id']}" in said

    assert main(["alerts", "expire", "--config", str(cfg), made["id"]]) == 0
    assert am.silences()[0]["status"]["state"] == "expired"
    actions = [(e["event"], e["action"]) for e in read_audit(tmp_path / "data")]
    assert actions == [
        ("started", "silence"),
        ("finished", "silence"),
        ("started", "silence.expire"),
        ("finished", "silence.expire"),
    ]
    with IncidentStore.for_reading(tmp_path / "data") as store:
        kinds = [e.kind for e in store.recent_events(10)]
    assert "silence.created" in kinds and "silence.expired" in kinds


def test_down_is_exit_1(am: Alertmanager, cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    am.stop()
    assert main(["alerts", "list", "--json", "--config", str(cfg)]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["ok"] is False and "connection refused" in entry["error"]


def test_check_json_counts_the_firing_alerts(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "--config", str(cfg)]) == 0
    (report,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert report["source"] == "am" and report["kind"] == "alertmanager" and report["ok"]
    assert (report["alerts"], report["firing"], report["silences"]) == (3, 3, 0)
