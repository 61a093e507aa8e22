"""What every config module shares: the error type, secrets, and per-section checks."""

from __future__ import annotations

from cockpit.textsafe import Inert, register_secret

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


class FieldError(Exception):
    """Raised by a section's `check()`; the loader adds file, line and the section's path.

    `key` is relative to the section: "url", or ("conditions", 1) for an array item.
    """

    def __init__(self, key: str | tuple[str | int, ...], message: str):
        self.key: tuple[str | int, ...] = (key,) if isinstance(key, str) else key
        self.message = message
        super().__init__(message)


class Secret:
    """A secret value that does not print itself.

    A section field annotated `Secret` (or `Secret | None`) named `x` is read from
    `x_env = "VAR"` or `x_file = "path"`; writing `x = ...` in the config is an error.
    Making one registers its value with the sanitiser: from then on it is redacted from every
    text from outside (a server that echoes a password back, an error that quotes a URL).
    """

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str):
        self._value = value
        self.origin = origin  # "env:NAME" or "file:PATH": safe to show
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
