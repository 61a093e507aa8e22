"""Single-table sections: [cockpit], [keys], [detect]."""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import parse_qsl, urlsplit

from cockpit.config.base import FieldError, Secret
from cockpit.term.textsafe import Inert

DRILL_NOTIFY_POLICIES = ("mark", "suppress")
STORE_SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class CockpitSection:
    service: str = "service"
    environment: str = "production"
    ascii: bool = False
    drill: bool = False
    # In a drill, notifications are sent marked as a drill ("mark") or not sent ("suppress").
    drill_notifications: str = "mark"
    # Where the cockpit reports its own errors; SENTRY_DSN is used when unset. A DSN is meant
    # to be public (it only allows sending events), so it may be written here.
    self_report_dsn: str | None = None
    # Shared by every engineer on the host, so that the revert lock and the incident store
    # are seen by all; unset = COCKPIT_DATA_DIR, then the per-user data dir.
    data_dir: str | None = None
    # The group a shared data dir belongs to: the dir is made setgid to it, and every file the
    # cockpit creates there is group-writable (unset: a setgid data dir's own group, if any).
    data_group: str | None = None
    # Unset: the incident store is SQLite in the data dir (one host). A PostgreSQL URL
    # ("postgresql://cockpit@db.internal:5432/oncall"): one store, one timeline and one
    # revert lock for every cockpit of a team, on any host. Never a password in it.
    store: str | None = None
    store_password: Secret | None = None  # store_password_env / store_password_file
    store_sslmode: str | None = None  # libpq's sslmode: "verify-full" checks name and CA
    store_sslrootcert: str | None = None  # the CA file the server's certificate is checked by

    def check(self) -> None:
        if not self.service.strip() or Inert(self.service) != self.service:
            raise FieldError("service", "a service name, without control or invisible characters")
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
        if self.store_sslmode is not None and self.store_sslmode not in SSL_MODES:
            raise FieldError("store_sslmode", f"one of: {', '.join(SSL_MODES)}")
        if self.drill_notifications not in DRILL_NOTIFY_POLICIES:
            raise FieldError("drill_notifications", f"one of: {', '.join(DRILL_NOTIFY_POLICIES)}")


@dataclass(frozen=True)
class KeysSection:
    """Action -> key. Remapping a key here changes the footer and help too."""

    declare: str = "d"
    revert: str = "R"
    runbook: str = "a"
    export: str = "x"
    note: str = "n"
    status: str = "s"
    mitigate: str = "m"
    correct: str = "c"
    timeline: str = "t"
    watch: str = "w"
    zoom: str = "z"
    help: str = "question_mark"
    quit: str = "q"

    def check(self) -> None:
        for spec in fields(self):
            key = getattr(self, spec.name)
            bad = not key or len(key) > 40 or any(c.isspace() for c in key)
            if bad or Inert(key) != key:
                raise FieldError(spec.name, 'a key name such as "d", "R", "ctrl+d" or "f5"')


@dataclass(frozen=True)
class DetectSettings:
    """[detect]: when a 5xx rate is a spike, and how long Sentry gets to notice a failure."""

    spike_min_ratio: float = 0.05  # absolute 5xx ratio that counts as a spike
    spike_factor: float = 3.0  # ... and this many times the baseline ratio
    spike_min_errors: int = 3
    spike_recent_buckets: int = 2
    blind_spot_grace: float = 20.0  # seconds Sentry gets to show an issue for a failure
    blind_spot_window: float = 300.0  # issues first seen this long before a failure still match
    verify_minutes: float = 10.0  # after a revert, "not recovered" is said after this long
    suspect_minutes: float = 60.0  # a deploy this long before the first failure is suspected

    def check(self) -> None:
        if not 0 < self.spike_min_ratio <= 1:
            raise FieldError("spike_min_ratio", "a ratio between 0 and 1")
        for name in ("spike_factor", "blind_spot_window", "verify_minutes", "suspect_minutes"):
            if getattr(self, name) <= 0:
                raise FieldError(name, "must be greater than 0")
        if self.blind_spot_grace < 0:
            raise FieldError("blind_spot_grace", "must be 0 or more")
        if self.spike_recent_buckets < 1 or self.spike_min_errors < 1:
            name = "spike_recent_buckets" if self.spike_recent_buckets < 1 else "spike_min_errors"
            raise FieldError(name, "must be at least 1")
