"""One schema, one loader: every section and every kind refuses a value out of range, of the
wrong type, not finite, or under an unknown key, with exit 2 naming file, line and key. The
cases are read from the schema itself, so a kind added later is covered, and a number field
without a declared range fails here."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest

from cockpit.cli import main
from cockpit.config import parse
from cockpit.config.loader import LIST_SECTIONS, _hints, list_kinds
from cockpit.config.schema import Rule
from cockpit.config.sections import CockpitSection, DetectSettings
from cockpit.config.services import ServiceConfig

SINGLES: dict[str, type] = {"cockpit": CockpitSection, "detect": DetectSettings}
# The least each kind needs to load, written as a user would.
MINIMAL: dict[tuple[str, str], str] = {
    ("cockpit", ""): 'service = "files-web"',
    ("detect", ""): "spike_factor = 3.0",
    ("services", ""): 'name = "files-web"\nrevert = ["deployctl", "rollback"]',
    ("probes", "http"): 'name = "p"\nkind = "http"\nurl = "http://127.0.0.1:9/"',
    ("probes", "tcp"): 'name = "p"\nkind = "tcp"\nhost = "127.0.0.1"\nport = 9',
    ("probes", "tls"): 'name = "p"\nkind = "tls"\nhost = "127.0.0.1"',
    ("probes", "ftp"): 'name = "p"\nkind = "ftp"\nhost = "127.0.0.1"',
    ("probes", "ftps"): 'name = "p"\nkind = "ftps"\nhost = "127.0.0.1"',
    ("probes", "sftp"): 'name = "p"\nkind = "sftp"\nhost = "127.0.0.1"\nuser = "u"',
    ("probes", "webdav"): 'name = "p"\nkind = "webdav"\nurl = "http://127.0.0.1:9/"',
    ("probes", "prometheus"): 'name = "p"\nkind = "prometheus"\nbase_url = "http://127.0.0.1:9"',
    ("deploys", "jsonl"): 'name = "d"\npath = "deploys.jsonl"',
    ("deploys", "git"): 'name = "d"\nkind = "git"\nrepo = "."\nservice = "files-web"',
    ("deploys", "releases"): 'name = "d"\nkind = "releases"\nroot = "."\nservice = "s"',
    ("deploys", "github"): 'name = "d"\nkind = "github"\nowner = "acme"\nrepo = "web"',
    ("deploys", "command"): 'name = "d"\nkind = "command"\ncommand = ["deploys", "--json"]',
    ("changes", "dpkg"): 'name = "c"\nkind = "dpkg"',
    ("changes", "apt-history"): 'name = "c"\nkind = "apt-history"',
    ("changes", "unattended-upgrades"): 'name = "c"\nkind = "unattended-upgrades"',
    ("changes", "maintenance"): 'name = "c"\nkind = "maintenance"\npath = "runs.jsonl"',
    ("changes", "git"): 'name = "c"\nkind = "git"\nrepo = "."',
    ("changes", "command"): 'name = "c"\nkind = "command"\ncommand = ["flagctl", "--json"]',
    ("errors", "nginx_combined"): 'name = "e"\npath = "access.log"',
    ("errors", "nginx_json"): 'name = "e"\nkind = "nginx_json"\npath = "access.log"',
    ("errors", "haproxy"): 'name = "e"\nkind = "haproxy"\npath = "haproxy.log"',
    ("errors", "caddy"): 'name = "e"\nkind = "caddy"\npath = "access.log"',
    ("errors", "envoy"): 'name = "e"\nkind = "envoy"\npath = "access.log"',
    ("errors", "regex"): (
        'name = "e"\nkind = "regex"\npath = "a.log"\npattern = "(?P<status>\\\\d{3})"'
    ),
    ("errors", "prometheus"): (
        'name = "e"\nkind = "prometheus"\nbase_url = "http://127.0.0.1:9"\n'
        'errors_query = "sum(rate(x[1m]))"'
    ),
    ("sentry", "sentry"): (
        'name = "s"\nbase_url = "https://sentry.io"\norg = "acme"\ntoken_env = "T_TOKEN"'
    ),
    ("alerts", "alertmanager"): 'name = "a"\nurls = ["http://127.0.0.1:9093"]',
    ("notify", "slack"): 'name = "n"\nkind = "slack"\nurl_env = "T_HOOK"',
    ("notify", "pagerduty"): 'name = "n"\nkind = "pagerduty"\nrouting_key_env = "T_KEY"',
    ("notify", "webhook"): 'name = "n"\nkind = "webhook"\nurl_env = "T_HOOK"',
}
ENV = {"T_TOKEN": "t", "T_HOOK": "https://hooks.example/x", "T_KEY": "k"}


def every_kind() -> dict[tuple[str, str], type]:
    out: dict[tuple[str, str], type] = {(name, ""): cls for name, cls in SINGLES.items()}
    out[("services", "")] = ServiceConfig
    for section in LIST_SECTIONS:
        kinds, _ = list_kinds(section)
        for kind, cls in kinds.items():
            out[(section, kind)] = cls
    return out


def strip(hint: Any) -> tuple[Any, list[Rule]]:
    """A field's type without `| None`, and the rules declared on it."""
    rules: list[Rule] = []
    while True:
        origin = get_origin(hint)
        if origin is Annotated:
            rules += [r for r in get_args(hint)[1:] if isinstance(r, Rule)]
            hint = get_args(hint)[0]
        elif origin in (Union, types.UnionType):
            (hint,) = [a for a in get_args(hint) if a is not type(None)]
        else:
            return hint, rules


def number_fields(cls: type) -> list[tuple[str, Any, list[Rule]]]:
    out = []
    for spec in fields(cls):
        hint, rules = strip(_hints(cls)[spec.name])
        if hint in (int, float) or (
            get_origin(hint) is Literal and int in map(type, get_args(hint))
        ):
            out.append((spec.name, hint, rules))
    return out


def block(section: str, kind: str, extra: str) -> tuple[str, int]:
    """A whole config: the kind's block plus `extra` (its line number returned), and a probe so
    that a file holding only [cockpit] still watches something."""
    header = f"[[{section}]]" if section in (*LIST_SECTIONS, "services") else f"[{section}]"
    lines = ["# a config as a user writes it", header, *MINIMAL[(section, kind)].splitlines()]
    key = extra.split("=")[0].strip()
    same = [i for i, text in enumerate(lines) if key and text.startswith(f"{key} =")]
    if same:  # the minimal config sets this key: the bad value replaces it
        lines[same[0]] = extra
        line = same[0] + 1
    else:
        lines.append(extra)
        line = len(lines)
    if section != "probes":
        lines += ["", "[[probes]]", *MINIMAL[("probes", "http")].splitlines()]
    return "\n".join(lines) + "\n", line


def check_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, key: str, words: str
) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {key}: " in err, err
    assert words in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def key_of(section: str, name: str) -> str:
    listed = section in (*LIST_SECTIONS, "services")
    return f"{section}[0].{name}" if listed else f"{section}.{name}"


CASES = sorted(MINIMAL)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path / "data"))


def test_every_kind_has_a_minimal_config() -> None:
    assert sorted(every_kind()) == CASES


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_the_minimal_config_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, kind: str
) -> None:
    text, _ = block(section, kind, "")
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["config", "check", "--config", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_every_number_has_a_declared_range(section: str, kind: str) -> None:
    """A number nothing bounds is how `max_deploys = -5` came to delete kept deploys."""
    cls = every_kind()[(section, kind)]
    unbounded = [
        name
        for name, hint, rules in number_fields(cls)
        if get_origin(hint) is not Literal
        and not any(r.ge is not None or r.gt is not None for r in rules)
    ]
    assert unbounded == []


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_every_name_is_checked_as_a_name(section: str, kind: str) -> None:
    cls = every_kind()[(section, kind)]
    if "name" in {f.name for f in fields(cls)}:
        _, rules = strip(_hints(cls)["name"])
        assert any(r.name for r in rules)


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_out_of_range_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, kind: str
) -> None:
    cls = every_kind()[(section, kind)]
    numbers = [(n, h, r) for n, h, r in number_fields(cls) if get_origin(h) is not Literal]
    if not numbers:
        # No number in this section: a value outside its choices is the range it has.
        choices = [
            (spec.name, strip(_hints(cls)[spec.name])[0])
            for spec in fields(cls)
            if get_origin(strip(_hints(cls)[spec.name])[0]) is Literal
        ]
        assert choices, f"{section}/{kind} has neither numbers nor choices"
        name, _ = choices[0]
        text, line = block(section, kind, f'{name} = "no-such-choice"')
        check_refused(tmp_path, capsys, text, line, key_of(section, name), "expected one of:")
        return
    for name, hint, rules in numbers:
        (rule,) = [r for r in rules if r.ge is not None or r.gt is not None]
        low = rule.ge if rule.ge is not None else rule.gt
        assert low is not None
        below = int(low) - 1 if hint is int else low - 0.5
        text, line = block(section, kind, f"{name} = {below}")
        check_refused(tmp_path, capsys, text, line, key_of(section, name), "must be")
        capsys.readouterr()


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_wrong_type_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, kind: str
) -> None:
    cls = every_kind()[(section, kind)]
    numbers = number_fields(cls)
    if numbers:
        name = numbers[0][0]
        text, line = block(section, kind, f'{name} = "soon"')
        words = "expected"
    else:
        name = next(f.name for f in fields(cls) if strip(_hints(cls)[f.name])[0] is str)
        text, line = block(section, kind, f"{name} = 12")
        words = "expected"
    check_refused(tmp_path, capsys, text, line, key_of(section, name), words)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(("section", "kind"), CASES)
def test_non_finite_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, kind: str, value: str
) -> None:
    cls = every_kind()[(section, kind)]
    floats = [n for n, h, _ in number_fields(cls) if h is float]
    name = floats[0] if floats else fields(cls)[0].name
    text, line = block(section, kind, f"{name} = {value}")
    check_refused(tmp_path, capsys, text, line, key_of(section, name), "not a finite number")


@pytest.mark.parametrize(("section", "kind"), CASES)
def test_unknown_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, kind: str
) -> None:
    text, line = block(section, kind, "no_such_option = 1")
    check_refused(tmp_path, capsys, text, line, key_of(section, "no_such_option"), "unknown key")


def test_a_misspelt_key_is_named_with_the_right_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line = block("deploys", "jsonl", "max_deploy = 5")
    check_refused(
        tmp_path, capsys, text, line, "deploys[0].max_deploy", "did you mean 'max_deploys'"
    )


def test_negative_max_deploys_is_refused_for_the_jsonl_kind() -> None:
    """The bug the one schema fixes: the jsonl kind took `max_deploys = -5`, then deleted."""
    text, _ = block("deploys", "jsonl", "max_deploys = -5")
    with pytest.raises(Exception, match="max_deploys: must be between 1 and 1000"):
        parse(text)


@pytest.mark.parametrize(
    ("section", "kind", "extra", "key"),
    [
        ("probes", "tcp", "port = 70000", "probes[0].port"),
        ("deploys", "jsonl", "max_deploys = -5", "deploys[0].max_deploys"),
        ("changes", "git", "max_changes = 0", "changes[0].max_changes"),
        ("errors", "nginx_combined", "read_back = -1", "errors[0].read_back"),
        ("sentry", "sentry", "limit = 1000", "sentry[0].limit"),
        ("alerts", "alertmanager", "interval = nan", "alerts[0].interval"),
        ("notify", "slack", "timeout = 0", "notify[0].timeout"),
        ("services", "", 'revert_timeout = "2m"', "services[0].revert_timeout"),
        ("detect", "", "spike_min_ratio = 2.0", "detect.spike_min_ratio"),
        ("cockpit", "", "ascii = 1", "cockpit.ascii"),
    ],
)
def test_cockpit_check_exits_2_naming_file_line_and_key(
    tmp_path: Path, section: str, kind: str, extra: str, key: str
) -> None:
    """Through the real command, as a user meets it: one line, exit 2, no traceback."""
    text, line = block(section, kind, extra)
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV, "COCKPIT_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"cockpit: {path}:{line}: {key}: "), result.stderr
    assert "Traceback" not in result.stderr
