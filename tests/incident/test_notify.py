"""Notifications against a real local HTTP server that records what Slack, PagerDuty and a
generic webhook would have received; payloads are checked against the documented shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from notify_servers import (
    HOOK_TOKEN,
    PAGERDUTY_V2,
    PD_KEY,
    SLACK_MESSAGE,
    SLACK_TOKEN,
    Recorder,
    closed_port_url,
    env_for,
    notify_config,
)

from cockpit.config import ConfigError, parse
from cockpit.incident.declare import DeclareRequest
from cockpit.incident.lifecycle import Lifecycle
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus
from cockpit.notify import Notifier


def build(
    tmp_path: Path, rec: Recorder, *, hook_url: str | None = None, **options: Any
) -> tuple[IncidentStore, Notifier, Lifecycle]:
    config = parse(notify_config(rec, **options), env=env_for(rec, hook_url))
    store = IncidentStore(store_path(tmp_path))
    notifier = Notifier.from_config(store, config)
    lifecycle = Lifecycle(store, user="alice", drill=config.cockpit.drill, notifier=notifier)
    return store, notifier, lifecycle


REQUEST = DeclareRequest(
    "SFTP second session fails",
    "SEV1",
    "alice",
    summary="Every second simultaneous session fails <since 06:52> & more",
    impact_started_at=datetime(2024, 8, 2, 13, 52, tzinfo=UTC),
)


async def test_declare_and_resolve_reach_every_channel_in_documented_shapes(
    tmp_path: Path, recorder: Recorder
) -> None:
    store, notifier, lifecycle = build(tmp_path, recorder)
    with store:
        incident = lifecycle.declare(REQUEST)
        deliveries = await notifier.drain()
        assert sorted((d.channel, d.event, d.status) for d in deliveries) == [
            ("oncall-slack", "declared", "sent"),
            ("pd-primary", "acknowledged", "sent"),
            ("pd-primary", "declared", "sent"),
            ("status-hook", "declared", "sent"),
        ]

        [slack] = recorder.bodies("/slack/")
        jsonschema.validate(slack, SLACK_MESSAGE)
        assert slack["text"] == f"SEV1 incident #{incident.id} declared: SFTP second session fails"
        assert slack["blocks"][0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": slack["text"]},
        }
        fields = [f["text"] for f in slack["blocks"][1]["fields"]]
        assert "*Commander*\nalice" in fields
        # mrkdwn control characters in user text are escaped, not interpreted.
        assert "&lt;since 06:52&gt; &amp; more" in slack["blocks"][2]["text"]["text"]

        # The trigger, then at once its acknowledge with the same dedup key: the engineer who
        # declares is on it, so PagerDuty escalates to nobody else.
        [trigger, ack] = recorder.bodies("/pd/")
        jsonschema.validate(trigger, PAGERDUTY_V2)
        jsonschema.validate(ack, PAGERDUTY_V2)
        assert trigger["routing_key"] == PD_KEY
        assert trigger["event_action"] == "trigger"
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["payload"]["source"] == "files-web"
        assert trigger["payload"]["summary"].startswith("SEV1 incident #")
        dedup_key = trigger["dedup_key"]
        assert dedup_key == store.notify_key(incident.id)
        assert ack == {"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": dedup_key}
        assert any(
            e.kind == "notify.sent" and "pd-primary (pagerduty) of acknowledged" in e.text
            for e in store.events()
        )

        [hook] = recorder.bodies("/hook")
        assert hook["format"] == "oncall-cockpit.incident-event"
        assert hook["event"] == "declared" and hook["drill"] is False
        assert hook["incident"]["id"] == incident.id
        assert hook["incident"]["impact_started_at"] == "2024-08-02T13:52:00Z"

        lifecycle.set_status(IncidentStatus.MITIGATED)
        await notifier.drain()
        assert len(recorder.bodies("/pd/")) == 2  # PagerDuty has nothing to do on "mitigated"
        assert recorder.bodies("/hook")[-1]["event"] == "mitigated"

    # Resolved by another process: the dedup key comes from the store, not from memory.
    other_store, other_notifier, other = build(tmp_path, recorder)
    with other_store:
        other.resolve()
        await other_notifier.drain()
    resolve = recorder.bodies("/pd/")[-1]
    jsonschema.validate(resolve, PAGERDUTY_V2)
    assert resolve == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": dedup_key}
    assert recorder.bodies("/slack/")[-1]["text"].endswith("resolved: SFTP second session fails")


async def test_outcomes_are_kept_per_channel_and_event_and_on_the_timeline(
    tmp_path: Path, recorder: Recorder
) -> None:
    store, notifier, lifecycle = build(tmp_path, recorder)
    with store:
        incident = lifecycle.declare(REQUEST)
        await notifier.drain()
        lifecycle.resolve()
        await notifier.drain()
        rows = {(n.channel, n.event): n for n in store.notifications(incident.id)}
        assert set(rows) == {
            ("oncall-slack", "declared"),
            ("oncall-slack", "resolved"),
            ("pd-primary", "declared"),
            ("pd-primary", "acknowledged"),
            ("pd-primary", "resolved"),
            ("status-hook", "declared"),
            ("status-hook", "resolved"),
        }
        assert all(n.status == "sent" and n.attempts == 1 and n.sent_at for n in rows.values())
        notes = [e for e in store.incident_events(store.get(incident.id)) if e.source == "notify"]  # type: ignore[arg-type]
        assert len(notes) == 7 and {e.kind for e in notes} == {"notify.sent"}
        # Sending again is a no-op: each notification goes out once.
        assert await notifier.send(incident, "declared") == []
        assert await notifier.send(incident, "acknowledged") == []
        assert len(recorder.bodies("/pd/")) == 3


async def test_failures_are_recorded_and_retry_sends_only_them(
    tmp_path: Path, recorder: Recorder
) -> None:
    recorder.fail_next("/slack/", 500)
    recorder.fail_next("/pd/", 429)
    store, notifier, lifecycle = build(tmp_path, recorder, hook_url=closed_port_url())
    with store:
        incident = lifecycle.declare(REQUEST)
        assert store.open_incident() == incident  # declared whatever the channels do
        deliveries = {d.channel: d for d in await notifier.drain()}
        assert deliveries["oncall-slack"].status == "failed"
        assert deliveries["oncall-slack"].error == "HTTP 500: error for POST ***\ufffd!"
        assert deliveries["pd-primary"].error.startswith("HTTP 429")
        assert "could not connect" in deliveries["status-hook"].error
        failed = store.notifications(incident.id, status="failed")
        assert sorted((n.channel, n.attempts) for n in failed) == [
            ("oncall-slack", 1),
            ("pd-primary", 1),
            ("status-hook", 1),
        ]
        # The Slack token was in the echoed path; it is not kept anywhere.
        everything = json.dumps([vars_of(n) for n in store.notifications()])
        everything += json.dumps([e.text for e in store.events()])
        assert SLACK_TOKEN not in everything and HOOK_TOKEN not in everything
        assert "***" in everything and "\x1b" not in everything
        assert any(e.kind == "notify.failed" and "retry" in e.text for e in store.events())

        retried = {d.channel: d for d in await notifier.retry_failed(incident.id)}
        assert retried["oncall-slack"].status == "sent"
        assert retried["pd-primary"].status == "sent"
        assert retried["status-hook"].status == "failed"  # still nobody listening
        assert {
            (n.channel, n.event, n.status, n.attempts) for n in store.notifications(incident.id)
        } == {
            ("oncall-slack", "declared", "sent", 2),
            ("pd-primary", "declared", "sent", 2),
            ("pd-primary", "acknowledged", "sent", 1),
            ("status-hook", "declared", "failed", 2),
        }
        # The refused trigger, the trigger again, then its acknowledge: never before it.
        actions = [b["event_action"] for b in recorder.bodies("/pd/")]
        assert actions == ["trigger", "trigger", "acknowledge"]
        assert len(recorder.bodies("/slack/")) == 2  # one failure, one success: no duplicate
        assert await notifier.retry_failed(incident.id) != []  # the hook is retried again


def vars_of(n: object) -> dict[str, str]:
    return {k: str(getattr(n, k)) for k in ("channel", "event", "status", "error")}


async def test_a_hanging_channel_does_not_hold_up_the_declaration(
    tmp_path: Path, recorder: Recorder
) -> None:
    store, notifier, lifecycle = build(
        tmp_path, recorder, hook_url=recorder.url("/hang"), timeout=0.5
    )
    with store:
        incident = lifecycle.declare(REQUEST)
        # Back from declare with the request possibly not even sent: nothing awaited it.
        assert store.open_incident() == incident
        deliveries = {d.channel: d for d in await notifier.drain()}
        assert deliveries["status-hook"].status == "failed"
        assert deliveries["status-hook"].error == "no answer within 0.5s"
        assert deliveries["oncall-slack"].status == "sent"


async def test_drill_marks_every_message(tmp_path: Path, recorder: Recorder) -> None:
    store, notifier, lifecycle = build(tmp_path, recorder, drill=True, policy="mark")
    with store:
        incident = lifecycle.declare(REQUEST)
        assert incident.drill
        await notifier.drain()
    [slack] = recorder.bodies("/slack/")
    assert slack["text"].startswith("[DRILL] SEV1 incident")
    assert slack["blocks"][0]["text"]["text"].startswith("[DRILL] ")
    [trigger, ack] = recorder.bodies("/pd/")
    assert trigger["payload"]["severity"] == "info"  # nobody is paged for a rehearsal
    assert ack["event_action"] == "acknowledge"
    assert trigger["payload"]["summary"].startswith("[DRILL] ")
    [hook] = recorder.bodies("/hook")
    assert hook["drill"] is True and hook["text"].startswith("[DRILL] ")


async def test_drill_can_suppress_notifications(tmp_path: Path, recorder: Recorder) -> None:
    store, notifier, lifecycle = build(tmp_path, recorder, drill=True, policy="suppress")
    with store:
        incident = lifecycle.declare(REQUEST)
        deliveries = await notifier.drain()
        assert {d.status for d in deliveries} == {"suppressed"}
        assert {n.status for n in store.notifications(incident.id)} == {"suppressed"}
        assert await notifier.retry_failed() == []
    assert recorder.received == []


async def test_a_claim_left_by_a_dead_process_is_retried(
    tmp_path: Path, recorder: Recorder
) -> None:
    store, notifier, _ = build(tmp_path, recorder)
    with store:
        incident = Lifecycle(store, user="alice").declare(REQUEST)  # no notifier: nothing sent
        # Another process claimed the PagerDuty trigger and died before settling it.
        stale = store.claim_notification(
            incident.id, "pd-primary", "declared", stale_after=timedelta(seconds=1)
        )
        assert stale is not None and stale.status == "sending"
        assert await notifier.retry_failed(incident.id) == []  # still within its claim
        notifier.claim_margin = timedelta(seconds=-60)
        [delivery, ack] = await notifier.retry_failed(incident.id)
        assert (delivery.channel, delivery.status, delivery.attempts) == ("pd-primary", "sent", 2)
        assert (ack.event, ack.status) == ("acknowledged", "sent")


async def test_a_late_trigger_for_a_resolved_incident_is_not_sent(
    tmp_path: Path, recorder: Recorder
) -> None:
    recorder.fail_next("/pd/", 500)
    store, notifier, lifecycle = build(tmp_path, recorder)
    with store:
        incident = lifecycle.declare(REQUEST)
        await notifier.drain()
        lifecycle.resolve()
        await notifier.drain()
        retried = {(d.channel, d.event): d for d in await notifier.retry_failed(incident.id)}
        assert retried[("pd-primary", "declared")].status == "suppressed"
    assert [b["event_action"] for b in recorder.bodies("/pd/")] == ["trigger", "resolve"]


def test_notify_config_keeps_secrets_out_of_the_text(recorder: Recorder) -> None:
    env = env_for(recorder)
    written = notify_config(recorder).replace('url_env = "SLACK_URL"', 'url = "https://x"')
    with pytest.raises(ConfigError, match=r"notify\[0\]\.url: secrets are not written"):
        parse(written, env=env)
    unset = parse(notify_config(recorder), env={**env, "SLACK_URL": ""})
    assert [w.key for w in unset.warnings] == ["notify[0].url_env"]
    assert "SLACK_URL is not set" in str(unset.warnings[0])
    bad_url = {**env, "HOOK_URL": f"ftp://host/{HOOK_TOKEN}"}
    with pytest.raises(ConfigError) as refused:
        parse(notify_config(recorder), env=bad_url)
    assert "not an http(s) URL" in str(refused.value) and HOOK_TOKEN not in str(refused.value)
    pd_status = notify_config(recorder).replace(
        'routing_key_env = "PD_KEY"', 'routing_key_env = "PD_KEY"\nevents = ["mitigated"]'
    )
    with pytest.raises(
        ConfigError,
        match=r"notify\[1\]\.events\[0\]: expected one of: declared, acknowledged, resolved",
    ):
        parse(pd_status, env=env)
    with pytest.raises(ConfigError, match="one of: pagerduty, slack, webhook"):
        parse('[[notify]]\nkind = "email"\nname = "x"\n', env=env)
    config = parse(notify_config(recorder), env=env)
    assert PD_KEY not in repr(config) and SLACK_TOKEN not in repr(config)


async def test_a_channel_whose_secret_is_not_set_costs_only_that_channel(
    tmp_path: Path, recorder: Recorder
) -> None:
    """A second engineer's shell without the Slack webhook declares: PagerDuty and the hook are
    told, Slack's notification waits as failed with the reason, and a retry from a shell that
    has the webhook sends it."""
    without = {k: v for k, v in env_for(recorder).items() if k != "SLACK_URL"}
    config = parse(notify_config(recorder), env=without)
    store = IncidentStore(store_path(tmp_path))
    notifier = Notifier.from_config(store, config)
    lifecycle = Lifecycle(store, user="bob", notifier=notifier)
    with store:
        incident = lifecycle.declare(REQUEST)
        deliveries = {d.channel: d for d in await notifier.drain()}
        assert deliveries["pd-primary"].status == "sent"
        assert deliveries["status-hook"].status == "sent"
        assert deliveries["oncall-slack"].status == "failed"
        assert deliveries["oncall-slack"].error == "not configured: SLACK_URL is not set"
        assert recorder.bodies("/slack/") == []
        texts = [e.text for e in store.events()]
        assert any("not configured: SLACK_URL is not set" in t for t in texts)

        with_it = Notifier.from_config(store, parse(notify_config(recorder), env=env_for(recorder)))
        retried = {d.channel: d for d in await with_it.retry_failed(incident.id)}
        assert retried["oncall-slack"].status == "sent"
        assert len(recorder.bodies("/slack/")) == 1
