"""Config section -> Source. Each config class names its source as `source = "module:Class"`;
the module is imported only when a source of that kind is built, so starting the cockpit (or
failing on a config error) does not pay for httpx, asyncssh and the like."""

from __future__ import annotations

import importlib
from typing import cast

from cockpit.config import SourceConfig
from cockpit.sources.base import Source


def source_class(cfg_type: type) -> tuple[str, str]:
    spec = getattr(cfg_type, "source", None)
    if not isinstance(spec, str) or ":" not in spec:
        raise TypeError(f"no source for {cfg_type.__name__}")
    module_name, _, class_name = spec.partition(":")
    return module_name, class_name


def build_source(cfg: SourceConfig) -> Source:
    module_name, class_name = source_class(type(cfg))
    cls = getattr(importlib.import_module(module_name), class_name)
    return cast(Source, cls(cfg))
