"""Planning a revert: which version goes back to which, and exactly what would do it.

One executor per service: a command (an argv template), an HTTP request (URL, JSON body and
header templates) or a releases-symlink switch. Only known placeholders are filled in; each
value lands inside one argv element (or one JSON string, or URL-quoted in the URL) and is never
split or shown to a shell, so a version string such as "1.2; rm -rf /" stays one literal
argument. What is reverted is what was deployed: a version that cannot be passed on as it was
recorded (a newline, a control or invisible character, longer than the plan can show) is
refused with the reason, never altered.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cockpit.config import Secret, ServiceConfig
from cockpit.config.base import not_configured
from cockpit.config.services import PLACEHOLDER_TOKEN, REVERT_PLACEHOLDERS
from cockpit.model import MAX_IDENTITY, Deploy
from cockpit.sources.deploys.releases import CURRENT_LINK, RELEASES_DIR, list_releases
from cockpit.term.textsafe import MARK, Inert, redact_url
from cockpit.timeutil import iso_utc


class RevertError(Exception):
    """The revert cannot be planned; the message says why in plain words."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class VersionRefused(RevertError):
    """A version that cannot be passed on exactly as recorded: no plan is made. The audit log
    keeps the version's exact bytes (`audit`), for whoever looks into the forged record."""

    def __init__(self, service: str, role: str, deploy: Deploy, why: str):
        self.service, self.role, self.deploy, self.why = service, role, deploy, why
        super().__init__(
            f"refusing to revert {service}: the {role} version {_shown(deploy.version)} "
            f"from {deploy.source or 'the deploy log'} {why}; a revert passes versions on "
            "exactly as recorded, never altered, so fix the record first"
        )

    def audit(self) -> dict[str, Any]:
        return {
            "action": "revert",
            "result": "refused",
            "ok": False,
            "service": self.service,
            "reason": self.reason,
            "refused_version": {
                "role": self.role,
                "version": self.deploy.version,  # exact: the audit log is ASCII JSON
                "source": self.deploy.source,
                "at": iso_utc(self.deploy.at),
            },
        }


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The HTTP executor's request, fully substituted. 2xx means done."""

    method: str
    url: str
    body: str | None  # JSON text
    headers: tuple[tuple[str, str], ...] = ()
    token: Secret | None = field(default=None, repr=False)  # sent as a Bearer token

    def describe(self) -> str:
        text = f"{self.method} {redact_url(self.url)}"
        if self.body is not None:
            text += f" {self.body}"
        if self.token is not None:
            text += f" (Bearer token from {self.token.origin})"
        return text

    def audit(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": redact_url(self.url),
            "body": self.body,
            "headers": [list(h) for h in self.headers],
            "token": self.token.origin if self.token is not None else None,
        }


@dataclass(frozen=True, slots=True)
class SymlinkSwitch:
    """The releases executor: point `link` at `target` (relative to the link's folder)."""

    link: Path
    target: str  # "releases/<dir>"

    def describe(self) -> str:
        return f"point {self.link} at {self.target} (atomic symlink swap)"

    def audit(self) -> dict[str, Any]:
        return {"link": str(self.link), "target": self.target}


@dataclass(frozen=True, slots=True)
class RevertPlan:
    service: str
    from_version: str
    to_version: str
    argv: tuple[str, ...]  # fully substituted; empty when another executor does the revert
    preflight: tuple[tuple[str, ...], ...]  # fully substituted; each must exit 0 first
    timeout: float
    dry_run: bool
    request: HttpRequest | None = None
    switch: SymlinkSwitch | None = None

    event_kind = "revert"  # timeline events revert.started / revert.finished

    @property
    def executor(self) -> str:
        """ "command", "http" or "releases"."""
        if self.request is not None:
            return "http"
        if self.switch is not None:
            return "releases"
        return "command"

    def describe(self) -> str:
        """e.g. "revert files-web 2 -> 1"."""
        return f"revert {self.service} {self.from_version} -> {self.to_version}"

    def command_line(self) -> str:
        """What will run, as a person would type or read it; for display only."""
        if self.request is not None:
            return self.request.describe()
        if self.switch is not None:
            return self.switch.describe()
        return shlex.join(self.argv)

    def preflight_lines(self) -> tuple[str, ...]:
        return tuple(shlex.join(argv) for argv in self.preflight)

    def audit(self) -> dict[str, Any]:
        """The plan as the audit log keeps it: no secret values."""
        return {
            "service": self.service,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "executor": self.executor,
            "argv": list(self.argv),
            "request": self.request.audit() if self.request is not None else None,
            "switch": self.switch.audit() if self.switch is not None else None,
            "preflight": [list(argv) for argv in self.preflight],
            "timeout": self.timeout,
            "dry_run": self.dry_run,
        }


def placeholder_values(service: str, current: Deploy, previous: Deploy) -> dict[str, str]:
    values = {"service": service}
    for prefix, deploy in (("current", current), ("previous", previous)):
        values[f"{prefix}.version"] = deploy.version
        values[f"{prefix}.who"] = deploy.who
        values[f"{prefix}.at"] = iso_utc(deploy.at)
        values[f"{prefix}.source"] = deploy.source
    return values


KNOWN_PLACEHOLDERS = REVERT_PLACEHOLDERS


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_VERSION = 100  # what the plan shows in full: longer ones would be confirmed unseen


def unpassable(value: str, limit: int = MAX_VERSION) -> str | None:
    """Why `value` cannot be passed on exactly as recorded, or None when it can."""
    if "\n" in value or "\r" in value:
        return "holds a line break"
    if _CONTROL.search(value):
        return "holds a control character"
    if MARK in value:
        return "holds bytes that are not valid UTF-8"
    if Inert(value) != value:
        return "holds invisible or direction-changing characters"
    if len(value) > limit:
        return f"is {len(value)} characters long, more than the {limit} a plan shows in full"
    return None


def _shown(value: str) -> str:
    """The value with every character visible and escaped (repr), cut for a message."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}…{text[-10:]} ({len(value)} characters)"


def check_versions(service: str, current: Deploy, previous: Deploy) -> None:
    """Refuse, with the reason, versions a revert could not pass on as they were deployed."""
    for role, deploy in (("deployed", current), ("previous", previous)):
        why = unpassable(deploy.version)
        if why is not None:
            raise VersionRefused(service, role, deploy, why)


def substitute(template: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Fill placeholders in each argv element; raises RevertError on an unknown one."""
    argv = tuple(_fill(element, values) for element in template)
    if argv and not argv[0]:
        raise RevertError(f"the command {shlex.join(template)} starts with an empty program name")
    return argv


def substitute_url(template: str, values: Mapping[str, str]) -> str:
    """Fill placeholders in a URL; each value is percent-quoted, so it cannot add a path
    segment, a query parameter or another host."""
    return _fill(template, values, encode=lambda v: quote(v, safe=""), argument=False)


def substitute_json(template: str, values: Mapping[str, str]) -> str:
    """Fill placeholders in every string (keys too) of a JSON document; JSON text out."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _fill(node, values, argument=False)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {walk(key): walk(item) for key, item in node.items()}
        return node

    try:
        document = json.loads(template)
    except ValueError as exc:
        raise RevertError(f"the request body template is not JSON: {exc}") from None
    return json.dumps(walk(document), ensure_ascii=False)


def _fill(
    element: str,
    values: Mapping[str, str],
    *,
    encode: Callable[[str], str] = str,
    argument: bool = True,
) -> str:
    out: list[str] = []
    position = 0
    for match in PLACEHOLDER_TOKEN.finditer(element):
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
        why = unpassable(value, limit=MAX_IDENTITY)
        if why is not None:
            # A newline or an escape in a version is a forged record, not a version.
            raise RevertError(f"{{{name}}} is {_shown(value)}, which {why}")
        if argument and value.startswith("-") and match.start() == 0:
            # A whole argument taken from a deploy log must not turn into an option.
            raise RevertError(f"{{{name}}} is {value!r}, which the command would read as an option")
        out.append(encode(value))
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
    executor = service.executor
    if executor is None:
        raise RevertError(
            f"the [[services]] entry for {service.name!r} has no revert command "
            "(revert, revert_url or releases_root)"
        )
    missing = not_configured(service)
    if executor == "http" and missing:
        raise RevertError(f"the HTTP revert of {service.name!r} is {missing}")
    current, previous = find_target(deploys, service.name)
    check_versions(service.name, current, previous)
    values = placeholder_values(service.name, current, previous)
    plan = RevertPlan(
        service=service.name,
        from_version=current.version,
        to_version=previous.version,
        argv=(),
        preflight=tuple(substitute(argv, values) for argv in service.preflight),
        timeout=service.revert_timeout,
        dry_run=service.dry_run,
    )
    if executor == "http":
        return replace(plan, request=_request(service, values))
    if executor == "releases":
        assert service.releases_root is not None
        return replace(plan, switch=plan_switch(service.releases_root, previous.version))
    return replace(plan, argv=substitute(service.revert, values))


def _request(service: ServiceConfig, values: Mapping[str, str]) -> HttpRequest:
    assert service.revert_url is not None
    return HttpRequest(
        method=service.revert_method.upper(),
        url=substitute_url(service.revert_url, values),
        body=(
            substitute_json(service.revert_body, values)
            if service.revert_body is not None
            else None
        ),
        headers=tuple(
            (name, _fill(value, values, argument=False))
            for name, value in service.revert_headers.items()
        ),
        token=service.revert_token,
    )


def plan_switch(root: Path, version: str) -> SymlinkSwitch:
    """The release directory holding `version`: releases/<version>, else the newest release
    whose VERSION file names it. Raises RevertError when there is none."""
    if unpassable(version) or "/" in version or version in ("", ".", ".."):
        raise RevertError(f"{_shown(version)} cannot be a release directory name")
    releases = root / RELEASES_DIR
    if (releases / version).is_dir() and not (releases / version).is_symlink():
        return SymlinkSwitch(root / CURRENT_LINK, f"{RELEASES_DIR}/{version}")
    try:
        found = [r for r in list_releases(root) if r.version == version]
    except OSError as exc:
        raise RevertError(f"cannot read {releases}: {exc.strerror or exc}") from None
    if not found:
        raise RevertError(f"no release {version!r} under {releases}")
    return SymlinkSwitch(root / CURRENT_LINK, f"{RELEASES_DIR}/{found[-1].path.name}")
