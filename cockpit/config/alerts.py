"""[[alerts]]: where the alerts that page come from (kind "alertmanager", API v2).

Several `urls` are the members of one Alertmanager HA cluster: each is asked, alerts are
deduplicated by fingerprint and silences by id, and a silence is created on one member (the
cluster gossips it to the others).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from cockpit.config.base import FieldError, Secret
from cockpit.config.schema import Count, Name, Rule, Seconds, Text, Url, between

MAX_SILENCE_MINUTES = 7 * 24 * 60  # Alertmanager keeps expired silences 5 days by default

if TYPE_CHECKING:
    from cockpit.model import Matcher


@dataclass(frozen=True)
class AlertmanagerConfig:
    kind: ClassVar[str] = "alertmanager"
    source: ClassVar[str] = "cockpit.alerts.source:AlertmanagerSource"
    name: Name
    # e.g. ["http://am-1:9093", "http://am-2:9093"]: one HA cluster
    urls: Annotated[tuple[Url, ...], Rule(ge=1, expected="at least one Alertmanager URL")]
    # Which alerts are this cockpit's, e.g. ['service="files-web"']; none: every alert.
    matchers: tuple[Text, ...] = ()
    user: str = ""  # basic auth user; the password in password_env or password_file
    password: Secret | None = None
    token: Secret | None = None  # sent as "Authorization: Bearer ..."
    silence_minutes: Count = 60  # a silence's default duration, at most max_silence_minutes
    # no silence from the cockpit lasts longer
    max_silence_minutes: Annotated[int, between(1, MAX_SILENCE_MINUTES)] = 720
    interval: Seconds = 15.0
    timeout: Seconds = 5.0

    def check(self) -> None:
        # The matchers make model objects: loaded only where alerts are configured.
        from cockpit.alerts.matchers import MatcherError, parse_matcher

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
        if self.silence_minutes > self.max_silence_minutes:
            raise FieldError("silence_minutes", "must be at most max_silence_minutes")

    @property
    def matcher_list(self) -> tuple[Matcher, ...]:
        from cockpit.alerts.matchers import parse_matcher

        return tuple(parse_matcher(m) for m in self.matchers)


ALERT_KINDS: dict[str, type] = {"alertmanager": AlertmanagerConfig}
DEFAULT_ALERT_KIND = "alertmanager"
