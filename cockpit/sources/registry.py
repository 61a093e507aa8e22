"""Config section -> Source. Modules are imported only when a source of their kind is built,
so starting the cockpit (or failing on a config error) does not pay for httpx."""

from __future__ import annotations

import importlib
from typing import cast

from cockpit.config import (
    AccessLogConfig,
    HttpProbeConfig,
    JsonlDeployLogConfig,
    SentryConfig,
    SourceConfig,
)
from cockpit.sources.base import Source

# config class -> (module, class name)
SOURCE_CLASSES: dict[type, tuple[str, str]] = {
    HttpProbeConfig: ("cockpit.sources.http_probe", "HttpProbe"),
    JsonlDeployLogConfig: ("cockpit.sources.deploy_log", "JsonlDeployLog"),
    AccessLogConfig: ("cockpit.sources.access_log", "AccessLogTail"),
    SentryConfig: ("cockpit.sources.sentry_issues", "SentryIssuesSource"),
}


def build_source(cfg: SourceConfig) -> Source:
    try:
        module_name, class_name = SOURCE_CLASSES[type(cfg)]
    except KeyError:
        raise TypeError(f"no source for {type(cfg).__name__}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    return cast(Source, cls(cfg))
