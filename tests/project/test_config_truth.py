"""The config tells the truth: every key the code accepts is documented (example config and
README), every documented block loads, credentials in URLs are refused like any inline secret,
and a secret that is not set costs the one source or channel that needs it, nothing else."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import get_type_hints

import pytest

from cockpit.cli import EXAMPLE_CONFIG
from cockpit.config import ConfigError, parse
from cockpit.config.loader import LIST_SECTIONS, _is_secret, list_kinds
from cockpit.config.sections import CockpitSection, DetectSettings, KeysSection
from cockpit.config.services import ServiceConfig

README = Path(__file__).resolve().parents[2] / "README.md"
SINGLES: dict[str, type] = {
    "cockpit": CockpitSection,
    "detect": DetectSettings,
    "keys": KeysSection,
}
DEFAULT_KINDS = {section: list_kinds(section)[1] for section in LIST_SECTIONS}


def accepted_keys(cls: type) -> list[str]:
    """What a section accepts, read from its schema: a secret `x` is `x_env` and `x_file`."""
    hints = get_type_hints(cls)
    out: list[str] = []
    for field in fields(cls):
        if _is_secret(hints[field.name]):
            out += [f"{field.name}_env", f"{field.name}_file"]
        else:
            out.append(field.name)
    return out


def schema() -> dict[tuple[str, str], list[str]]:
    """(section, kind) -> accepted keys, for every section and kind the loader knows."""
    out = {(name, ""): accepted_keys(cls) for name, cls in SINGLES.items()}
    out[("services", "")] = accepted_keys(ServiceConfig)
    for section in LIST_SECTIONS:
        kinds, _ = list_kinds(section)
        for kind, cls in kinds.items():
            out[(section, kind)] = accepted_keys(cls)
    return out


_HEADER = re.compile(r"^#?\s*\[(\[?)([a-z_]+)\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^#?\s*([a-z_]+)\s*=")
_KIND = re.compile(r'^#?\s*kind\s*=\s*"([a-z_-]+)"')


def example_blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """(section, kind, lines) for every table in the example, written or commented out."""
    blocks: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            blocks.append((header.group(2), "", []))
            continue
        if blocks:
            section, kind, lines = blocks[-1]
            found = _KIND.match(line)
            if found:
                kind = found.group(1)
            lines.append(line)
            blocks[-1] = (section, kind, lines)
    return [
        (section, kind or (DEFAULT_KINDS.get(section) or ""), lines)
        for section, kind, lines in blocks
    ]


def shared_keys(section: str) -> set[str]:
    """Keys every kind of a list section takes: documented once for the section."""
    kinds = [keys for (s, _), keys in schema().items() if s == section]
    return set.intersection(*(set(k) for k in kinds)) if kinds else set()


def test_every_accepted_key_is_in_the_example_config() -> None:
    blocks = example_blocks(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    written: dict[tuple[str, str], set[str]] = {}
    for section, kind, lines in blocks:
        keys = {m.group(1) for line in lines if (m := _KEY.match(line))}
        written.setdefault((section, kind), set()).update(keys)
    missing: dict[str, list[str]] = {}
    for (section, kind), keys in schema().items():
        in_section = set().union(*(k for (s, _), k in written.items() if s == section))
        own = written.get((section, kind), set())
        absent = [
            key
            for key in keys
            if key not in own and not (key in shared_keys(section) and key in in_section)
        ]
        if absent:
            missing[f"{section}/{kind or '-'}"] = absent
    assert missing == {}


def readme_rows() -> list[tuple[str, str, str]]:
    """(section, kind, keys) rows of the README's config reference table."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Every config key")
    rows = []
    for line in text[start : text.index("\n## ", start)].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            section = cells[0].strip("`[]")
            rows.append((section, cells[1].strip("`"), cells[2]))
    return rows


def test_every_accepted_key_is_in_the_readme_reference() -> None:
    rows = readme_rows()
    missing: dict[str, list[str]] = {}
    for (section, kind), keys in schema().items():
        own = " ".join(k for s, kd, k in rows if s == section and kd == (kind or "-"))
        common = " ".join(k for s, kd, k in rows if s == section and kd == "every kind")
        absent = [
            key
            for key in keys
            if f"`{key}`" not in own and not (key in shared_keys(section) and f"`{key}`" in common)
        ]
        if not own or absent:
            missing[f"{section}/{kind or '-'}"] = absent or ["(no row)"]
    assert missing == {}


_ALTERNATIVES = (
    # (a key the block writes, keys that are its alternatives: left out when it is written)
    ("password_env", ("password_file",)),
    ("store_password_env", ("store_password_file",)),
    ("token_env", ("token_file",)),
    ("url_env", ("url_file",)),
    ("routing_key_env", ("routing_key_file",)),
    ("step", ("points",)),
    ("path", ("command",)),  # a change log: read from a file, or printed by a program
    ("user", ("token_env", "token_file")),
    (
        "revert",
        (
            "revert_url",
            "revert_method",
            "revert_body",
            "revert_headers",
            "revert_token_env",
            "revert_token_file",
            "releases_root",
        ),
    ),
)


def _key(line: str) -> str | None:
    found = _KEY.match(line)
    return found.group(1) if found else None


def _uncommented(lines: list[str]) -> list[str]:
    """The block's key lines, uncommented, with one of each set of alternatives."""
    keys = {key for line in lines if (key := _key(line))}
    dropped = {alt for key, alts in _ALTERNATIVES if key in keys for alt in alts}
    return [
        line.removeprefix("#").removeprefix(" ")
        for line in lines
        if (key := _key(line)) is not None and key not in dropped
    ]


@pytest.mark.parametrize(
    "block",
    example_blocks(EXAMPLE_CONFIG.read_text(encoding="utf-8")),
    ids=lambda b: f"{b[0]}-{b[1] or 'table'}",
)
def test_every_example_block_loads_once_uncommented(block: tuple[str, str, list[str]]) -> None:
    """What the example documents is true: each block, uncommented, is a valid config."""
    section, kind, lines = block
    double = section in (
        "probes",
        "deploys",
        "changes",
        "errors",
        "sentry",
        "alerts",
        "notify",
        "services",
    )
    header = f"[[{section}]]" if double else f"[{section}]"
    body = _uncommented(lines)
    text = "\n".join([header, *body]) + "\n"
    env = {name: "x" for name in re.findall(r'_env = "([A-Z_]+)"', text)}
    if "url_env" in text:
        env = {name: "https://hooks.example.com/T0/B0/x" for name in env}
    config = parse(text, env=env)
    assert not [w for w in config.warnings if "not set" in str(w)]
    if section in LIST_SECTIONS:
        (item,) = getattr(config, section)
        assert type(item).kind == kind  # the block is the kind it says it is


@pytest.mark.parametrize(
    ("table", "key_line", "where"),
    [
        (
            '[[probes]]\nname = "a"\nkind = "http"',
            'url = "https://probe:s3cret@x.example/health"',
            "probes[0].url",
        ),
        (
            '[[probes]]\nname = "a"\nkind = "webdav"',
            'url = "https://probe@x.example/dav/"',
            "probes[0].url",
        ),
        (
            '[[sentry]]\nname = "s"\norg = "o"\ntoken_env = "T"',
            'base_url = "https://u:p@sentry.example.com"',
            "sentry[0].base_url",
        ),
        (
            '[[errors]]\nname = "p"\nkind = "prometheus"\nerrors_query = "x"',
            'base_url = "http://admin:admin@prom:9090"',
            "errors[0].base_url",
        ),
        (
            '[[deploys]]\nname = "g"\nkind = "github"\nowner = "o"\nrepo = "r"',
            'base_url = "https://ghp_tok@ghe.example/api/v3"',
            "deploys[0].base_url",
        ),
        (
            '[[services]]\nname = "s"',
            'revert_url = "https://deploy:pw@deploy.example/rollback"',
            "services[0].revert_url",
        ),
        (
            '[[services]]\nname = "s"',
            'revert = ["curl", "-X", "POST", "https://deploy:pw@deploy.example/rollback"]',
            "services[0].revert[3]",
        ),
        (
            '[[notify]]\nname = "pd"\nkind = "pagerduty"\nrouting_key_env = "K"',
            'url = "https://k:v@events.example/v2/enqueue"',
            "notify[0].url",
        ),
        (
            '[[probes]]\nname = "a"\nkind = "http"',
            'url = "https://x.example/health?api_key=s3cret"',
            "probes[0].url",
        ),
        (
            '[[errors]]\nname = "p"\nkind = "prometheus"\nerrors_query = "x"',
            'base_url = "http://prom:9090/?access_token=s3cret"',
            "errors[0].base_url",
        ),
        (
            '[[probes]]\nname = "a"\nkind = "http"\nurl = "https://x.example/"',
            'headers = { Authorization = "Basic cHJvYmU6czNjcmV0" }',
            "probes[0].headers.Authorization",
        ),
    ],
)
def test_credentials_in_the_config_are_refused_with_file_line_and_key(
    tmp_path: Path, table: str, key_line: str, where: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"{table}\n{key_line}\n")
    line = table.count("\n") + 2
    with pytest.raises(ConfigError) as refused:
        from cockpit.config import load

        load(path, env={"T": "t", "K": "k"})
    assert str(refused.value).startswith(f"{path}:{line}: {where}: ")
    assert "s3cret" not in str(refused.value) and ":pw@" not in str(refused.value)
