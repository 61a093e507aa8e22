"""[[services]]: how to act on a service (revert, runbook actions, the checks that must pass first).

A revert is done by exactly one executor, chosen by which key is set:
    revert = ["deployctl", "rollback", "--to", "{previous.version}"]   a command (argv, no shell)
    revert_url = "https://deploy.example/api/{service}/rollback"       an HTTP request
    releases_root = "/srv/files-web"                                   switch <root>/current
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.config.base import FieldError, Secret

EXECUTOR_KEYS = ("revert", "revert_url", "releases_root")
HTTP_METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")
_ACTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# RFC 9110 token characters: anything else cannot be a header name.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    revert: tuple[str, ...] = ()
    revert_timeout: float = 120.0
    preflight: tuple[tuple[str, ...], ...] = ()
    dry_run: bool = False
    # The HTTP executor: placeholders are filled in the URL (each value URL-quoted), in every
    # string of the JSON body template and in header values.
    revert_url: str | None = None
    revert_method: str = "POST"
    revert_body: str | None = None  # a JSON document, e.g. '{"version": "{previous.version}"}'
    revert_headers: dict[str, str] = field(default_factory=dict)
    revert_token: Secret | None = None  # sent as "Authorization: Bearer ..."
    # The releases executor: point <releases_root>/current at releases/<previous version>.
    releases_root: Path | None = None
    # Named runbook actions, e.g. failover = ["deployctl", "--root", "/x", "failover"].
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    action_timeout: float = 120.0
    # Checks before any action; `preflight` is the revert's (it may name {previous.version}).
    action_preflight: tuple[tuple[str, ...], ...] = ()

    @property
    def executor(self) -> str | None:
        """ "command", "http", "releases", or None when the service cannot be reverted."""
        if self.revert:
            return "command"
        if self.revert_url is not None:
            return "http"
        if self.releases_root is not None:
            return "releases"
        return None

    def check(self) -> None:
        chosen = [key for key in EXECUTOR_KEYS if getattr(self, key) not in ((), None)]
        if len(chosen) > 1:
            raise FieldError(
                chosen[1],
                f"choose one way to revert; this entry sets both {chosen[0]} and {chosen[1]}",
            )
        if not chosen and not self.actions:
            raise FieldError(
                "name",
                "nothing to do for this service: set revert (a command), revert_url (an HTTP "
                "request) or releases_root (switch the current symlink), or add actions",
            )
        if self.revert and not all(self.revert):
            raise FieldError("revert", "empty argument in the command")
        for i, argv in enumerate(self.preflight):
            if not argv or not all(argv):
                raise FieldError(("preflight", i), "empty command or empty argument")
        self._check_http()
        if self.action_timeout <= 0:
            raise FieldError("action_timeout", "must be greater than 0")
        for i, argv in enumerate(self.action_preflight):
            if not argv or not all(argv):
                raise FieldError(("action_preflight", i), "empty command or empty argument")
        for action, argv in self.actions.items():
            if not _ACTION_NAME.match(action):
                raise FieldError(("actions", action), "a name of letters, digits, '.', '_', '-'")
            if not argv or not all(argv):
                raise FieldError(("actions", action), "expected a program and its arguments")

    def _check_http(self) -> None:
        if self.revert_url is None:
            for key in ("revert_body", "revert_token"):
                if getattr(self, key) is not None:
                    raise FieldError(key, "only used with revert_url")
            if self.revert_headers:
                raise FieldError("revert_headers", "only used with revert_url")
            return
        if not self.revert_url.startswith(("http://", "https://")):
            raise FieldError("revert_url", "expected an http:// or https:// URL")
        if self.revert_method.upper() not in HTTP_METHODS:
            raise FieldError("revert_method", f"expected one of: {', '.join(HTTP_METHODS)}")
        if self.revert_body is not None:
            try:
                json.loads(self.revert_body)
            except ValueError as exc:
                raise FieldError("revert_body", f"not a JSON document: {exc}") from None
        for name in self.revert_headers:
            if not _HEADER_NAME.match(name):
                raise FieldError(("revert_headers", name), "not a valid header name")
            if name.lower() in ("authorization", "cookie"):
                # Credentials are not written in the config: revert_token_env / _file.
                raise FieldError(
                    ("revert_headers", name),
                    "credentials go in revert_token_env or revert_token_file",
                )
