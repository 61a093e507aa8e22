"""Config: discovery order, typed values, and errors that name file, line and key (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.config import ConfigError, Secret, default_path, load, parse
from cockpit.sources.registry import build_source

GOOD = """\
[cockpit]
service = "files-web"
environment = "production"

[[probes]]
name = "web"
kind = "http"
url = "http://127.0.0.1:9/health"
concurrency = 4

[[sentry]]
name = "sentry"
base_url = "https://sentry.io"
org = "acme"
token_env = "TEST_SENTRY_TOKEN"

[[services]]
name = "files-web"
revert = ["deployctl", "rollback", "--to", "{previous.version}"]
"""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=full_env
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_good_config_loads_typed(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD), env={"TEST_SENTRY_TOKEN": "s3cret"})
    assert config.cockpit.service == "files-web"
    assert config.probes[0].concurrency == 4
    assert config.probes[0].failure_threshold == 2
    assert isinstance(config.sentry[0].token, Secret)
    assert config.sentry[0].token.reveal() == "s3cret"
    assert "s3cret" not in repr(config)
    assert config.services[0].revert[-1] == "{previous.version}"


def test_token_file_is_read_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    text = GOOD.replace('token_env = "TEST_SENTRY_TOKEN"', 'token_file = "token"')
    config = load(write(tmp_path, text), env={})
    assert config.sentry[0].token.reveal() == "from-file"


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            GOOD.replace("concurrency = 4", 'concurrency = "four"'),
            9,
            "probes[0].concurrency",
            "expected an integer",
        ),
        (
            GOOD.replace("concurrency = 4", "concurency = 4"),
            9,
            "probes[0].concurency",
            "unknown key (did you mean 'concurrency'?)",
        ),
        (GOOD.replace('kind = "http"', 'kind = "gopher"'), 7, "probes[0].kind", "unknown kind"),
        (GOOD.replace('org = "acme"\n', ""), 11, "sentry[0].org", "missing required key"),
        (
            GOOD.replace('token_env = "TEST_SENTRY_TOKEN"', 'token = "abc"'),
            15,
            "sentry[0].token",
            "secrets are not written in the config",
        ),
        (
            GOOD.replace("concurrency = 4", "concurrency = 0"),
            9,
            "probes[0].concurrency",
            "between 1 and 64",
        ),
        (
            GOOD.replace('url = "http://127.0.0.1:9/health"', 'url = "ftp://x"'),
            8,
            "probes[0].url",
            "http:// or https://",
        ),
    ],
)
def test_errors_name_file_line_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, env={"TEST_SENTRY_TOKEN": "x"})
    assert str(info.value).startswith(f"{path}:{line}: {key}: ")
    assert words in str(info.value)


def test_missing_secret_env_var_disables_only_that_source(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load(path, env={})
    assert [str(w) for w in config.warnings] == [
        f"{path}:15: sentry[0].token_env: environment variable TEST_SENTRY_TOKEN is not set; "
        "this source shows as not configured until it is"
    ]
    assert not config.sentry[0].token.is_set
    sentry, web = build_source(config.sentry[0]), build_source(config.probes[0])
    assert getattr(sentry, "not_configured", "") == "not configured: TEST_SENTRY_TOKEN is not set"
    assert not getattr(web, "not_configured", "")


def test_missing_secret_file_is_a_warning_too(tmp_path: Path) -> None:
    text = GOOD.replace('token_env = "TEST_SENTRY_TOKEN"', 'token_file = "sentry.token"')
    path = write(tmp_path, text)
    config = load(path, env={})
    (warning,) = config.warnings
    assert (warning.line, warning.key) == (15, "sentry[0].token_file")
    assert f"{tmp_path / 'sentry.token'} cannot be read (No such file or directory)" in str(warning)
    (tmp_path / "sentry.token").write_text("\n")
    (empty,) = load(path, env={}).warnings
    assert "sentry.token is empty" in str(empty)
    (tmp_path / "sentry.token").write_text("tok\n")
    assert load(path, env={}).warnings == ()


def test_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('environment = "production"', "environment = production"))
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert str(info.value).startswith(f"{path}:3: TOML syntax error")


def test_discovery_order(tmp_path: Path) -> None:
    assert default_path({"COCKPIT_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    fallback = default_path({})
    assert fallback.parts[-2:] == ("oncall-cockpit", "config.toml")


def test_parse_without_file_still_says_where() -> None:
    with pytest.raises(ConfigError) as info:
        parse("[cockpit]\nservise = 1\n", None, env={})
    assert str(info.value) == "<config>:2: cockpit.servise: unknown key (did you mean 'service'?)"


# -- the command line: exit 2, one line, no traceback -----------------------------------------


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (None, "config file not found"),
        ("[cockpit\n", ":1: TOML syntax error"),
        (GOOD.replace("concurrency = 4", "concurrency = true"), ":9: probes[0].concurrency: "),
        (GOOD + "\n[extra]\n", ":21: extra: unknown section"),
        (GOOD.replace('token_env = "TEST_SENTRY_TOKEN"', ""), ":11: sentry[0]: missing token_env"),
    ],
)
@pytest.mark.parametrize("command", [["config", "check"], ["check", "--json"], []])
def test_cli_config_errors_exit_2(
    tmp_path: Path, text: str | None, expect: str, command: list[str]
) -> None:
    path = tmp_path / "config.toml"
    if text is not None:
        path.write_text(text)
    env = {"COCKPIT_DATA_DIR": str(tmp_path / "data")}
    env.pop("TEST_SENTRY_TOKEN", None)
    result = run_cli("--config", str(path), *command, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"cockpit: {path}")
    assert expect in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_config_found_through_environment(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = run_cli("config", "check", env={"COCKPIT_CONFIG": str(path), "TEST_SENTRY_TOKEN": "t"})
    assert result.returncode == 0, result.stderr
    assert "1 probes" in result.stdout


def test_init_writes_an_example_that_validates(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    result = run_cli("init", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert path.read_text().startswith("# oncall-cockpit configuration.")
    again = run_cli("init", "--config", str(path))
    assert again.returncode == 1 and "exists" in again.stderr
    checked = run_cli("config", "check", "--config", str(path), env={"SENTRY_TOKEN": "t"})
    assert checked.returncode == 0, checked.stderr
