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
from typing import Annotated

from cockpit.config.base import FieldError, Secret
from cockpit.config.schema import Argv, HeaderName, Name, Rule, Seconds, Text, Url

EXECUTOR_KEYS = ("revert", "revert_url", "releases_root")
HTTP_METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")
HttpMethod = Annotated[
    str,
    Rule(pattern=f"(?i)({'|'.join(HTTP_METHODS)})", expected=f"one of: {', '.join(HTTP_METHODS)}"),
]
ActionName = Annotated[
    str,
    Rule(
        pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
        expected="a name of letters, digits, '.', '_', '-'",
    ),
]

# Templates: {{ and }} are literal braces; {name} a placeholder; anything else with a brace is an
# error. Checked here, when the config is read, so a typo is found by `cockpit config check`,
# not when R is pressed in the middle of an incident.
PLACEHOLDER_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_DEPLOY_FIELDS = ("version", "who", "at", "source")
REVERT_PLACEHOLDERS = (
    "service",
    *(f"{p}.{f}" for p in ("current", "previous") for f in _DEPLOY_FIELDS),
)
ACTION_PLACEHOLDERS = ("service", *(f"current.{f}" for f in _DEPLOY_FIELDS))


def template_problem(template: str, known: tuple[str, ...]) -> str | None:
    """What is wrong with the placeholders of one template string, or None."""
    for match in PLACEHOLDER_TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None:
            return f"unbalanced {token!r} in {template!r}; write {{{{ or }}}} for a literal brace"
        if name.strip() not in known:
            names = ", ".join("{" + k + "}" for k in known)
            return f"unknown placeholder {{{name.strip()}}} in {template!r}; known: {names}"
    return None


def _json_strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _json_strings(item)]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_json_strings(k), *_json_strings(v))]
    return []


@dataclass(frozen=True)
class ServiceConfig:
    name: Name
    revert: tuple[Text, ...] = ()  # a program and its arguments; none: another executor
    revert_timeout: Seconds = 120.0
    preflight: tuple[Argv, ...] = ()
    dry_run: bool = False
    # The HTTP executor: placeholders are filled in the URL (each value URL-quoted), in every
    # string of the JSON body template and in header values.
    revert_url: Url | None = None
    revert_method: HttpMethod = "POST"  # one of HTTP_METHODS, in any case
    revert_body: str | None = None  # a JSON document, e.g. '{"version": "{previous.version}"}'
    revert_headers: dict[HeaderName, str] = field(default_factory=dict)
    revert_token: Secret | None = None  # sent as "Authorization: Bearer ..."
    # The releases executor: point <releases_root>/current at releases/<previous version>.
    releases_root: Path | None = None
    # Named runbook actions, e.g. failover = ["deployctl", "--root", "/x", "failover"].
    actions: dict[ActionName, Argv] = field(default_factory=dict)
    action_timeout: Seconds = 120.0
    # Checks before any action; `preflight` is the revert's (it may name {previous.version}).
    action_preflight: tuple[Argv, ...] = ()

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
        self._check_http()
        self._check_templates()

    def _check_templates(self) -> None:
        checks: list[tuple[str | tuple[str | int, ...], str, tuple[str, ...]]] = [
            ("revert", arg, REVERT_PLACEHOLDERS) for arg in self.revert
        ]
        for i, argv in enumerate(self.preflight):
            checks += [(("preflight", i), arg, REVERT_PLACEHOLDERS) for arg in argv]
        if self.revert_url is not None:
            checks.append(("revert_url", self.revert_url, REVERT_PLACEHOLDERS))
        if self.revert_body is not None:
            body = json.loads(self.revert_body)  # checked to be JSON before
            checks += [("revert_body", s, REVERT_PLACEHOLDERS) for s in _json_strings(body)]
        for name, value in self.revert_headers.items():
            checks.append((("revert_headers", name), value, REVERT_PLACEHOLDERS))
        for action, argv in self.actions.items():
            checks += [(("actions", action), arg, ACTION_PLACEHOLDERS) for arg in argv]
        for i, argv in enumerate(self.action_preflight):
            checks += [(("action_preflight", i), arg, ACTION_PLACEHOLDERS) for arg in argv]
        for key, template, known in checks:
            problem = template_problem(template, known)
            if problem:
                raise FieldError(key, problem)

    def _check_http(self) -> None:
        if self.revert_url is None:
            for key in ("revert_body", "revert_token"):
                if getattr(self, key) is not None:
                    raise FieldError(key, "only used with revert_url")
            if self.revert_headers:
                raise FieldError("revert_headers", "only used with revert_url")
            return
        if self.revert_body is not None:
            try:
                json.loads(self.revert_body)
            except ValueError as exc:
                raise FieldError("revert_body", f"not a JSON document: {exc}") from None
        for name in self.revert_headers:
            if name.lower() in ("authorization", "cookie"):
                # Credentials are not written in the config: revert_token_env / _file.
                raise FieldError(
                    ("revert_headers", name),
                    "credentials go in revert_token_env or revert_token_file",
                )
