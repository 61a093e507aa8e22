"""Bad input gets a clear message and exit 2, never a traceback: through the `cockpit` command,
as a user meets it (configs that are too deep, not finite, empty or mistyped; files that cannot
be written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.incident.store.sqlite import IncidentStore

PROBE = '[[probes]]\nname = "web"\nkind = "http"\nurl = "http://127.0.0.1:9/"\n'


def cockpit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one clear message on stderr naming what is wrong, no traceback, nothing raw."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def config(tmp_path: Path, text: str, name: str = "cockpit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 500 + "]" * 500,
        "{a = " * 300 + "1" + "}" * 300,
        "[{a = " * 200 + "1" + "}]" * 200,
    ],
    ids=["arrays", "inline-tables", "both"],
)
@pytest.mark.parametrize("command", [("config", "check"), ("check",), ()])
def test_nesting_hundreds_deep_is_refused_with_its_line(
    tmp_path: Path, nested: str, command: tuple[str, ...]
) -> None:
    path = config(tmp_path, f'{PROBE}headers = {{ "x" = "y" }}\n\n[detect]\nx = {nested}\n')
    refused(cockpit(*command, "--config", str(path)), f"{path}:8:", "nested more than 32")


def test_deep_nesting_inside_strings_and_comments_is_fine(tmp_path: Path) -> None:
    text = PROBE + 'body_contains = "' + "[" * 100 + '"\n# ' + "{" * 100 + "\n"
    result = cockpit("config", "check", "--config", str(config(tmp_path, text)))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (PROBE + "interval = nan\n", ":5: probes[0].interval"),
        (PROBE + "timeout = inf\n", ":5: probes[0].timeout"),
        (PROBE + "interval = -inf\n", ":5: probes[0].interval"),
        (PROBE + "[detect]\nspike_factor = +nan\n", ":6: detect.spike_factor"),
        (PROBE + "[detect]\nspike_min_ratio = inf\n", ":6: detect.spike_min_ratio"),
        (PROBE + 'headers = { "X" = nan }\n', ":5: probes[0].headers.X"),
        (PROBE + "conditions = [1.0, [2.0, nan]]\n", ":5: probes[0].conditions[1][1]"),
    ],
)
def test_non_finite_numbers_anywhere_are_refused(tmp_path: Path, text: str, where: str) -> None:
    path = config(tmp_path, text)
    refused(cockpit("config", "check", "--config", str(path)), f"{path}{where}", "not a finite")


SERVICE = '[[services]]\nname = "files-web"\n'


@pytest.mark.parametrize(
    ("service", "key", "placeholder"),
    [
        ('revert = ["deployctl", "--to", "{previous.verison}"]\n', "revert", "previous.verison"),
        (
            'revert = ["x"]\npreflight = [["check", "{prev.version}"]]\n',
            "preflight[0]",
            "prev.version",
        ),
        ('revert_url = "http://h/{servce}/rollback"\n', "revert_url", "servce"),
        (
            'revert_url = "http://h/r"\nrevert_body = \'{"to": "{previous.tag}"}\'\n',
            "revert_body",
            "previous.tag",
        ),
        (
            'revert_url = "http://h/r"\nrevert_headers = { "X-To" = "{to}" }\n',
            "revert_headers.X-To",
            "to",
        ),
        ('actions = { failover = ["f", "{previous.version}"] }\n', "actions.failover", "previous"),
    ],
)
def test_unknown_placeholders_are_found_by_config_check(
    tmp_path: Path, service: str, key: str, placeholder: str
) -> None:
    path = config(tmp_path, PROBE + SERVICE + service)
    message = refused(
        cockpit("config", "check", "--config", str(path)),
        f"services[0].{key}: unknown placeholder {{{placeholder}",
    )
    assert "known: {service}" in message


def test_an_unbalanced_brace_is_found_by_config_check(tmp_path: Path) -> None:
    path = config(tmp_path, PROBE + SERVICE + 'revert = ["x", "--to={previous.version"]\n')
    refused(cockpit("config", "check", "--config", str(path)), "services[0].revert: unbalanced")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ('""', "must not be empty"),
        ('"   "', "must not be empty"),
        ('" web"', "must not start or end with a space"),
        ('"web\\u001b[2J"', "control or invisible characters"),
        ('"web\\u202e"', "control or invisible characters"),
        ('"a\\nb"', "control or invisible characters"),
    ],
)
def test_probe_names_must_name_something(tmp_path: Path, name: str, why: str) -> None:
    text = PROBE.replace('name = "web"', f"name = {name}")
    path = config(tmp_path, text)
    refused(cockpit("config", "check", "--config", str(path)), f"{path}:2: probes[0].name", why)


def test_every_kind_of_name_is_checked(tmp_path: Path) -> None:
    for text, key in (
        (PROBE + '[[deploys]]\nname = ""\nkind = "jsonl"\npath = "d.jsonl"\n', "deploys[0].name"),
        (PROBE + '[[services]]\nname = ""\nrevert = ["x"]\n', "services[0].name"),
        (PROBE + '[[notify]]\nname = ""\nkind = "webhook"\nurl_env = "H"\n', "notify[0].name"),
        (PROBE + '[cockpit]\nservice = "a\\u0007"\n', "cockpit.service"),
        (PROBE + '[keys]\ndeclare = "\\u001b[2J"\n', "keys.declare"),
        (PROBE + '[keys]\nrevert = ""\n', "keys.revert"),
    ):
        path = config(tmp_path, text)
        refused(cockpit("config", "check", "--config", str(path), env={"H": "https://h/x"}), key)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
@pytest.mark.parametrize("command", [("config", "check"), ("check",), ()])
def test_an_empty_config_is_said_to_be_empty(
    tmp_path: Path, text: str, command: tuple[str, ...]
) -> None:
    path = config(tmp_path, text)
    refused(cockpit(*command, "--config", str(path)), str(path), "empty", "cockpit init")


@pytest.mark.parametrize("command", [("check",), ()])
def test_a_config_without_sources_has_nothing_to_watch(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = config(tmp_path, '[cockpit]\nservice = "files-web"\n')
    refused(cockpit(*command, "--config", str(path)), "no sources configured", "cockpit init")


def test_config_values_quoted_back_are_inert(tmp_path: Path) -> None:
    text = PROBE.replace('kind = "http"', 'kind = "\\u001b]52;c;SElKQUNL\\u0007\\u202ex"')
    path = config(tmp_path, text)
    message = refused(cockpit("config", "check", "--config", str(path)), "unknown kind")
    # Quoted escaped (repr) or marked: either way no raw control reaches the terminal.
    assert "\u202e" not in message and ("\\x1b]52" in message or "\ufffd" in message)


# -- files the command line writes ---------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    with IncidentStore(directory / "incidents.sqlite3") as store:
        store.declare("web degraded", "SEV2", "alice")
    return directory


def export(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cockpit("export", *args, env={"COCKPIT_DATA_DIR": str(data), "COCKPIT_CONFIG": "/nx"})


def test_export_to_a_missing_directory_says_so(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "draft.md"
    refused(export(data, "--output", str(target)), str(target), "does not exist")
    assert not (tmp_path / "no").exists()  # nothing made up on the way


def test_export_under_a_file_says_so(data: Path, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "draft.md"
    refused(export(data, "--output", str(target), "--format", "md,json"), "is not a directory")


def test_export_into_an_unwritable_place_says_so(data: Path) -> None:
    refused(export(data, "--output", "/proc/draft.md"), "/proc/draft.md")


def test_export_into_a_directory_writes_the_usual_names(data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = export(data, "--output", str(folder), "--format", "md,json")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in folder.iterdir())
    assert [Path(n).suffix for n in written] == [".json", ".md"]
    assert all(n.startswith("incident-1-") for n in written)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_init_into_an_unwritable_place_says_so(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    refused(cockpit("init", "--config", str(tmp_path / "plain" / "c.toml")), "plain")
    refused(cockpit("init", "--config", "/proc/cockpit/config.toml"), "/proc/cockpit")
    refused(cockpit("init", "--config", str(tmp_path)), "is a directory")


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    target = tmp_path / "new" / "config.toml"
    result = cockpit("init", "--config", str(target))
    assert result.returncode == 0, result.stderr
    assert "[[probes]]" in target.read_text()
    checked = cockpit("config", "check", "--config", str(target), env={"SENTRY_TOKEN": "t0ken!"})
    assert checked.returncode == 0, checked.stderr
