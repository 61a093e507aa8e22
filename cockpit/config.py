"""TOML -> typed config. Every error names the file, the line and the key.

Sections are declared as dataclasses; their fields and annotations are the schema, so adding an
option is adding a field. Secrets are never read from the config text: a section names an
environment variable (`token_env`) or a file (`token_file`) and the value is resolved here.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

APP_NAME = "oncall-cockpit"


class ConfigError(Exception):
    """A problem in a config file, pinned to file, line and key."""

    def __init__(self, path: Path | str | None, line: int | None, key: str, message: str):
        self.path = str(path) if path is not None else "<config>"
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str):
        self._value = value
        self.origin = origin  # "env:NAME" or "file:PATH": safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# ---------------------------------------------------------------------------------------------
# Sections. A field without a default is required. `kind` selects the dataclass in lists.


@dataclass(frozen=True)
class CockpitSection:
    service: str = "service"
    environment: str = "production"
    ascii: bool = False
    drill: bool = False


@dataclass(frozen=True)
class KeysSection:
    """Action -> key. Remapping a key here changes the footer and help too."""

    declare: str = "d"
    revert: str = "R"
    export: str = "x"
    note: str = "n"
    help: str = "question_mark"
    quit: str = "q"


@dataclass(frozen=True)
class ProbeBase:
    name: str
    interval: float = 10.0
    timeout: float = 5.0
    concurrency: int = 1
    failure_threshold: int = 2
    success_threshold: int = 1


@dataclass(frozen=True)
class HttpProbeConfig(ProbeBase):
    kind: ClassVar[str] = "http"
    url: str = ""
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    body_contains: str | None = None
    verify_tls: bool = True
    max_body_bytes: int = 1_048_576


@dataclass(frozen=True)
class JsonlDeployLogConfig:
    kind: ClassVar[str] = "jsonl"
    name: str
    path: Path
    interval: float = 5.0
    timeout: float = 5.0
    max_deploys: int = 50


@dataclass(frozen=True)
class AccessLogConfig:
    kind: ClassVar[str] = "nginx_combined"
    name: str
    path: Path
    interval: float = 2.0
    timeout: float = 5.0
    bucket_seconds: int = 10
    window: int = 1800  # seconds kept and shown
    read_back: int = 0  # seconds of existing log to read at start; 0 = start at the end


@dataclass(frozen=True)
class SentryConfig:
    kind: ClassVar[str] = "sentry"
    name: str
    base_url: str
    org: str
    token: Secret
    project: tuple[str, ...] = ()
    environment: str | None = None
    query: str = "is:unresolved"
    stats_period: str = "24h"
    sort: str = "date"
    limit: int = 25
    max_pages: int = 5
    interval: float = 30.0
    timeout: float = 10.0


@dataclass(frozen=True)
class ServiceConfig:
    """How to act on a service: the revert command and the checks that must pass before it."""

    name: str
    revert: tuple[str, ...] = ()
    revert_timeout: float = 120.0
    preflight: tuple[tuple[str, ...], ...] = ()
    dry_run: bool = False


ProbeConfig = HttpProbeConfig
DeploySourceConfig = JsonlDeployLogConfig
ErrorSourceConfig = AccessLogConfig
SourceConfig = HttpProbeConfig | JsonlDeployLogConfig | AccessLogConfig | SentryConfig

PROBE_KINDS: dict[str, type] = {"http": HttpProbeConfig}
DEPLOY_KINDS: dict[str, type] = {"jsonl": JsonlDeployLogConfig}
ERROR_KINDS: dict[str, type] = {"nginx_combined": AccessLogConfig}
SENTRY_KINDS: dict[str, type] = {"sentry": SentryConfig}

# Top-level list sections: name -> (kinds, default kind)
_LISTS: dict[str, tuple[dict[str, type], str | None]] = {
    "probes": (PROBE_KINDS, None),
    "deploys": (DEPLOY_KINDS, "jsonl"),
    "errors": (ERROR_KINDS, "nginx_combined"),
    "sentry": (SENTRY_KINDS, "sentry"),
}


@dataclass(frozen=True)
class Config:
    path: Path | None
    cockpit: CockpitSection = field(default_factory=CockpitSection)
    keys: KeysSection = field(default_factory=KeysSection)
    probes: tuple[HttpProbeConfig, ...] = ()
    deploys: tuple[JsonlDeployLogConfig, ...] = ()
    errors: tuple[AccessLogConfig, ...] = ()
    sentry: tuple[SentryConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()

    def sources(self) -> tuple[SourceConfig, ...]:
        return (*self.probes, *self.deploys, *self.errors, *self.sentry)

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


class _Loader:
    def __init__(self, path: Path | None, text: str, env: dict[str, str]):
        self.path = path
        self.where = _Locator(text)
        self.env = env
        self.base = path.parent if path else Path.cwd()

    def error(self, key_path: tuple[str | int, ...], message: str) -> ConfigError:
        return ConfigError(self.path, self.where.line(key_path), _dotted(key_path), message)

    def section(self, cls: type, raw: Any, path: tuple[str | int, ...]) -> Any:
        if not isinstance(raw, dict):
            raise self.error(path, f"expected a table, got {_describe(raw)}")
        raw = dict(raw)
        raw.pop("kind", None)
        if "token" in raw or "webhook_url" in raw:
            bad = "token" if "token" in raw else "webhook_url"
            raise self.error(
                (*path, bad),
                "secrets are not written in the config; "
                "name an environment variable (token_env) or a file (token_file)",
            )
        hints = get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        if "token" in known:
            values["token"] = self.secret(raw, path)
        for key in raw:
            if key not in known or key == "token":
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((*path, key), f"unknown key{hint}")
        for name, spec in known.items():
            if name == "token":
                continue
            if name in raw:
                values[name] = self.value(hints[name], raw[name], (*path, name))
            elif spec.default is MISSING and spec.default_factory is MISSING:
                raise self.error((*path, name), "missing required key")
        try:
            obj = cls(**values)
        except (TypeError, ValueError) as exc:
            raise self.error(path, str(exc)) from None
        self.check(obj, path)
        return obj

    def secret(self, raw: dict[str, Any], path: tuple[str | int, ...]) -> Secret:
        env_name = raw.pop("token_env", None)
        file_name = raw.pop("token_file", None)
        if env_name is not None:
            if not isinstance(env_name, str) or not env_name:
                raise self.error((*path, "token_env"), "expected the name of a variable")
            value = self.env.get(env_name)
            if not value:
                raise self.error(
                    (*path, "token_env"), f"environment variable {env_name} is not set"
                )
            return Secret(value.strip(), f"env:{env_name}")
        if file_name is not None:
            if not isinstance(file_name, str) or not file_name:
                raise self.error((*path, "token_file"), "expected a file path")
            token_path = self.base / Path(file_name).expanduser()
            try:
                value = token_path.read_text().strip()
            except OSError as exc:
                reason = f"cannot read {token_path}: {exc.strerror}"
                raise self.error((*path, "token_file"), reason) from None
            if not value:
                raise self.error((*path, "token_file"), f"{token_path} is empty")
            return Secret(value, f"file:{token_path}")
        raise self.error(path, "missing token_env or token_file")

    def value(self, hint: Any, raw: Any, path: tuple[str | int, ...]) -> Any:
        origin = get_origin(hint)
        args = get_args(hint)
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
            return {k: self.value(args[1], v, (*path, k)) for k, v in raw.items()}
        raise self.error(path, f"unsupported option type {hint!r}")  # a schema bug, not user's

    def check(self, obj: Any, path: tuple[str | int, ...]) -> None:
        """Range checks that the types alone do not express."""
        for name in ("interval", "timeout", "revert_timeout"):
            if hasattr(obj, name) and getattr(obj, name) <= 0:
                raise self.error((*path, name), "must be greater than 0")
        for name in (
            "concurrency",
            "failure_threshold",
            "success_threshold",
            "bucket_seconds",
            "window",
            "limit",
            "max_pages",
        ):
            if hasattr(obj, name) and getattr(obj, name) < 1:
                raise self.error((*path, name), "must be at least 1")
        if hasattr(obj, "read_back") and obj.read_back < 0:
            raise self.error((*path, "read_back"), "must be 0 or more")
        if isinstance(obj, HttpProbeConfig):
            if not obj.url.startswith(("http://", "https://")):
                raise self.error((*path, "url"), "expected an http:// or https:// URL")
            if obj.concurrency > 64:
                raise self.error((*path, "concurrency"), "at most 64 sessions")
        if isinstance(obj, SentryConfig) and not obj.base_url.startswith(("http://", "https://")):
            raise self.error((*path, "base_url"), "expected an http:// or https:// URL")
        if isinstance(obj, ServiceConfig):
            if obj.revert and not all(obj.revert):
                raise self.error((*path, "revert"), "empty argument in the command")
            for i, argv in enumerate(obj.preflight):
                if not argv:
                    raise self.error((*path, "preflight", i), "empty command")

    def load(self, data: dict[str, Any]) -> Config:
        known = {"cockpit", "keys", "services", *_LISTS}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((key,), f"unknown section{hint}")
        cockpit = self.section(CockpitSection, data.get("cockpit", {}), ("cockpit",))
        keys = self.section(KeysSection, data.get("keys", {}), ("keys",))
        lists: dict[str, tuple[Any, ...]] = {}
        names: dict[str, tuple[str | int, ...]] = {}
        for section, (kinds, default_kind) in _LISTS.items():
            items = []
            for i, raw in enumerate(self.array(data, section)):
                path: tuple[str | int, ...] = (section, i)
                kind = raw.get("kind", default_kind) if isinstance(raw, dict) else default_kind
                if kind not in kinds:
                    choices = ", ".join(sorted(kinds))
                    what = "missing" if kind is None else f"unknown kind {kind!r}"
                    raise self.error((*path, "kind"), f"{what}; one of: {choices}")
                item = self.section(kinds[kind], raw, path)
                if item.name in names:
                    raise self.error((*path, "name"), f"name {item.name!r} is used twice")
                names[item.name] = path
                items.append(item)
            lists[section] = tuple(items)
        services = tuple(
            self.section(ServiceConfig, raw, ("services", i))
            for i, raw in enumerate(self.array(data, "services"))
        )
        bound: dict[str, str] = {}
        for action, key in vars(keys).items():
            if key in bound:
                raise self.error(("keys", action), f"key {key!r} is already bound to {bound[key]}")
            bound[key] = action
        return Config(
            path=self.path,
            cockpit=cockpit,
            keys=keys,
            probes=lists["probes"],
            deploys=lists["deploys"],
            errors=lists["errors"],
            sentry=lists["sentry"],
            services=services,
        )

    def array(self, data: dict[str, Any], section: str) -> list[Any]:
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise self.error((section,), f"expected [[{section}]] entries, got {_describe(raw)}")
        return raw


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


_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def parse(text: str, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match and match.group(1) else len(text.splitlines()) or 1
        reason = _TOML_POSITION.sub("", message).strip()
        raise ConfigError(path, line, "", f"TOML syntax error: {reason}") from None
    return _Loader(path, text, dict(os.environ) if env is None else env).load(data)


def load(path: Path, env: dict[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "", "config file not found (try `cockpit init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, "", f"cannot read config: {exc}") from None
    return parse(text, path, env)


def default_path(env: dict[str, str] | None = None) -> Path:
    """--config is handled by the caller; then COCKPIT_CONFIG, then the user config dir."""
    env = dict(os.environ) if env is None else env
    if env.get("COCKPIT_CONFIG"):
        return Path(env["COCKPIT_CONFIG"]).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "config.toml"


def data_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("COCKPIT_DATA_DIR"):
        path = Path(env["COCKPIT_DATA_DIR"]).expanduser()
    else:
        from platformdirs import user_data_path

        path = user_data_path(APP_NAME)
    path.mkdir(parents=True, exist_ok=True)
    return path
