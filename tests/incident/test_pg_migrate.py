"""`cockpit store migrate --to postgresql://...` copies a real SQLite store into a real
PostgreSQL, every row kept, verified, idempotent; `cockpit doctor` checks the store."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemons import free_port
from pg_server import PASSWORD, PgServer

from cockpit.actions.audit import append_audit
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.pg.connect import PgTarget
from cockpit.incident.store.pg.store import PgIncidentStore
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import IncidentStatus, TimelineEvent

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 8, 2, 13, 52, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cockpit(*argv: str, data: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "COCKPIT_DATA_DIR": str(data),
            "COCKPIT_CONFIG": str(data / "absent.toml"),
            **(env or {}),
        },
        timeout=120,
    )
    return result.returncode, result.stdout, result.stderr


def a_morning(data: Path) -> None:
    """A store as a host's cockpit leaves it: a resolved incident, an open one with notes,
    observations (keyed, of a family), a correction and notifications."""
    with IncidentStore(store_path(data)) as store:
        old = store.declare("yesterday", "SEV3", "carol", at=at(-1440))
        store.set_status(old.id, IncidentStatus.RESOLVED, at=at(-1400))
        store.add_event(TimelineEvent(at(0), "deploy", "files-web 2 by bob", "deploys"))
        store.add_event(
            TimelineEvent(at(2), "probe.down", "sftp-multi down", "sftp", key="p:1"),
            family="probe:sftp-multi",
        )
        incident = store.declare("SFTP fails", "SEV2", "alice", impact_started_at=at(1), at=at(43))
        store.add_event(TimelineEvent(at(44), "note", "alice: 'second' session: ünïcode %s ?"))
        store.correct_time(incident.id, "detected", at(3), "alice", at=at(45))
        store.claim_notification(incident.id, "slack", "declared", stale_after=timedelta(1))
        store.finish_notification(incident.id, "slack", "declared", "sent", at=at(44))
        store.claim_notification(incident.id, "pagerduty", "declared", stale_after=timedelta(1))
        store.finish_notification(incident.id, "pagerduty", "declared", "failed", "HTTP 500")
        store.notify_key(incident.id)
    append_audit(data, {"event": "started", "who": "alice", "host": "east", "when": "x"})
    append_audit(data, {"event": "finished", "who": "alice", "host": "east", "result": "ok"})


def same_content(sqlite: IncidentStore, pg: PgIncidentStore) -> None:
    assert pg.list() == sqlite.list()
    assert pg.events() == sqlite.events()
    assert pg.notifications() == sqlite.notifications()
    for incident in sqlite.list():
        assert pg.times(incident.id) == sqlite.times(incident.id)
    assert pg.family_states(at(-60)) == sqlite.family_states(at(-60))
    current = sqlite.open_incident()
    assert current is not None  # its PagerDuty key goes with it: the resolve closes the page
    assert pg.notify_key(current.id) == sqlite.notify_key(current.id)


def test_migrate_copies_every_row_verified_and_again_copies_nothing(
    tmp_path: Path, pg: PgServer
) -> None:
    data = tmp_path / "data"
    a_morning(data)
    url = pg.url(pg.new_database())
    env = pg.env
    code, out, err = cockpit(
        "store", "migrate", "--to", url, "--password-env", "COCKPIT_PG_PASSWORD", data=data, env=env
    )
    assert code == 0, err
    assert "incidents: 2 in incidents.sqlite3, 2 copied now, 2 in postgresql" in out
    assert "events: 7 in incidents.sqlite3, 7 copied now, 7 in" in out
    assert "notifications: 2 in incidents.sqlite3, 2 copied now, 2 in" in out
    assert "audit log: 2 in audit.log, 2 copied now, 2 in" in out
    assert PASSWORD not in out + err
    target = PgTarget(url, password=PASSWORD)
    with IncidentStore(store_path(data)) as sqlite, PgIncidentStore(target) as db:
        same_content(sqlite, db)  # type: ignore[arg-type]

    code, out, err = cockpit(
        "store", "migrate", "--to", url, "--password-env", "COCKPIT_PG_PASSWORD", data=data, env=env
    )
    assert code == 0, err
    assert "events: 7 in incidents.sqlite3, 0 copied now, 7 in" in out
    assert "audit log: 2 in audit.log, 0 copied now, 2 in" in out
    with IncidentStore(store_path(data)) as sqlite, PgIncidentStore(target) as db:
        same_content(sqlite, db)  # type: ignore[arg-type]
        # The copied store goes on: new rows get new ids.
        assert db.add_event(TimelineEvent(at(50), "note", "after the move"))
        assert [e.text for e in db.events()][-1] == "after the move"

    # Another host's different store into the same database: refused, nothing copied.
    other = tmp_path / "other"
    with IncidentStore(store_path(other)) as store:
        store.declare("another host's incident", "SEV4", "dave", at=at(-3000))
    code, out, err = cockpit(
        "store",
        "migrate",
        "--to",
        url,
        "--password-env",
        "COCKPIT_PG_PASSWORD",
        data=other,
        env=env,
    )
    assert code == 1 and "nothing copied" in err and "Traceback" not in err
    with PgIncidentStore(target) as db:
        assert [i.title for i in db.list()] == ["SFTP fails", "yesterday"]


def test_migrate_refuses_a_password_in_the_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a_morning(data)
    code, out, err = cockpit(
        "store", "migrate", "--to", "postgresql://cockpit:hunter2@db/oncall", data=data
    )
    assert code == 2 and "store_password_env" in err and "hunter2" not in err + out


def test_doctor_checks_the_store(tmp_path: Path, pg: PgServer) -> None:
    database = pg.new_database()
    with PgIncidentStore(PgTarget(pg.url(database), password=PASSWORD)) as store:
        store.declare("shared", "SEV2", "alice")
    config = tmp_path / "config.toml"
    lines = '[cockpit]\nservice = "files-web"\nstore_password_env = "COCKPIT_PG_PASSWORD"\n'
    config.write_text(lines + f'store = "{pg.url(database)}"\n')
    code, out, _ = cockpit("doctor", "--config", str(config), data=tmp_path, env=pg.env)
    line = next(x for x in out.splitlines() if "incident store" in x)
    assert (
        line.split()[0] == "ok" and f"127.0.0.1:{pg.port}/{database}: 1 incidents, #1 open" in line
    )

    config.write_text(lines + f'store = "postgresql://cockpit@127.0.0.1:{free_port()}/x"\n')
    code, out, _ = cockpit("doctor", "--config", str(config), data=tmp_path, env=pg.env)
    line = next(x for x in out.splitlines() if "incident store" in x)
    assert line.split()[0] == "fail" and "offline: unreachable" in line and code == 1
