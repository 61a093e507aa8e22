"""Planning a revert: which version goes back to which, and the exact commands that would do it.

Commands are argv templates from the config. Only known placeholders are filled in, each value
lands inside one argv element and is never split or shown to a shell, so a version string such
as "1.2; rm -rf /" stays one literal argument.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.config import ServiceConfig
from cockpit.model import Deploy
from cockpit.timeutil import iso_utc


class RevertError(Exception):
    """The revert cannot be planned; the message says why in plain words."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RevertPlan:
    service: str
    from_version: str
    to_version: str
    argv: tuple[str, ...]  # fully substituted
    preflight: tuple[tuple[str, ...], ...]  # fully substituted; each must exit 0 first
    timeout: float
    dry_run: bool

    def describe(self) -> str:
        """e.g. "revert files-web 2 -> 1"."""
        return f"revert {self.service} {self.from_version} -> {self.to_version}"

    def command_line(self) -> str:
        """The command as a person would type it, quoted; for display only."""
        return shlex.join(self.argv)

    def preflight_lines(self) -> tuple[str, ...]:
        return tuple(shlex.join(argv) for argv in self.preflight)


# {{ and }} are literal braces; {name} a placeholder; anything else with a brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def placeholder_values(service: str, current: Deploy, previous: Deploy) -> dict[str, str]:
    values = {"service": service}
    for prefix, deploy in (("current", current), ("previous", previous)):
        values[f"{prefix}.version"] = deploy.version
        values[f"{prefix}.who"] = deploy.who
        values[f"{prefix}.at"] = iso_utc(deploy.at)
        values[f"{prefix}.source"] = deploy.source
    return values


KNOWN_PLACEHOLDERS = (
    "service",
    *(f"{p}.{f}" for p in ("current", "previous") for f in ("version", "who", "at", "source")),
)


def substitute(template: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Fill placeholders in each argv element; raises RevertError on an unknown one."""
    argv = tuple(_fill(element, values) for element in template)
    if argv and not argv[0]:
        raise RevertError(f"the command {shlex.join(template)} starts with an empty program name")
    return argv


def _fill(element: str, values: Mapping[str, str]) -> str:
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(element):
        out.append(element[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            out.append(token[0])
            continue
        name = match.group(1)
        if name is None:
            raise RevertError(
                f"unbalanced {token!r} in command argument {element!r}; "
                "write {{ or }} for a literal brace"
            )
        name = name.strip()
        if name not in values:
            known = ", ".join("{" + k + "}" for k in sorted(values))
            raise RevertError(
                f"unknown placeholder {{{name}}} in command argument {element!r}; known: {known}"
            )
        value = values[name]
        if "\x00" in value:
            raise RevertError(f"{{{name}}} contains a NUL character, which no argument can hold")
        if value.startswith("-") and match.start() == 0:
            # A whole argument taken from a deploy log must not turn into an option.
            raise RevertError(f"{{{name}}} is {value!r}, which the command would read as an option")
        out.append(value)
    out.append(element[position:])
    return "".join(out)


def _newest_first(deploys: Sequence[Deploy], service: str) -> list[Deploy]:
    # Merged from several sources, the list may be out of order; sorted() keeps ties stable.
    return sorted((d for d in deploys if d.service == service), key=lambda d: d.at, reverse=True)


def find_target(deploys: Sequence[Deploy], service: str) -> tuple[Deploy, Deploy]:
    """(current, previous) for `service`: previous is the latest earlier good version."""
    own = _newest_first(deploys, service)
    if not own:
        raise RevertError(f"no deploy of {service} is known, so there is nothing to revert")
    current = own[0]
    bad = {d.reverts for d in own if d.reverts}
    for deploy in own[1:]:
        if deploy.version != current.version and deploy.version not in bad:
            return current, deploy
    raise RevertError(
        f"{service} {current.version} has no earlier version to go back to "
        "(none known, or all of them were themselves reverted)"
    )


def plan_revert(service: ServiceConfig | None, deploys: Sequence[Deploy]) -> RevertPlan:
    """Plan reverting the newest deploy of `service`; deploys are newest first.

    `service` is the config's [[services]] entry, or None when there is none (the message then
    names the service of the newest deploy).
    """
    if service is None:
        name = deploys[0].service if deploys else "this service"
        raise RevertError(
            f"no [[services]] entry for {name!r} in the config, so the cockpit does not know "
            "how to revert it"
        )
    if not service.revert:
        raise RevertError(f"the [[services]] entry for {service.name!r} has no revert command")
    current, previous = find_target(deploys, service.name)
    values = placeholder_values(service.name, current, previous)
    return RevertPlan(
        service=service.name,
        from_version=current.version,
        to_version=previous.version,
        argv=substitute(service.revert, values),
        preflight=tuple(substitute(argv, values) for argv in service.preflight),
        timeout=service.revert_timeout,
        dry_run=service.dry_run,
    )
