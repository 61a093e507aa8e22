"""[[alerts]]: where the alerts that page come from (kind "alertmanager", API v2).

Several `urls` are the members of one Alertmanager HA cluster: each is asked, alerts are
deduplicated by fingerprint and silences by id, and a silence is created on one member (the
cluster gossips it to the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cockpit.alerts.matchers import MatcherError, parse_matcher
from cockpit.config.base import FieldError, Secret
from cockpit.model import Matcher

MAX_SILENCE_MINUTES = 7 * 24 * 60  # Alertmanager keeps expired silences 5 days by default


@dataclass(frozen=True)
class AlertmanagerConfig:
    kind: ClassVar[str] = "alertmanager"
    source: ClassVar[str] = "cockpit.alerts.source:AlertmanagerSource"
    name: str
    urls: tuple[str, ...]  # e.g. ["http://am-1:9093", "http://am-2:9093"]: one HA cluster
    # Which alerts are this cockpit's, e.g. ['service="files-web"']; none: every alert.
    matchers: tuple[str, ...] = ()
    user: str = ""  # basic auth user; the password in password_env or password_file
    password: Secret | None = None
    token: Secret | None = None  # sent as "Authorization: Bearer ..."
    silence_minutes: int = 60  # a silence's default duration
    max_silence_minutes: int = 720  # no silence from the cockpit lasts longer
    interval: float = 15.0
    timeout: float = 5.0

    def check(self) -> None:
        if not self.urls:
            raise FieldError("urls", "give at least one Alertmanager URL")
        for index, url in enumerate(self.urls):
            if not url.startswith(("http://", "https://")):
                raise FieldError(("urls", index), "expected an http:// or https:// URL")
        for index, text in enumerate(self.matchers):
            try:
                parse_matcher(text)
            except MatcherError as exc:
                raise FieldError(("matchers", index), str(exc)) from None
        if self.password is not None and not self.user:
            raise FieldError("user", "basic auth needs the user as well as the password")
        if self.user and self.password is None:
            raise FieldError("user", "basic auth needs password_env or password_file")
        if self.password is not None and self.token is not None:
            raise FieldError("token_env", "give basic auth (user, password) or a token, not both")
        if not 1 <= self.max_silence_minutes <= MAX_SILENCE_MINUTES:
            raise FieldError("max_silence_minutes", f"between 1 and {MAX_SILENCE_MINUTES}")
        if not 1 <= self.silence_minutes <= self.max_silence_minutes:
            raise FieldError("silence_minutes", "between 1 and max_silence_minutes")

    @property
    def matcher_list(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(m) for m in self.matchers)


ALERT_KINDS: dict[str, type] = {"alertmanager": AlertmanagerConfig}
