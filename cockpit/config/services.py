"""[[services]]: how to act on a service (revert, and the checks that must pass first)."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.config.base import FieldError


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    revert: tuple[str, ...] = ()
    revert_timeout: float = 120.0
    preflight: tuple[tuple[str, ...], ...] = ()
    dry_run: bool = False

    def check(self) -> None:
        if self.revert and not all(self.revert):
            raise FieldError("revert", "empty argument in the command")
        for i, argv in enumerate(self.preflight):
            if not argv:
                raise FieldError(("preflight", i), "empty command")
