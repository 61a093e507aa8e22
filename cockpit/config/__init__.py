"""The cockpit's configuration: typed sections loaded from TOML (see `loader`).

The names below load with their submodule on first use: the screen's first frame needs only
`KeysSection`, while the loader pulls in every source kind's schema (about 100 dataclasses).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.config.alerts import ALERT_KINDS, AlertmanagerConfig
    from cockpit.config.base import APP_NAME, ConfigError, FieldError, Secret
    from cockpit.config.deploys import DEPLOY_KINDS, DeploySourceConfig, JsonlDeployLogConfig
    from cockpit.config.errors import ERROR_KINDS, AccessLogConfig, ErrorSourceConfig
    from cockpit.config.loader import Config, load, parse
    from cockpit.config.notify import NOTIFY_KINDS, NotifyConfig
    from cockpit.config.paths import data_dir, default_path
    from cockpit.config.probes import PROBE_KINDS, HttpProbeConfig, ProbeBase, ProbeConfig
    from cockpit.config.sections import CockpitSection, DetectSettings, KeysSection
    from cockpit.config.sentry import SENTRY_KINDS, SentryConfig
    from cockpit.config.services import ServiceConfig

_HOMES = {
    "alerts": ("ALERT_KINDS", "AlertmanagerConfig"),
    "base": ("APP_NAME", "ConfigError", "FieldError", "Secret"),
    "deploys": ("DEPLOY_KINDS", "DeploySourceConfig", "JsonlDeployLogConfig"),
    "errors": ("ERROR_KINDS", "AccessLogConfig", "ErrorSourceConfig"),
    "loader": ("Config", "load", "parse"),
    "paths": ("data_dir", "default_path"),
    "notify": ("NOTIFY_KINDS", "NotifyConfig"),
    "probes": ("PROBE_KINDS", "HttpProbeConfig", "ProbeBase", "ProbeConfig"),
    "sections": ("CockpitSection", "DetectSettings", "KeysSection"),
    "sentry": ("SENTRY_KINDS", "SentryConfig"),
    "services": ("ServiceConfig",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ALERT_KINDS",
    "APP_NAME",
    "DEPLOY_KINDS",
    "ERROR_KINDS",
    "NOTIFY_KINDS",
    "PROBE_KINDS",
    "SENTRY_KINDS",
    "AccessLogConfig",
    "AlertmanagerConfig",
    "CockpitSection",
    "Config",
    "ConfigError",
    "DeploySourceConfig",
    "DetectSettings",
    "ErrorSourceConfig",
    "FieldError",
    "HttpProbeConfig",
    "JsonlDeployLogConfig",
    "KeysSection",
    "NotifyConfig",
    "ProbeBase",
    "ProbeConfig",
    "Secret",
    "SentryConfig",
    "ServiceConfig",
    "data_dir",
    "default_path",
    "load",
    "parse",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME_OF])
