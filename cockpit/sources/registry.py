"""Config section -> Source. Each config class names its source as `source = "module:Class"`;
the module is imported only when a source of that kind is built, so starting the cockpit (or
failing on a config error) does not pay for httpx, asyncssh and the like."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from cockpit.config.base import not_configured
from cockpit.model import Category, Reading
from cockpit.sources.base import Source, SourceError
from cockpit.term.textsafe import one_line, redact_url

if TYPE_CHECKING:
    from cockpit.config.loader import SourceConfig


class NotConfigured:
    """Stands for a source whose secret is not set in this environment (a second engineer's
    shell, a cron job): it is never polled, and shows "not configured: SENTRY_TOKEN is not
    set" where its readings would be."""

    def __init__(self, cfg: SourceConfig, reason: str):
        self.name = cfg.name
        self.kind = str(getattr(type(cfg), "kind", "source"))
        self.category = category_of(cfg)
        self.interval = float(getattr(cfg, "interval", 10.0))
        self.timeout = float(getattr(cfg, "timeout", 5.0))
        self.not_configured = reason
        self._target = _where(cfg)

    @property
    def target(self) -> str:
        return self._target

    async def poll(self) -> Reading:
        raise SourceError(self.not_configured)

    async def aclose(self) -> None:
        pass


class Unavailable(NotConfigured):
    """Stands for a source that could not be built ("cannot start: ..."): polled like any
    source, each poll fails with that reason, so it shows as stale while the others run."""

    def __init__(self, cfg: SourceConfig, reason: str):
        super().__init__(cfg, reason)
        self.not_configured = ""
        self.reason = reason

    async def poll(self) -> Reading:
        raise SourceError(self.reason)


def _where(cfg: SourceConfig) -> str:
    """What a source that was not built would watch, as its target would say it."""
    for key in ("url", "base_url", "urls", "path", "repo", "root", "command"):
        value = getattr(cfg, key, None)
        if isinstance(value, tuple):
            value = value[0] if value else None
        if value:
            return redact_url(str(value))
    host = getattr(cfg, "host", "")
    return f"{host}:{getattr(cfg, 'port', '')}" if host else ""


def build_sources(configs: Sequence[SourceConfig]) -> list[Source]:
    """Every configured source; one that cannot even be built stands in as `Unavailable`."""
    out: list[Source] = []
    for cfg in configs:
        try:
            out.append(build_source(cfg))
        except Exception as exc:
            out.append(
                Unavailable(cfg, f"cannot start: {one_line(str(exc), 160) or type(exc).__name__}")
            )
    return out


def category_of(cfg: SourceConfig) -> Category:
    from cockpit.config.alerts import ALERT_KINDS
    from cockpit.config.changes import CHANGE_KINDS
    from cockpit.config.deploys import DEPLOY_KINDS
    from cockpit.config.errors import ERROR_KINDS
    from cockpit.config.probes import PROBE_KINDS

    kind = type(cfg)
    if kind in PROBE_KINDS.values():
        return Category.PROBE
    if kind in DEPLOY_KINDS.values() or kind in CHANGE_KINDS.values():
        return Category.DEPLOYS
    if kind in ERROR_KINDS.values():
        return Category.ERRORS
    if kind in ALERT_KINDS.values():
        return Category.ALERTS
    return Category.SENTRY


def source_class(cfg_type: type) -> tuple[str, str]:
    spec = getattr(cfg_type, "source", None)
    if not isinstance(spec, str) or ":" not in spec:
        raise TypeError(f"no source for {cfg_type.__name__}")
    module_name, _, class_name = spec.partition(":")
    return module_name, class_name


def build_source(cfg: SourceConfig) -> Source:
    """The source a config section names; a `NotConfigured` stand-in when a secret it needs
    is not set here (the rest of the cockpit runs, its panel says what is missing)."""
    reason = not_configured(cfg)
    if reason:
        return NotConfigured(cfg, reason)
    module_name, class_name = source_class(type(cfg))
    cls = getattr(importlib.import_module(module_name), class_name)
    return cast(Source, cls(cfg))
