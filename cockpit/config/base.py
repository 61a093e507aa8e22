"""What every config module shares: the error type, secrets, and per-section checks."""

from __future__ import annotations

from cockpit.term.textsafe import Inert, register_secret

APP_NAME = "oncall-cockpit"


class ConfigError(Exception):
    """A problem in a config file, pinned to file, line and key."""

    def __init__(self, path: object, line: int | None, key: str, message: str):
        self.path = str(path) if path is not None else "<config>"
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        # Inert: the message may quote what the file holds, and it is printed to a terminal.
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return Inert(text)


class ConfigWarning(ConfigError):
    """Something a config names that is missing here (a secret not set), pinned like an
    error; `config check` reports it and goes on, `config check --strict` fails on it."""


class FieldError(Exception):
    """Raised by a section's `check()`; the loader adds file, line and the section's path.

    `key` is relative to the section: "url", or ("conditions", 1) for an array item.
    """

    def __init__(self, key: str | tuple[str | int, ...], message: str):
        self.key: tuple[str | int, ...] = (key,) if isinstance(key, str) else key
        self.message = message
        super().__init__(message)


class SecretNotSet(Exception):
    """A secret the config names is not there in this environment ("SENTRY_TOKEN is not set").

    Not a config error: the config is right, this shell (a second engineer's, a cron job's)
    lacks the secret. Only what needs it is disabled, with this as the reason."""


class Secret:
    """A secret value that does not print itself.

    A section field annotated `Secret` (or `Secret | None`) named `x` is read from
    `x_env = "VAR"` or `x_file = "path"`; writing `x = ...` in the config is an error.
    Making one registers its value with the sanitiser: from then on it is redacted from every
    text from outside (a server that echoes a password back, an error that quotes a URL). When
    the variable is not set or the file cannot be read, the Secret is *unset*: `unset` says
    why, and `reveal()` raises SecretNotSet.
    """

    __slots__ = ("_value", "origin", "unset")

    def __init__(self, value: str, origin: str, unset: str = ""):
        self._value = value
        self.origin = origin  # "env:NAME" or "file:PATH": safe to show
        self.unset = unset  # why there is no value ("SENTRY_TOKEN is not set"), or ""
        if not unset:
            register_secret(value)

    @classmethod
    def not_set(cls, origin: str, why: str) -> Secret:
        return cls("", origin, why)

    @property
    def is_set(self) -> bool:
        return not self.unset

    def reveal(self) -> str:
        if self.unset:
            raise SecretNotSet(self.unset)
        return self._value

    def __reduce__(self) -> tuple[type[Secret], tuple[str, str, str]]:
        # Made again through __init__ when unpickled (a revert's supervisor gets its plan so):
        # the process that receives a secret redacts it too.
        return (Secret, (self._value, self.origin, self.unset))

    def __repr__(self) -> str:
        return f"Secret({self.origin}{', unset' if self.unset else ''})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Secret) and other._value == self._value and other.unset == self.unset
        )

    def __hash__(self) -> int:
        return hash((self._value, self.unset))


def unset_secrets(section: object) -> list[str]:
    """Why each secret a config section needs is missing here, in field order."""
    import dataclasses

    if not dataclasses.is_dataclass(section):
        return []
    return [
        value.unset
        for field in dataclasses.fields(section)
        if isinstance(value := getattr(section, field.name), Secret) and value.unset
    ]


def not_configured(section: object) -> str:
    """ "not configured: SENTRY_TOKEN is not set" for a section lacking a secret, else ""."""
    missing = unset_secrets(section)
    return f"not configured: {'; '.join(missing)}" if missing else ""
