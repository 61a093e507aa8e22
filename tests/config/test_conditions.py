"""Conditions: parsed at config load (errors name file, line and key), evaluated per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.cli import main
from cockpit.config import ConfigError, parse
from cockpit.config.conditions import ConditionError, evaluate_all, parse_condition

BODY_JSON = '{"status": "UP", "checks": [{"name": "db", "ok": true}], "count": 3, "msg": "all ok"}'
SEEN = {
    "STATUS": 200,
    "RESPONSE_TIME": 42.5,
    "BODY": BODY_JSON,
    "CONNECTED": True,
    "CERTIFICATE_EXPIRATION": 30 * 86_400_000.0,
}


@pytest.mark.parametrize(
    "text",
    [
        "[STATUS] == 200",
        "[STATUS] < 300",
        "[STATUS] != 500",
        "[STATUS] == any(200, 201)",
        "[RESPONSE_TIME] < 300",
        "[RESPONSE_TIME] <= 1s",
        "[BODY].status == UP",
        "[BODY].checks[0].name == db",
        "[BODY].checks[0].ok == true",
        "[BODY].count >= 3",
        "[BODY].msg == pat(*ok*)",
        "[BODY] == pat(*status*)",
        "len([BODY].checks) == 1",
        "has([BODY].status) == true",
        "has([BODY].missing) == false",
        "[CONNECTED] == true",
        "[CERTIFICATE_EXPIRATION] > 72h",
        "[CERTIFICATE_EXPIRATION] > 29d",
        "200 == [STATUS]",
    ],
)
def test_conditions_that_hold(text: str) -> None:
    assert evaluate_all((parse_condition(text),), SEEN) == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[STATUS] == 201", "[STATUS] == 201 (got 200)"),
        ("[STATUS] >= 500", "[STATUS] >= 500 (got 200)"),
        ("[BODY].status == DOWN", "[BODY].status == DOWN (got 'UP')"),
        ("[BODY].nothing == x", "[BODY].nothing == x (got nothing)"),
        ("[BODY].msg != pat(*ok*)", "[BODY].msg != pat(*ok*) (got 'all ok')"),
        ("[RESPONSE_TIME] < 10", "[RESPONSE_TIME] < 10 (got 42ms)"),
        ("[CERTIFICATE_EXPIRATION] > 60d", "[CERTIFICATE_EXPIRATION] > 60d (got 30d)"),
        ("len([BODY].checks) > 5", "len([BODY].checks) > 5 (got 1)"),
    ],
)
def test_failed_condition_names_itself_and_the_actual_value(text: str, message: str) -> None:
    assert evaluate_all((parse_condition(text),), SEEN) == message


def test_body_that_is_not_json() -> None:
    condition = parse_condition("[BODY].status == UP")
    failure = evaluate_all((condition,), {"BODY": "<html>"})
    assert failure == "[BODY].status == UP (got a body that is not JSON)"


def test_untrusted_value_is_inert_and_short() -> None:
    condition = parse_condition("[BODY].status == UP")
    body = '{"status": "\\u001b[31mred\\u001b[0m' + "x" * 500 + '"}'
    failure = evaluate_all((condition,), {"BODY": body})
    assert "\x1b" not in failure
    assert failure.startswith("[BODY].status == UP (got '\ufffdred\ufffd")
    assert len(failure) < 120


def test_first_failing_condition_is_reported() -> None:
    conditions = tuple(parse_condition(t) for t in ("[STATUS] == 200", "[BODY].count == 4"))
    assert evaluate_all(conditions, SEEN) == "[BODY].count == 4 (got 3)"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[STATUS]==200", "spaces around the operator"),
        ("[STATUS] = 200", "spaces around the operator"),
        ("[STAUS] == 200", "unknown placeholder [STAUS]"),
        ("[STATUS].code == 200", "only [BODY] takes a path"),
        ("[RESPONSE_TIME] < fast", "neither a number nor a duration"),
        ("[BODY] < pat(*x*)", "work with == and !="),
        ("pat(*x*) == [BODY]", "go on the right"),
        ("up == UP", "one side must be a placeholder"),
        ("len(3) == 1", "takes a placeholder"),
        ("[BODY].a..b == 1", "cannot read placeholder"),
    ],
)
def test_bad_conditions(text: str, error: str) -> None:
    with pytest.raises(ConditionError, match=error.replace("[", r"\[").replace("]", r"\]")):
        parse_condition(text)


CONFIG = """\
[[probes]]
name = "web"
kind = "{kind}"
{target}
conditions = [
  "[RESPONSE_TIME] < 500",
  "{condition}",
]
"""


def config_text(kind: str, condition: str) -> str:
    target = {
        "http": 'url = "http://127.0.0.1:9/"',
        "tcp": 'host = "127.0.0.1"\nport = 9',
    }[kind]
    return CONFIG.format(kind=kind, target=target, condition=condition)


def test_bad_condition_is_a_config_error_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    with pytest.raises(ConfigError) as caught:
        parse(config_text("http", "[STATUS] >> 200"), path)
    assert str(caught.value).startswith(f"{path}:5: probes[0].conditions[1]: ")
    assert "spaces around the operator" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "condition", "missing"),
    [
        ("tcp", "[STATUS] == 200", "[STATUS]"),
        ("http", "[CERTIFICATE_EXPIRATION] > 72h", "[CERTIFICATE_EXPIRATION]"),
    ],
)
def test_placeholder_a_kind_cannot_supply_is_a_config_error(
    kind: str, condition: str, missing: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(config_text(kind, condition))
    assert f"probes[0].conditions[1]: a {kind} probe cannot supply {missing}" in str(caught.value)


def test_good_conditions_load() -> None:
    config = parse(config_text("http", "[BODY].status == UP"))
    assert config.probes[0].conditions == ("[RESPONSE_TIME] < 500", "[BODY].status == UP")


def test_cockpit_config_check_exits_2_on_a_bad_condition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config_text("tcp", "[BODY] == pat()"))
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6: probes[0].conditions[1]: pat() needs a pattern" in err


@pytest.mark.parametrize(
    ("kind", "lines", "key", "message"),
    [
        ("tcp", 'host = "h"\nport = 70000', "port", "between 1 and 65535"),
        ("tls", "port = 443", "host", "missing required key"),
        ("sftp", 'host = "h"', "user", "missing required key"),
        ("webdav", 'url = "http://h/"\ndepth = 2', "depth", "expected one of: 0, 1"),
        ("webdav", 'url = "http://h/"\nget_path = "http://x/f"', "get_path", "same server"),
        ("ftp", 'host = "h"\npassword = "x"', "password", "secrets are not written"),
    ],
)
def test_kind_fields_are_checked(kind: str, lines: str, key: str, message: str) -> None:
    text = f'[[probes]]\nname = "p"\nkind = "{kind}"\n{lines}\n'
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert f"probes[0].{key}: " in str(caught.value)
    assert message in str(caught.value)


def test_password_comes_from_env_or_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("wonderland\n")
    text = (
        '[[probes]]\nname = "f"\nkind = "ftps"\nhost = "h"\nuser = "alice"\n'
        'password_file = "pw"\n'
        '[[probes]]\nname = "s"\nkind = "sftp"\nhost = "h"\nuser = "alice"\n'
        'password_env = "SFTP_PW"\ninsecure_skip_host_key_check = true\n'
    )
    config = parse(text, tmp_path / "c.toml", env={"SFTP_PW": "s3cret"})
    ftps, sftp = config.probes
    assert ftps.password is not None and ftps.password.reveal() == "wonderland"
    assert sftp.password is not None and sftp.password.reveal() == "s3cret"
    assert "s3cret" not in repr(sftp)
