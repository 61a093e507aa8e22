"""The cockpit's configuration: typed sections loaded from TOML (see `loader`)."""

from cockpit.config.base import APP_NAME, ConfigError, FieldError, Secret
from cockpit.config.deploys import DEPLOY_KINDS, DeploySourceConfig, JsonlDeployLogConfig
from cockpit.config.errors import ERROR_KINDS, AccessLogConfig, ErrorSourceConfig
from cockpit.config.loader import Config, SourceConfig, data_dir, default_path, load, parse
from cockpit.config.notify import NOTIFY_KINDS, NotifyConfig
from cockpit.config.probes import PROBE_KINDS, HttpProbeConfig, ProbeBase, ProbeConfig
from cockpit.config.sections import CockpitSection, DetectSettings, KeysSection
from cockpit.config.sentry import SENTRY_KINDS, SentryConfig
from cockpit.config.services import ServiceConfig

__all__ = [
    "APP_NAME",
    "DEPLOY_KINDS",
    "ERROR_KINDS",
    "NOTIFY_KINDS",
    "PROBE_KINDS",
    "SENTRY_KINDS",
    "AccessLogConfig",
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
    "SourceConfig",
    "data_dir",
    "default_path",
    "load",
    "parse",
]
