"""Where the config is read from and where incidents, locks and exports are kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.config.base import APP_NAME

if TYPE_CHECKING:
    from cockpit.config.loader import Config


def default_path(env: dict[str, str] | None = None) -> Path:
    """--config is handled by the caller; then COCKPIT_CONFIG, then the user config dir."""
    env = dict(os.environ) if env is None else env
    if env.get("COCKPIT_CONFIG"):
        return Path(env["COCKPIT_CONFIG"]).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME) / "config.toml"


def config_path(arg: str | None) -> Path:
    """The config a command reads: --config when given, else the default."""
    return Path(arg).expanduser() if arg else default_path()


def data_dir_for(config_arg: str | None, config: Config | None = None) -> Path:
    """The data dir a command uses: the configured one when a config exists (a broken one is
    an error), else the default, so commands that only read the store work without a config."""
    if config is None:
        path = config_path(config_arg)
        if path.exists():
            from cockpit.config.loader import load

            config = load(path)
    section = config.cockpit if config else None
    return data_dir(
        configured=section.data_dir if section else None,
        group=section.data_group if section else None,
    )


def data_dir(
    env: dict[str, str] | None = None, configured: str | None = None, group: str | None = None
) -> Path:
    """COCKPIT_DATA_DIR, then `[cockpit] data_dir`, then the per-user data dir; created if
    missing. Raises DataDirError (one line, fit to show) when it cannot be used; `group` is
    `[cockpit] data_group`, the group a shared data dir belongs to."""
    from cockpit.host.datadir import ensure_data_dir

    return ensure_data_dir(data_dir_path(env, configured), group)


def data_dir_path(env: dict[str, str] | None = None, configured: str | None = None) -> Path:
    """Where the data dir is, without creating or checking it."""
    env = dict(os.environ) if env is None else env
    if env.get("COCKPIT_DATA_DIR"):
        return Path(env["COCKPIT_DATA_DIR"]).expanduser()
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def drill_data_dir(env: dict[str, str] | None = None, asked: str | None = None) -> Path:
    """Where the demo and the drills keep their incidents, lock, runs and exports: never the
    engineer's own data dir (a drill incident would become the real service's open incident).
    Created if missing; raises DataDirError like `data_dir`."""
    from cockpit.host.datadir import ensure_data_dir

    return ensure_data_dir(drill_data_dir_path(env, asked))


def drill_data_dir_path(env: dict[str, str] | None = None, asked: str | None = None) -> Path:
    """`--data-dir` when asked, then COCKPIT_DRILL_DATA_DIR, else a sibling of the user's
    data dir named `<name>-drills` (beside it, not in it: the real one stays untouched)."""
    env = dict(os.environ) if env is None else env
    if asked:
        return Path(asked).expanduser()
    if env.get("COCKPIT_DRILL_DATA_DIR"):
        return Path(env["COCKPIT_DRILL_DATA_DIR"]).expanduser()
    real = data_dir_path(env)
    return real.with_name(f"{real.name}-drills")
