"""Silencing an alert, guarded like a revert: a plan (the matchers, and how many of the current
alerts they cover, said plainly when more than the selection), a required comment, a bounded
duration, the engineer as `createdBy`, an audit entry synced before the silence is made and one
with its outcome; and expiring a silence the same way.

The plan's coverage is computed with the same matcher rules Alertmanager applies
(cockpit.alerts.matchers), against the alerts the cockpit holds now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.actions.audit import append_audit
from cockpit.alerts.api import AlertmanagerClient, AlertmanagerError, silence_body
from cockpit.alerts.matchers import covered, parse_matchers, shown
from cockpit.config.alerts import AlertmanagerConfig
from cockpit.host.whoami import host_name
from cockpit.model import Alert, Matcher, TimelineEvent
from cockpit.term.textsafe import blank, identity, one_line
from cockpit.timeutil import iso_utc, local_hms, utcnow

MAX_COMMENT = 1000


class SilenceRefused(Exception):
    """The silence cannot be made as asked; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class SilencePlan:
    source: str  # the [[alerts]] source whose Alertmanager gets the silence
    selected: tuple[Alert, ...]  # what the engineer chose (an alert, or a group)
    matchers: tuple[Matcher, ...]
    covers: tuple[Alert, ...]  # of the current alerts, those the matchers cover
    default_minutes: int
    max_minutes: int
    created_by: str

    @property
    def beyond_selection(self) -> tuple[Alert, ...]:
        chosen = {a.fingerprint for a in self.selected}
        return tuple(a for a in self.covers if a.fingerprint not in chosen)

    @property
    def misses(self) -> tuple[Alert, ...]:
        """Selected alerts the matchers do not cover."""
        hit = {a.fingerprint for a in self.covers}
        return tuple(a for a in self.selected if a.fingerprint not in hit)

    def coverage(self) -> str:
        """What the plan says about its reach, in one line."""
        n, chosen = len(self.covers), len(self.selected)
        said = f"covers {n} current alert{'s' if n != 1 else ''}"
        extra = self.beyond_selection
        if extra:
            names = ", ".join(sorted({identity(a.alertname, 40) for a in extra}))
            said += f": {len(extra)} MORE than the {chosen} selected ({names})"
        missed = self.misses
        if missed:
            said += f"; misses {len(missed)} of the {chosen} selected"
        return said

    def with_matchers(self, text: str, alerts: Sequence[Alert]) -> SilencePlan:
        """The plan with matchers as edited; MatcherError when the text is not matchers."""
        matchers = parse_matchers(text)
        return replace(self, matchers=matchers, covers=covered(matchers, alerts))

    def shown_matchers(self) -> str:
        return shown(self.matchers)

    def audit(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in self.matchers
            ],
            "selected": [a.fingerprint for a in self.selected],
            "covers": [a.fingerprint for a in self.covers],
        }


def default_matchers(selected: Sequence[Alert], scope: Sequence[Matcher]) -> tuple[Matcher, ...]:
    """alertname + instance for one alert; alertname and the source's own scope (e.g.
    service="files-web") for a group, so it never reaches another team's alerts."""
    first = selected[0]
    out = [Matcher("alertname", first.alertname)]
    if len(selected) == 1 and first.label("instance"):
        out.append(Matcher("instance", first.label("instance")))
    elif len(selected) > 1:
        severity = {a.severity for a in selected}
        if len(severity) == 1 and first.severity:
            out.append(Matcher("severity", first.severity))
    out += [m for m in scope if m.name not in {x.name for x in out}]
    return tuple(out)


def plan_silence(
    cfg: AlertmanagerConfig,
    selected: Sequence[Alert],
    alerts: Sequence[Alert],
    user: str,
    matchers: Sequence[Matcher] | None = None,
) -> SilencePlan:
    if not selected and not matchers:
        raise SilenceRefused("no alert selected")
    chosen = tuple(matchers) if matchers else default_matchers(selected, cfg.matcher_list)
    return SilencePlan(
        source=cfg.name,
        selected=tuple(selected),
        matchers=chosen,
        covers=covered(chosen, alerts),
        default_minutes=cfg.silence_minutes,
        max_minutes=cfg.max_silence_minutes,
        created_by=user,
    )


def checked(plan: SilencePlan, comment: str, minutes: float) -> tuple[str, float]:
    """The comment and duration as they will be sent; SilenceRefused says what is wrong."""
    if blank(comment):
        raise SilenceRefused("a comment is required: say why (it is shown to everyone)")
    if len(comment) > MAX_COMMENT:
        raise SilenceRefused(f"the comment is longer than {MAX_COMMENT} characters")
    if not 1 <= minutes <= plan.max_minutes:
        raise SilenceRefused(f"the duration must be between 1 and {plan.max_minutes} minutes")
    if not plan.matchers:
        raise SilenceRefused("no matchers")
    return one_line(comment, MAX_COMMENT), minutes


@dataclass(frozen=True, slots=True)
class SilenceMade:
    id: str
    member: str  # the Alertmanager that took it
    starts_at: datetime
    ends_at: datetime
    event: TimelineEvent


def _entry(event: str, action: str, user: str, **more: Any) -> dict[str, Any]:
    return {
        "event": event,
        "action": action,
        "who": user,
        "when": iso_utc(utcnow()),
        "host": host_name(),
        **more,
    }


def _audit(data_dir: Path | None, entry: dict[str, Any], *, required: bool) -> None:
    if data_dir is None:
        if required:
            raise SilenceRefused("no data dir for the audit log: nothing is silenced unaudited")
        return
    try:
        append_audit(data_dir, entry)
    except OSError as exc:
        if required:
            raise SilenceRefused(
                f"audit log not written ({exc.strerror or exc}): nothing is silenced unaudited"
            ) from None


async def create_silence(
    plan: SilencePlan,
    comment: str,
    minutes: float,
    client: AlertmanagerClient,
    data_dir: Path | None,
) -> SilenceMade:
    """Audit, create, audit the outcome. Raises SilenceRefused (nothing made) or
    AlertmanagerError (no member took it; audited)."""
    comment, minutes = checked(plan, comment, minutes)
    starts = utcnow()
    ends = starts + timedelta(minutes=minutes)
    body = silence_body(plan.matchers, starts, ends, plan.created_by, comment)
    base = {"plan": plan.audit(), "comment": comment, "ends": iso_utc(ends)}
    _audit(data_dir, _entry("started", "silence", plan.created_by, **base), required=True)
    try:
        silence_id, member = await client.create_silence(body)
    except AlertmanagerError as exc:
        with contextlib.suppress(SilenceRefused):
            _audit(
                data_dir,
                _entry("finished", "silence", plan.created_by, **base, ok=False, reason=str(exc)),
                required=False,
            )
        raise
    _audit(
        data_dir,
        _entry("finished", "silence", plan.created_by, **base, ok=True, id=silence_id),
        required=False,
    )
    n = len(plan.covers)
    event = TimelineEvent(
        starts,
        "silence.created",
        f"{plan.created_by}: silenced {plan.shown_matchers()} until {local_hms(ends)} "
        f"({n} alert{'s' if n != 1 else ''}): {comment}",
        plan.source,
        f"silence:{silence_id}:created",
    )
    return SilenceMade(silence_id, member, starts, ends, event)


async def expire_silence(
    silence_id: str,
    source: str,
    user: str,
    client: AlertmanagerClient,
    data_dir: Path | None,
) -> TimelineEvent:
    base = {"source": source, "id": silence_id}
    _audit(data_dir, _entry("started", "silence.expire", user, **base), required=True)
    try:
        await client.expire_silence(silence_id)
    except AlertmanagerError as exc:
        with contextlib.suppress(SilenceRefused):
            _audit(
                data_dir,
                _entry("finished", "silence.expire", user, **base, ok=False, reason=str(exc)),
                required=False,
            )
        raise
    _audit(data_dir, _entry("finished", "silence.expire", user, **base, ok=True), required=False)
    now = utcnow()
    return TimelineEvent(
        now,
        "silence.expired",
        f"{user}: expired silence {silence_id}",
        source,
        f"silence:{silence_id}:expired",
    )
