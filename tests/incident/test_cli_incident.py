"""`cockpit incident ...` as scripts run it: real processes, a real store, real HTTP channels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from notify_servers import HOOK_TOKEN, PD_KEY, SLACK_TOKEN, Recorder, env_for, notify_config
from servers import serving

from cockpit.cli import main
from cockpit.config import parse
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus
from cockpit.notify import Notifier


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    with serving(server):
        try:
            yield server
        finally:
            server.release.set()


class Cli:
    def __init__(self, tmp_path: Path, recorder: Recorder, hook_url: str | None = None):
        self.data = tmp_path / "data"
        self.config = tmp_path / "cockpit.toml"
        self.config.write_text(notify_config(recorder))
        self.env = {
            **os.environ,
            **env_for(recorder, hook_url),
            "COCKPIT_DATA_DIR": str(self.data),
            "COCKPIT_CONFIG": str(self.config),
            "USER": "alice",
        }
        self.recorder = recorder

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cockpit", *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env, timeout=60
        )

    def store(self) -> IncidentStore:
        return IncidentStore(store_path(self.data))


def test_a_script_runs_the_whole_lifecycle(tmp_path: Path, recorder: Recorder) -> None:
    cli = Cli(tmp_path, recorder)
    declared = cli(
        "incident",
        "declare",
        "--title",
        "SFTP second session fails",
        "--severity",
        "SEV1",
        "--impact-start",
        "2020-01-01T06:52:00-07:00",
        "--summary",
        "every second session",
    )
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.startswith("declared #1 OPEN     SEV1 investigating")
    assert "oncall-slack: declared sent" in declared.stdout
    [trigger, ack] = recorder.bodies("/pd/")
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == PD_KEY
    assert ack["event_action"] == "acknowledge" and ack["dedup_key"] == trigger["dedup_key"]

    again = cli("incident", "declare", "--title", "another")
    assert again.returncode == 1 and "#1" in again.stderr and "still open" in again.stderr

    assert (
        cli("incident", "note", "revert", "under", "way").stdout
        == "noted: alice: revert under way\n"
    )
    mitigated = cli("incident", "status", "mitigated")
    assert mitigated.returncode == 0 and "status mitigated" in mitigated.stdout
    assert recorder.bodies("/hook")[-1]["event"] == "mitigated"
    corrected = cli("incident", "correct", "impact-start", "2020-01-01T13:50:00Z")
    assert corrected.returncode == 0, corrected.stderr
    assert "impact start corrected" in corrected.stdout and "by alice" in corrected.stdout
    assert "(13:52:00 -> 13:50:00 UTC)" in corrected.stdout

    resolved = cli("incident", "resolve")
    assert resolved.returncode == 0 and resolved.stdout.startswith("resolved #1 resolved")
    resolve = recorder.bodies("/pd/")[-1]
    assert resolve == {
        "routing_key": PD_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }

    listed = cli("incident", "list", "--json")
    [doc] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert doc["status"] == "resolved" and doc["open"] is False
    assert doc["times"]["impact_started"] == "2020-01-01T13:50:00Z"
    assert doc["times"]["mitigated"] is not None and doc["times"]["resolved"] is not None
    assert {(n["channel"], n["event"], n["status"]) for n in doc["notifications"]} >= {
        ("pd-primary", "declared", "sent"),
        ("pd-primary", "resolved", "sent"),
    }
    plain = cli("incident", "list")
    assert plain.stdout.startswith("#1 resolved SEV1 resolved") and "SFTP second" in plain.stdout

    with cli.store() as store:
        kinds = [e.kind for e in store.incident_events(store.get(1))]  # type: ignore[arg-type]
    for kind in ("declared", "note", "status.mitigated", "correction.impact-start"):
        assert kind in kinds
    # declared (and PagerDuty's acknowledge), mitigated, resolved
    assert kinds.count("notify.sent") == 4 + 2 + 3


def test_exit_statuses_and_plain_messages(
    tmp_path: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process through `cockpit.cli.main`: the same code a new interpreter runs.
    cli = Cli(tmp_path, recorder)
    for name, value in cli.env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    assert run("incident", "resolve") == (1, "", "cockpit: no open incident: declare one first\n")
    code, _, err = run("incident", "declare", "--title", "x", "--severity", "SEV9")
    assert code == 2 and "severity must be one of SEV1" in err
    code, _, err = run("incident", "declare", "--title", "x", "--impact-start", "2024-08-02T06:52")
    assert code == 2 and "no time zone" in err
    code, _, err = run("incident", "note", "hello", "--incident", "7")
    assert code == 1 and "no incident #7" in err
    assert run("incident", "list") == (0, "no incidents recorded\n", "")
    code, _, err = run("incident", "status", "fixed")
    assert code == 2 and "invalid choice" in err
    code, _, err = run("incident", "correct", "coffee", "06:50")
    assert code == 2 and "invalid choice" in err
    cli.config.write_text('[[notify]]\nkind = "slack"\nname = "s"\nurl = "https://hooks"\n')
    code, _, err = run("incident", "declare", "--title", "x")
    assert code == 2 and "cockpit.toml:4: notify[0].url: secrets are not written" in err
    assert recorder.received == []


def test_a_failed_notification_warns_and_retry_sends_it(tmp_path: Path, recorder: Recorder) -> None:
    recorder.fail_next("/slack/", 500)
    cli = Cli(tmp_path, recorder)
    declared = cli("incident", "declare", "--title", "web down")
    assert declared.returncode == 0  # the incident is declared whatever a channel does
    assert "notifying oncall-slack of declared failed: HTTP 500" in declared.stderr
    assert "cockpit incident retry" in declared.stderr
    assert SLACK_TOKEN not in declared.stderr
    retried = cli("incident", "retry")
    assert retried.returncode == 0 and retried.stdout == "oncall-slack: declared sent\n"
    assert cli("incident", "retry").stdout == "no failed notifications\n"
    assert len(recorder.bodies("/slack/")) == 2


def test_secrets_never_reach_exports_or_listings(tmp_path: Path, recorder: Recorder) -> None:
    recorder.fail_next("/slack/", 500)
    recorder.fail_next("/hook", 502)
    cli = Cli(tmp_path, recorder)
    assert cli("incident", "declare", "--title", "web down \x1b]0;pwned\x07").returncode == 0
    assert cli("incident", "note", "see \x1b[2Jthe proxy").returncode == 0
    exported = cli("export", "--format", "md,json")
    assert exported.returncode == 0, exported.stderr
    texts = [Path(p).read_text() for p in exported.stdout.split()]
    texts.append(cli("incident", "list", "--json").stdout)
    texts.append(cli("incident", "list").stdout)
    for text in texts:
        for secret in (SLACK_TOKEN, HOOK_TOKEN, PD_KEY):
            assert secret not in text
        assert "\x1b" not in text and "\x07" not in text
    assert "HTTP 500" in texts[0]  # the failure is in the draft, its URL is not


def test_kill_9_mid_notification_loses_nothing_saved(tmp_path: Path, recorder: Recorder) -> None:
    cli = Cli(tmp_path, recorder, hook_url=recorder.url("/hang"))
    cli.config.write_text(notify_config(recorder, timeout=30))
    child = subprocess.Popen(
        cli.argv("incident", "declare", "--title", "killed while notifying"),
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        recorder.wait_hanging(1)  # declared, and the webhook request is in flight
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # A cockpit opening the file afterwards, and a second one beside it, see the same state.
    with cli.store() as store, cli.store() as beside:
        incident = store.open_incident()
        assert incident is not None and incident.title == "killed while notifying"
        assert beside.open_incident() == incident
        rows = {n.channel: n for n in store.notifications(incident.id)}
        assert rows["status-hook"].status == "sending"  # cut off mid-send
        assert {rows["oncall-slack"].status, rows["pd-primary"].status} <= {"sent", "sending"}
        assert store.events()[0].kind == "declared"

        recorder.release.set()
        config = parse(cli.config.read_text(), env=cli.env)
        notifier = Notifier.from_config(store, config)
        notifier.claim_margin = timedelta(seconds=-3600)  # the dead process's claim is old
        import asyncio

        retried = asyncio.run(notifier.retry_failed(incident.id))
        assert "status-hook" in {d.channel for d in retried if d.status == "sent"}
        assert {n.status for n in beside.notifications(incident.id)} == {"sent"}
        beside.set_status(incident.id, IncidentStatus.RESOLVED)
        assert store.open_incident() is None
