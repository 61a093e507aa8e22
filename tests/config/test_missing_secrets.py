"""A second engineer's shell lacks some secrets, or the config is the example `cockpit init`
wrote, unedited: every command still works, the missing secret costs the one source or channel
that needs it ("not configured: SENTRY_TOKEN is not set"), and `cockpit check` and `cockpit
doctor` agree on what failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pilot_wait import shown_rows, until
from servers import serving

from cockpit.app import CockpitApp
from cockpit.config import load
from cockpit.runtime import Cockpit
from widgets.panels import Panel, ProbesPanel, SentryPanel

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("SENTRY_TOKEN", "TEST_SENTRY_TOKEN", "COCKPIT_SLACK_WEBHOOK", "PROBE_PASSWORD")


def shell_without_secrets(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "COCKPIT_CONFIG"}
    env["COCKPIT_DATA_DIR"] = str(tmp_path / "data")
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "home" / ".config")
    return env


def cockpit(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


@pytest.fixture
def unedited(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = shell_without_secrets(tmp_path)
    config = tmp_path / "config.toml"
    done = cockpit(env, "init", "--config", str(config))
    assert done.returncode == 0, done.stderr
    return config, env


def test_config_check_warns_about_secrets_and_fails_only_on_structure(
    unedited: tuple[Path, dict[str, str]],
) -> None:
    config, env = unedited
    line = next(
        n
        for n, text in enumerate(config.read_text().splitlines(), 1)
        if text.startswith("token_env")
    )
    checked = cockpit(env, "config", "check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines() == [
        f"cockpit: warning: {config}:{line}: sentry[0].token_env: environment variable "
        "SENTRY_TOKEN is not set; this source shows as not configured until it is"
    ]
    assert checked.stdout.startswith(f"{config}: ok: ") and "1 warning" in checked.stdout
    strict = cockpit(env, "config", "check", "--strict", "--config", str(config))
    assert strict.returncode == 2
    assert "warning" in strict.stderr and "Traceback" not in strict.stderr
    with_it = cockpit(
        {**env, "SENTRY_TOKEN": "t0k"}, "config", "check", "--strict", "--config", str(config)
    )
    assert with_it.returncode == 0 and with_it.stderr == ""
    broken = config.with_name("broken.toml")
    broken.write_text(config.read_text().replace("concurrency = 4", 'concurrency = "four"'))
    refused = cockpit(env, "config", "check", "--config", str(broken))
    assert refused.returncode == 2 and "probes[1].concurrency" in refused.stderr


def test_incident_export_and_drill_work_right_after_init_without_secrets(
    unedited: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    config, env = unedited
    at = ["--config", str(config)]
    declared = cockpit(
        env, "incident", "declare", *at, "--title", "uploads fail", "--severity", "SEV2"
    )
    assert declared.returncode == 0, declared.stderr
    noted = cockpit(env, "incident", "note", *at, "second engineer here")
    assert noted.returncode == 0, noted.stderr
    listed = cockpit(env, "incident", "list", *at, "--json")
    assert listed.returncode == 0 and "uploads fail" in listed.stdout
    exported = cockpit(env, "export", *at, "--format", "md,json")
    assert exported.returncode == 0, exported.stderr
    assert all(Path(p).exists() for p in exported.stdout.split())
    script = tmp_path / "responder.toml"
    script.write_text('[[step]]\non = "concurrency"\ndo = "end"\n')
    drill = cockpit(
        env,
        "drill", "run", "files-com-2024", *at, "--headless", "--responder", str(script),
        "--speed", "600",
        timeout=120,
    )  # fmt: skip
    assert drill.returncode == 0, drill.stderr


def test_check_and_doctor_say_not_configured_and_agree(
    unedited: tuple[Path, dict[str, str]],
) -> None:
    config, env = unedited
    checked = cockpit(env, "check", "--json", "--config", str(config))
    assert checked.returncode == 1
    reports = [json.loads(line) for line in checked.stdout.splitlines()]
    sentry = next(r for r in reports if r.get("source") == "sentry")
    assert sentry["configured"] is False and sentry["ok"] is False
    assert sentry["error"] == "not configured: SENTRY_TOKEN is not set"
    assert all(r["configured"] for r in reports if r is not sentry)
    text = cockpit(env, "check", "--config", str(config))
    assert "OFF  sentry          sentry: not configured: SENTRY_TOKEN is not set" in text.stdout
    doctor = cockpit(env, "doctor", "--json", "--config", str(config))
    assert doctor.returncode == 1
    findings = [json.loads(line) for line in doctor.stdout.splitlines()]
    assert {"status": "fail", "what": "sentry sentry", "detail": sentry["error"]} in findings
    assert_agree(reports, findings)


def assert_agree(reports: list[dict[str, object]], findings: list[dict[str, str]]) -> None:
    failed_check = {
        f"{r['kind']} {r.get('name') or r.get('source')}" for r in reports if not r["ok"]
    }
    ok_check = {f"{r['kind']} {r.get('name') or r.get('source')}" for r in reports if r["ok"]}
    sources = {f["what"]: f["status"] for f in findings if f["what"] in failed_check | ok_check}
    assert {w for w, s in sources.items() if s == "fail"} == failed_check
    assert {w for w, s in sources.items() if s == "ok"} == ok_check


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/broken") else 200
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Answers)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def mixed_config(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "mixed.toml"
    path.write_text(
        f"""
[[probes]]
name = "healthy"
kind = "http"
url = "{web}/health"

[[probes]]
name = "answers-500"
kind = "http"
url = "{web}/broken"

[[probes]]
name = "refused"
kind = "tcp"
host = "127.0.0.1"
port = 9

[[probes]]
name = "needs-password"
kind = "ftp"
host = "127.0.0.1"
user = "probe"
password_env = "PROBE_PASSWORD"

[[sentry]]
name = "sentry"
base_url = "http://127.0.0.1:9"
org = "o"
token_env = "TEST_SENTRY_TOKEN"
"""
    )
    return path


def test_doctor_fails_what_check_fails(tmp_path: Path, web: str) -> None:
    """A probe that answered with a failure was a warning in doctor ("0 failed") while check
    exited 1: both now say the same sources failed."""
    env = shell_without_secrets(tmp_path)
    path = mixed_config(tmp_path, web)
    checked = cockpit(env, "check", "--json", "--config", str(path))
    assert checked.returncode == 1
    reports = [json.loads(line) for line in checked.stdout.splitlines()]
    doctor = cockpit(env, "doctor", "--json", "--config", str(path))
    assert doctor.returncode == 1
    findings = [json.loads(line) for line in doctor.stdout.splitlines()]
    assert_agree(reports, findings)
    status = {f["what"]: f["status"] for f in findings}
    assert status["http healthy"] == "ok"
    assert status["http answers-500"] == "fail"
    assert status["ftp needs-password"] == "fail"
    summary = cockpit(env, "doctor", "--config", str(path)).stdout.splitlines()[-1]
    assert "4 failed" in summary


async def test_the_tui_runs_with_a_source_not_configured(tmp_path: Path, web: str) -> None:
    config = load(mixed_config(tmp_path, web), env={})

    async def factory() -> Cockpit:
        return Cockpit(config, tmp_path / "data", user="bob")

    app = CockpitApp(factory, keys=config.keys)
    async with app.run_test(size=(80, 24)) as pilot:

        def shown(panel_type: type[Panel]) -> str:
            panel = app.query_one(panel_type)
            lines = shown_rows(panel)
            return "\n".join([str(panel.border_subtitle), *lines])

        await until(pilot, lambda: "ok" in shown(ProbesPanel) and "healthy" in shown(ProbesPanel))
        sentry = shown(SentryPanel)
        assert "not configured: TEST_SENTRY_TOKEN is not set" in " ".join(sentry.split())
        assert "no unresolved issues" not in sentry and "fresh" not in sentry
        probes = shown(ProbesPanel)
        assert "not configured: PROBE_PASSWORD is not set" in " ".join(probes.split())
        rows = [line for line in probes.splitlines() if "needs-password" in line]
        assert any(line.startswith("--") and "not configured" in line for line in rows), probes
