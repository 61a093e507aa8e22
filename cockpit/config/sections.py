"""Single-table sections: [cockpit], [keys], [detect]."""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

from cockpit.config.base import FieldError, Secret
from cockpit.config.schema import Count, Minutes, Rule, Text, Url
from cockpit.keys import (
    ACTION_SPECS,
    NAVIGATION,
    RESERVED,
    RESERVED_FOR,
    ActionSpec,
    key_problem,
    keys_of,
)
from cockpit.term.textsafe import Inert

DrillNotifyPolicy = Literal["mark", "suppress"]
DRILL_NOTIFY_POLICIES: tuple[str, ...] = get_args(DrillNotifyPolicy)
STORE_SCHEMES = ("postgresql", "postgres")
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
SSL_MODES: tuple[str, ...] = get_args(SslMode)


@dataclass(frozen=True)
class CockpitSection:
    service: Text = "service"
    environment: Text = "production"
    ascii: bool = False
    drill: bool = False
    # In a drill, notifications are sent marked as a drill ("mark") or not sent ("suppress").
    drill_notifications: DrillNotifyPolicy = "mark"
    # Where the cockpit reports its own errors; SENTRY_DSN is used when unset. A DSN is meant
    # to be public (it only allows sending events), so it may be written here.
    self_report_dsn: Url | None = None
    # Shared by every engineer on the host, so that the revert lock and the incident store
    # are seen by all; unset = COCKPIT_DATA_DIR, then the per-user data dir.
    data_dir: Text | None = None
    # The group a shared data dir belongs to: the dir is made setgid to it, and every file the
    # cockpit creates there is group-writable (unset: a setgid data dir's own group, if any).
    data_group: Text | None = None
    # Unset: the incident store is SQLite in the data dir (one host). A PostgreSQL URL
    # ("postgresql://cockpit@db.internal:5432/oncall"): one store, one timeline and one
    # revert lock for every cockpit of a team, on any host. Never a password in it.
    store: str | None = None
    store_password: Secret | None = None  # store_password_env / store_password_file
    store_sslmode: SslMode | None = None  # libpq's sslmode: "verify-full" checks name and CA
    store_sslrootcert: Text | None = None  # the CA file the server's certificate is checked by

    def check(self) -> None:
        for key in ("service", "environment"):  # shown in the header
            if Inert(getattr(self, key)) != getattr(self, key):
                raise FieldError(key, "holds control or invisible characters")
        if self.store is not None:
            parts = urlsplit(self.store)
            if parts.scheme not in STORE_SCHEMES or not (parts.hostname or "host=" in parts.query):
                raise FieldError(
                    "store", 'a PostgreSQL URL ("postgresql://user@host:5432/dbname"), or unset'
                )
            query = {k.lower() for k, _ in parse_qsl(parts.query)}
            if parts.password is not None or query & {"password", "sslpassword"}:
                raise FieldError(
                    "store",
                    "credentials are not written in the config, not even in a URL; give the "
                    "password in store_password_env or store_password_file",
                )


def _check_keys(keys: Any) -> None:
    """Each action's key: a key a terminal sends, not one that moves around its screen or that
    the screen keeps, and not another action's on the same screen. A clash names the action
    the config changed, so the line shown is the one to edit."""
    taken: dict[tuple[str, str], ActionSpec] = {}
    for spec in ACTION_SPECS:
        binding = getattr(keys, spec.name)
        changed = binding != spec.key
        for key in keys_of(binding):
            problem = key_problem(key)
            if problem:
                hint = 'a key name such as "d", "R", "ctrl+d" or "f5"'
                raise FieldError(spec.name, f"{problem}: {hint}")
            where = "this screen" if spec.screen == "main" else f"the {spec.screen} screen"
            if key in NAVIGATION[spec.screen]:
                raise FieldError(spec.name, f"{key!r} moves around {where}; choose another key")
            if key in RESERVED:
                raise FieldError(spec.name, f"{key!r} is reserved; choose another key")
            owner = RESERVED_FOR[spec.screen].get(key)
            if owner is not None and owner != spec.name:
                said = owner if " " in owner else f"is {owner}"
                raise FieldError(spec.name, f"{key!r} {said}; choose another key")
            other = taken.get((spec.screen, key))
            if other is not None:
                # Name the one the config set: the other kept its default.
                culprit, kept = (
                    (spec, other)
                    if changed or getattr(keys, other.name) == other.key
                    else (other, spec)
                )
                raise FieldError(
                    culprit.name, f"{key!r} is already the key of {kept.name}; choose another key"
                )
            taken[(spec.screen, key)] = spec


# [keys]: one option per action of the registry, its default key the action's.
if TYPE_CHECKING:

    class KeysSection:
        """Action -> key. Remapping a key here changes the footer, help and palette too."""

        def __init__(self, **keys: str) -> None: ...
        def __getattr__(self, action: str) -> str: ...
        def check(self) -> None: ...

else:
    KeysSection = make_dataclass(
        "KeysSection",
        [(spec.name, str, field(default=spec.key)) for spec in ACTION_SPECS],
        namespace={
            "__doc__": "Action -> key. Remapping a key here changes the footer, help and palette.",
            "__module__": __name__,
            "check": _check_keys,
        },
        frozen=True,
    )


@dataclass(frozen=True)
class DetectSettings:
    """[detect]: when a 5xx rate is a spike, and how long Sentry gets to notice a failure."""

    # absolute 5xx ratio that counts as a spike
    spike_min_ratio: Annotated[float, Rule(gt=0, le=1)] = 0.05
    spike_factor: Annotated[float, Rule(gt=0)] = 3.0  # ... and this many times the baseline
    spike_min_errors: Count = 3
    spike_recent_buckets: Count = 2
    blind_spot_grace: Annotated[float, Rule(ge=0)] = 20.0  # seconds Sentry gets to show an issue
    # issues first seen this long (seconds) before a failure still match
    blind_spot_window: Annotated[float, Rule(gt=0)] = 300.0
    verify_minutes: Minutes = 10.0  # after a revert, "not recovered" is said after this long
    suspect_minutes: Minutes = 60.0  # a deploy this long before the first failure is suspected
