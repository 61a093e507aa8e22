"""TOML -> typed config. Every error names the file, the line and the key.

Sections are declared as dataclasses; their fields and annotations are the schema (see
`cockpit.config.schema`: types, `Literal` choices, `Annotated` rules such as ranges), so adding
an option is adding a field, and its constraints are declared with it. This one loader enforces
them for every section and kind; a section may define `check()` raising FieldError for what
depends on several fields. Secrets are never read from the config text (see `Secret`).
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
import re
import tomllib
import types
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)
from urllib.parse import parse_qsl, urlsplit

from cockpit.config.base import ConfigError, ConfigWarning, FieldError, Secret
from cockpit.config.schema import Rule
from cockpit.config.sections import CockpitSection, DetectSettings, KeysSection

if TYPE_CHECKING:
    from typing import TypeAlias

    from cockpit.config.alerts import AlertmanagerConfig
    from cockpit.config.changes import ChangeSourceConfig
    from cockpit.config.deploys import DeploySourceConfig
    from cockpit.config.errors import ErrorSourceConfig
    from cockpit.config.notify import NotifyConfig
    from cockpit.config.probes import ProbeConfig
    from cockpit.config.sentry import SentryConfig
    from cockpit.config.services import ServiceConfig

    SourceConfig: TypeAlias = (
        ProbeConfig
        | DeploySourceConfig
        | ChangeSourceConfig
        | ErrorSourceConfig
        | SentryConfig
        | AlertmanagerConfig
    )

MAX_NESTING = 32  # arrays and inline tables inside each other; no option needs more than 3
EMPTY_HINT = (
    "the config is empty: nothing to watch. `cockpit init` writes a commented example "
    "(with --force over an existing file)"
)

# Top-level list sections: name -> (the module of its kinds, the name of its kinds there, the
# name there of its default kind or None). A module is loaded only for a section the config
# has: each kind is a dataclass, and defining those the config does not use delays the screen.
_LIST_KINDS: dict[str, tuple[str, str, str | None]] = {
    "probes": ("cockpit.config.probes", "PROBE_KINDS", None),
    "deploys": ("cockpit.config.deploys", "DEPLOY_KINDS", "DEFAULT_DEPLOY_KIND"),
    "changes": ("cockpit.config.changes", "CHANGE_KINDS", None),
    "errors": ("cockpit.config.errors", "ERROR_KINDS", "DEFAULT_ERROR_KIND"),
    "sentry": ("cockpit.config.sentry", "SENTRY_KINDS", "DEFAULT_SENTRY_KIND"),
    "alerts": ("cockpit.config.alerts", "ALERT_KINDS", "DEFAULT_ALERT_KIND"),
    "notify": ("cockpit.config.notify", "NOTIFY_KINDS", None),
}
LIST_SECTIONS = tuple(_LIST_KINDS)


@cache
def list_kinds(section: str) -> tuple[dict[str, type], str | None]:
    """A list section's kinds by name, and the kind an entry without `kind` has."""
    module_name, kinds, default = _LIST_KINDS[section]
    module = importlib.import_module(module_name)
    return getattr(module, kinds), getattr(module, default) if default else None


# scheme://user[:password]@ at the start of a URL (the userinfo ends before any / ? #).
_URL_CREDENTIALS = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^/?#@\s:]*)(?::(?P<password>[^/?#@\s]*))?@"
)
# Query parameters that carry a credential (?api_key=..., ?token=...): a secret in the URL too.
_SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pwd", "token", "access_token", "auth_token", "api_key", "apikey"}
    | {"secret", "client_secret", "private_token"}
)
# Keys whose URL carries a key meant to be public: a Sentry DSN only lets one send events.
_PUBLIC_CREDENTIALS = frozenset({"self_report_dsn"})
# What a secret that is not set disables, by top-level section.
_DISABLED = {
    "probes": "this probe shows as not configured until it is",
    "deploys": "this source shows as not configured until it is",
    "changes": "this source shows as not configured until it is",
    "errors": "this source shows as not configured until it is",
    "sentry": "this source shows as not configured until it is",
    "alerts": "this source shows as not configured until it is",
    "notify": "this channel is not notified until it is (`cockpit incident retry` then sends)",
    "services": "this service's HTTP revert cannot run until it is",
    "cockpit": "the PostgreSQL incident store cannot be reached until it is",
}
# Lists whose entries are named and feed the hub; names must be unique across all of them.
_SOURCE_LISTS = ("probes", "deploys", "changes", "errors", "sentry", "alerts")


@dataclass(frozen=True)
class Config:
    path: Path | None
    cockpit: CockpitSection = field(default_factory=CockpitSection)
    keys: KeysSection = field(default_factory=KeysSection)
    detect: DetectSettings = field(default_factory=DetectSettings)
    probes: tuple[ProbeConfig, ...] = ()
    deploys: tuple[DeploySourceConfig, ...] = ()
    changes: tuple[ChangeSourceConfig, ...] = ()
    errors: tuple[ErrorSourceConfig, ...] = ()
    sentry: tuple[SentryConfig, ...] = ()
    alerts: tuple[AlertmanagerConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    notify: tuple[NotifyConfig, ...] = ()
    # What the config names but this environment lacks (a secret not set): each disables only
    # what needs it, and `config check` lists them.
    warnings: tuple[ConfigWarning, ...] = ()

    def sources(self) -> tuple[SourceConfig, ...]:
        return (
            *self.probes,
            *self.deploys,
            *self.changes,
            *self.errors,
            *self.sentry,
            *self.alerts,
        )

    def change_source(self, name: str) -> ChangeSourceConfig | None:
        return next((c for c in self.changes if c.name == name), None)

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)


# ---------------------------------------------------------------------------------------------
# Finding where a key is written, for messages. The text already parsed as TOML, so a line
# scanner that follows table headers is enough.

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _unquote(part: str) -> str:
    part = part.strip()
    return part[1:-1] if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'" else part


class _Locator:
    def __init__(self, text: str):
        self.lines: dict[tuple[str | int, ...], int] = {}
        counts: dict[tuple[str, ...], int] = {}
        table: tuple[str | int, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                names = tuple(_unquote(p) for p in header.group(2).split("."))
                if header.group(1) == "[[":
                    index = counts.get(names, 0)
                    counts[names] = index + 1
                    table = (*names, index)
                else:
                    table = names
                self.lines.setdefault(table, number)
                continue
            key = _KEYLINE.match(line)
            if key:
                path = (*table, *(_unquote(p) for p in key.group(1).split(".")))
                self.lines.setdefault(path, number)

    def line(self, path: tuple[str | int, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# ---------------------------------------------------------------------------------------------


class Loader:
    def __init__(self, path: Path | None, text: str, env: dict[str, str]):
        self.path = path
        self.where = _Locator(text)
        self.env = env
        self.base = path.parent if path else Path.cwd()
        self.warnings: list[ConfigWarning] = []

    def error(self, key_path: tuple[str | int, ...], message: str) -> ConfigError:
        return ConfigError(self.path, self.where.line(key_path), _dotted(key_path), message)

    def warn(self, key_path: tuple[str | int, ...], message: str) -> None:
        line = self.where.line(key_path)
        self.warnings.append(ConfigWarning(self.path, line, _dotted(key_path), message))

    def section(self, cls: type, raw: Any, path: tuple[str | int, ...]) -> Any:
        if not isinstance(raw, dict):
            raise self.error(path, f"expected a table, got {_describe(raw)}")
        raw = dict(raw)
        raw.pop("kind", None)
        hints = _hints(cls)
        known = {f.name: f for f in fields(cls)}
        secrets = {name for name in known if _is_secret(hints[name])}
        values: dict[str, Any] = {}
        for name in secrets:
            if name in raw:
                raise self.error(
                    (*path, name),
                    "secrets are not written in the config; "
                    f"name an environment variable ({name}_env) or a file ({name}_file)",
                )
            spec = known[name]
            required = spec.default is MISSING and spec.default_factory is MISSING
            secret = self.secret(raw, path, name, required)
            if secret is not None:
                values[name] = secret
        for key in raw:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((*path, key), f"unknown key{hint}")
        for name, spec in known.items():
            if name in secrets:
                continue
            if name in raw:
                values[name] = self.value(hints[name], raw[name], (*path, name))
                if name not in _PUBLIC_CREDENTIALS:
                    self.no_credentials(values[name], (*path, name), name.endswith("url"), secrets)
            elif spec.default is MISSING and spec.default_factory is MISSING:
                raise self.error((*path, name), "missing required key")
        try:
            obj = cls(**values)
        except (TypeError, ValueError) as exc:
            raise self.error(path, str(exc)) from None
        self.check(obj, path)
        return obj

    def secret(
        self, raw: dict[str, Any], path: tuple[str | int, ...], name: str, required: bool
    ) -> Secret | None:
        env_key, file_key = f"{name}_env", f"{name}_file"
        env_name = raw.pop(env_key, None)
        file_name = raw.pop(file_key, None)
        if env_name is not None and file_name is not None:
            raise self.error((*path, file_key), f"give {env_key} or {file_key}, not both")
        if env_name is not None:
            if not isinstance(env_name, str) or not env_name:
                raise self.error((*path, env_key), "expected the name of a variable")
            value = (self.env.get(env_name) or "").strip()
            if not value:
                return self.unset((*path, env_key), f"env:{env_name}", f"{env_name} is not set")
            return Secret(value, f"env:{env_name}")
        if file_name is not None:
            if not isinstance(file_name, str) or not file_name:
                raise self.error((*path, file_key), "expected a file path")
            secret_path = self.base / Path(file_name).expanduser()
            origin = f"file:{secret_path}"
            try:
                value = secret_path.read_text().strip()
            except OSError as exc:
                why = f"{secret_path} cannot be read ({exc.strerror or type(exc).__name__})"
                return self.unset((*path, file_key), origin, why)
            except UnicodeDecodeError:
                raise self.error((*path, file_key), f"{secret_path} is not text") from None
            if not value:
                return self.unset((*path, file_key), origin, f"{secret_path} is empty")
            return Secret(value, origin)
        if required:
            raise self.error(path, f"missing {env_key} or {file_key}")
        return None

    def no_credentials(
        self, value: Any, path: tuple[str | int, ...], is_url: bool, secrets: set[str]
    ) -> None:
        """A URL with credentials in it (https://user:pass@host/) is a secret written in the
        config: refused like `password = ...`, wherever it is (a URL key, a header, a command
        argument). In a URL key even a user alone is refused: tokens travel as user names."""
        if isinstance(value, str):
            if is_url:
                parts = urlsplit(value)
                query = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
                # A user, a password or both; or a credential passed as a query parameter.
                found = "@" in parts.netloc or bool(query & _SECRET_QUERY_KEYS)
            else:
                match = _URL_CREDENTIALS.search(value)
                found = match is not None and match.group("password") is not None
            if found:
                if "password" in secrets:
                    instead = "the user in `user` and the password in password_env or password_file"
                elif secrets:
                    name = sorted(secrets)[0]
                    instead = f"the credential in {name}_env or {name}_file"
                else:
                    instead = "the credential in an environment variable or a file it names"
                raise self.error(
                    path,
                    f"credentials are not written in the config, not even in a URL; give {instead}",
                )
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                self.no_credentials(item, (*path, i), is_url, secrets)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.no_credentials(item, (*path, key), is_url, secrets)

    def unset(self, key_path: tuple[str | int, ...], origin: str, why: str) -> Secret:
        """A secret this environment lacks: a warning, and only what needs it is disabled."""
        said = f"environment variable {why}" if origin.startswith("env:") else why
        self.warn(key_path, f"{said}; {_DISABLED.get(str(key_path[0]), 'disabled until it is')}")
        return Secret.not_set(origin, why)

    def value(self, hint: Any, raw: Any, path: tuple[str | int, ...]) -> Any:
        origin = get_origin(hint)
        args = get_args(hint)
        if origin is Annotated:
            value = self.value(args[0], raw, path)
            for rule in args[1:]:
                problem = rule.problem(value) if isinstance(rule, Rule) else None
                if problem:
                    raise self.error(path, problem)
            return value
        if origin is Literal:
            # bool is an int: `depth = true` is not `depth = 1`.
            if not any(type(raw) is type(choice) and raw == choice for choice in args):
                raise self.error(path, f"expected one of: {', '.join(_choice(c) for c in args)}")
            return raw
        if origin in (Union, types.UnionType):
            if raw is None and type(None) in args:
                return None
            (inner,) = [a for a in args if a is not type(None)]
            return self.value(inner, raw, path)
        if hint is bool:
            if not isinstance(raw, bool):
                raise self.error(path, f"expected true or false, got {_describe(raw)}")
            return raw
        if hint is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.error(path, f"expected an integer, got {_describe(raw)}")
            return raw
        if hint is float:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise self.error(path, f"expected a number, got {_describe(raw)}")
            if not math.isfinite(raw):
                raise self.error(path, _NOT_FINITE)
            return float(raw)
        if hint is str:
            if not isinstance(raw, str):
                raise self.error(path, f"expected a string, got {_describe(raw)}")
            return raw
        if hint is Path:
            if not isinstance(raw, str) or not raw:
                raise self.error(path, f"expected a file path, got {_describe(raw)}")
            return self.base / Path(raw).expanduser()
        if origin is tuple:
            if not isinstance(raw, list):
                raise self.error(path, f"expected an array, got {_describe(raw)}")
            return tuple(self.value(args[0], item, (*path, i)) for i, item in enumerate(raw))
        if origin is dict:
            if not isinstance(raw, dict):
                raise self.error(path, f"expected a table, got {_describe(raw)}")
            return {
                self.value(args[0], k, (*path, k)): self.value(args[1], v, (*path, k))
                for k, v in raw.items()
            }
        raise self.error(path, f"unsupported option type {hint!r}")  # a schema bug, not user's

    def check(self, obj: Any, path: tuple[str | int, ...]) -> None:
        """The section's own `check()`, for what depends on several fields at once."""
        own_check = getattr(obj, "check", None)
        if own_check is not None:
            try:
                own_check()
            except FieldError as exc:
                raise self.error((*path, *exc.key), exc.message) from None

    def load(self, data: dict[str, Any]) -> Config:
        singles = {"cockpit": CockpitSection, "keys": KeysSection, "detect": DetectSettings}
        known = {*singles, "services", *LIST_SECTIONS}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((key,), f"unknown section{hint}")
        sections = {
            name: self.section(cls, data.get(name, {}), (name,)) for name, cls in singles.items()
        }
        lists: dict[str, Any] = {}
        names: dict[str, tuple[str | int, ...]] = {}
        for section in LIST_SECTIONS:
            items = []
            seen = names if section in _SOURCE_LISTS else {}
            entries = self.array(data, section)
            kinds, default_kind = list_kinds(section) if entries else ({}, None)
            for i, raw in enumerate(entries):
                path: tuple[str | int, ...] = (section, i)
                kind = raw.get("kind", default_kind) if isinstance(raw, dict) else default_kind
                if kind not in kinds:
                    choices = ", ".join(sorted(kinds)) or "(none available)"
                    what = "missing" if kind is None else f"unknown kind {kind!r}"
                    raise self.error((*path, "kind"), f"{what}; one of: {choices}")
                item = self.section(kinds[kind], raw, path)
                if item.name in seen:
                    raise self.error((*path, "name"), f"name {item.name!r} is used twice")
                seen[item.name] = path
                items.append(item)
            lists[section] = tuple(items)
        services: tuple[ServiceConfig, ...] = ()
        if entries := self.array(data, "services"):
            from cockpit.config.services import ServiceConfig

            services = tuple(
                self.section(ServiceConfig, raw, ("services", i)) for i, raw in enumerate(entries)
            )
        return Config(
            path=self.path,
            **sections,
            **lists,
            services=services,
            warnings=tuple(self.warnings),
        )

    def array(self, data: dict[str, Any], section: str) -> list[Any]:
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise self.error((section,), f"expected [[{section}]] entries, got {_describe(raw)}")
        return raw


@cache
def _hints(cls: type) -> dict[str, Any]:
    """A section's field types with their rules (`Annotated`), read once per class."""
    return get_type_hints(cls, include_extras=True)


def _choice(value: str | int | bool) -> str:
    return value if isinstance(value, str) else str(value).lower()


def _is_secret(hint: Any) -> bool:
    return hint is Secret or (
        get_origin(hint) in (Union, types.UnionType) and Secret in get_args(hint)
    )


def _describe(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str):
        return f'"{raw}"' if len(raw) < 40 else "a string"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    return repr(raw)


_NOT_FINITE = "not a finite number (nan and inf are not allowed)"
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def _too_deep(text: str) -> int | None:
    """The line where arrays and inline tables nest deeper than MAX_NESTING, or None.

    Checked before parsing: the TOML parser recurses once per level and a few hundred levels
    end in RecursionError. Strings and comments are skipped; the text is known to be short.
    """
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1
                elif len(quote) == 1 and text[j] == "\n":
                    break  # unterminated: the parser says so
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _non_finite(data: dict[str, Any]) -> tuple[str | int, ...] | None:
    """The key path of a nan or inf anywhere in the document, or None (TOML allows both; no
    option means anything by them, and nan compares false with every bound)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return None


def parse(text: str, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    deep = _too_deep(text)
    if deep is not None:
        raise ConfigError(
            path, deep, "", f"arrays or tables nested more than {MAX_NESTING} levels deep"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match and match.group(1) else len(text.splitlines()) or 1
        reason = _TOML_POSITION.sub("", message).strip()
        raise ConfigError(path, line, "", f"TOML syntax error: {reason}") from None
    except RecursionError:  # a nesting the scan above did not see: still a clear message
        raise ConfigError(path, None, "", "arrays or tables nested too deep") from None
    if not data:
        raise ConfigError(path, None, "", EMPTY_HINT)
    loader = Loader(path, text, dict(os.environ) if env is None else env)
    bad = _non_finite(data)
    if bad is not None:
        raise loader.error(bad, _NOT_FINITE)
    return loader.load(data)


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "", "config file not found (try `cockpit init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "", f"cannot read config: {exc}") from None
    return parse(text, path, env)
