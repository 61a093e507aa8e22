"""The suspect is a change: ranked by time before the failure and relation to what fails, on
histories where the latest deploy is innocent and a package upgrade or a config commit is
not. The package history comes from the real dpkg; the config history from a real git repo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config_repos import Repo
from debian_logs import Host, build_deb

from cockpit.config import parse
from cockpit.config.changes import DpkgChangesConfig, GitChangesConfig
from cockpit.config.sections import DetectSettings
from cockpit.detect.change_suspects import FailureClues, rank_suspects
from cockpit.detect.detector import Detector
from cockpit.hub import Snapshot
from cockpit.model import (
    Category,
    Change,
    Changes,
    Deploy,
    Deploys,
    Freshness,
    ProbeResult,
    Reading,
    SentryIssue,
    SentryIssues,
    SourceStatus,
)
from cockpit.sources.changes.git import GitChanges
from cockpit.sources.changes.logs import LogChanges
from cockpit.timeutil import utcnow

HOSTS = ("web-1", "web-2", "web-3", "web-4")
CONFIG = parse(
    '[cockpit]\nservice = "files-web"\n'
    + "".join(
        f'[[probes]]\nname = "{h}-health"\nkind = "http"\nurl = "http://127.0.0.1:1/{h}"\n'
        for h in HOSTS
    ),
    None,
    env={},
)
CATEGORY = {
    ProbeResult: Category.PROBE,
    Deploys: Category.DEPLOYS,
    Changes: Category.DEPLOYS,
    SentryIssues: Category.SENTRY,
}


class World:
    def __init__(self) -> None:
        self.version = 0
        self.detector = Detector(CONFIG, DetectSettings(blind_spot_grace=90))

    def observe(self, at: datetime, readings: dict[str, Reading]):  # type: ignore[no-untyped-def]
        self.version += 1
        statuses = {
            name: SourceStatus(name, "k", CATEGORY[type(r)], Freshness.FRESH, updated_at=at)
            for name, r in readings.items()
        }
        return self.detector.observe(Snapshot(at, self.version, statuses, readings))


def probes(at: datetime, failing: set[str], error: str = "connection refused") -> dict:
    return {
        f"{h}-health": ProbeResult(
            f"{h}-health",
            "http",
            f"http://127.0.0.1:1/{h}",
            1,
            0 if h in failing else 1,
            h not in failing,
            None if h in failing else 9.0,
            error if h in failing else "",
            at,
        )
        for h in HOSTS
    }


def degrade(world: World, start: datetime, failing: set[str], others: dict, **kw: str):  # type: ignore[no-untyped-def]
    world.observe(
        start - timedelta(minutes=1), probes(start - timedelta(minutes=1), set()) | others
    )
    world.observe(start, probes(start, failing, **kw) | others)
    return world.observe(
        start + timedelta(minutes=1), probes(start + timedelta(minutes=1), failing, **kw) | others
    )


async def test_package_upgrade_on_the_failing_hosts_ranks_above_the_latest_deploy(
    tmp_path: Path,
) -> None:
    """datadog-2023: unattended-upgrades upgrades a package on some hosts outside the deploy
    pipeline; those hosts fail; a deploy made later, of the whole service, is innocent."""
    folder = tmp_path / "debs"
    folder.mkdir()
    old, new = (build_deb(folder, "systemd-demo", v) for v in ("252.5-2", "252.6-1"))
    readings: dict[str, Reading] = {}
    for h in HOSTS:
        host = Host(tmp_path / h)
        # Installed long before: dpkg writes it three hours earlier on the clock.
        host.dpkg("-i", str(old), tz="UTC+3")
        if h in ("web-2", "web-4"):
            host.dpkg("-i", str(new))
        cfg = DpkgChangesConfig(name=f"{h}-dpkg", host=h, path=host.dpkg_log)
        readings[f"{h}-dpkg"] = await LogChanges(cfg).poll()
    upgraded_at = readings["web-2-dpkg"].changes[0].at  # type: ignore[union-attr]
    start = upgraded_at + timedelta(minutes=12)
    deploy = Deploy("files-web", "2023.03.08-1", "ci", start - timedelta(minutes=2), "tidy", "ci")
    readings["deploys"] = Deploys("deploys", (deploy,))

    a = degrade(World(), start, {"web-2", "web-4"}, readings)

    assert a.degraded and a.suspect == deploy  # the deploy R reverted before: still named
    top = [(s.change.kind, s.change.host, s.change.subject, s.change.id) for s in a.suspects]
    assert top[:2] == [
        ("package", "web-4", "systemd-demo", "upgrade"),
        ("package", "web-2", "systemd-demo", "upgrade"),
    ] or top[:2] == [
        ("package", "web-2", "systemd-demo", "upgrade"),
        ("package", "web-4", "systemd-demo", "upgrade"),
    ]
    assert top[2:] == [("deploy", "", "2023.03.08-1", "")]  # listed, in order, not blamed
    why = a.suspects[0].why
    assert why[0] in ("12m 00s before the failure", "11m 59s before the failure")
    assert any("where web-" in w and "fails" in w for w in why) and "other hosts pass" in why
    assert "same service files-web" in a.suspects[2].why
    # The installs of hours ago are changes, listed, but not candidates.
    assert sum(c.id == "install" for c in a.changes) == 4
    events = [e for e in a.events if e.kind == "suspect"]
    assert any("suspect package systemd-demo on web-" in e.text for e in events)
    assert any("suspect deploy files-web 2023.03.08-1" in e.text for e in events)
    assert {"package", "deploy"} <= {c.kind for c in a.changes}


async def test_config_commit_named_in_the_errors_ranks_above_the_latest_deploy(
    tmp_path: Path,
) -> None:
    """cloudflare-2025 / files.com-2023: a config change produces a bad file; the errors
    name the file; the latest deploy came closer to the failure but is not related."""
    repo = Repo(tmp_path / "config")
    start = datetime(2025, 11, 18, 11, 20, tzinfo=UTC)
    repo.commit("features/other.json", "{}", "other: tidy", when="2025-11-18T10:45:00Z")
    sha = repo.commit(
        "features/bot-features.json",
        '{"features": 400}',
        "bot management: widen the feature query",
        who="Dana",
        when="2025-11-18T11:05:00Z",
    )
    cfg = GitChangesConfig(name="config", repo=repo.path, paths=("features/",))
    commits = await GitChanges(cfg).poll()
    deploy = Deploy("files-web", "v9", "ci", start - timedelta(minutes=3), "copy edits", "ci")
    issue = SentryIssue(
        "7",
        "FILES-7",
        "PanicError: bot-features.json holds more features than the limit",
        "error",
        90,
        40,
        start,
        start + timedelta(minutes=1),
    )
    others: dict[str, Reading] = {
        "config": commits,
        "deploys": Deploys("deploys", (deploy,)),
        "sentry": SentryIssues("sentry", (issue,)),
    }

    a = degrade(World(), start, set(HOSTS), others, error="HTTP 500")

    first, second, third = a.suspects
    assert (first.change.kind, first.change.id, first.change.by) == ("config", sha, "Dana")
    assert "touches features/bot-features.json, named in errors" in first.why
    assert first.why[0] == "15m 00s before the failure"
    assert second.change.deploy == deploy and "same service files-web" in second.why
    # An older commit is still a candidate (within the window), ranked by time alone.
    assert third.change.what == "other: tidy" and len(third.why) == 1


def change(kind: str, minutes: float, host: str = "", **kw: str) -> Change:
    at = datetime(2024, 1, 1, 12, 0, tzinfo=UTC) - timedelta(minutes=minutes)
    return Change(kind=kind, host=host, what=kind, at=at, by="", source="s", **kw)


def test_ranking_rules() -> None:
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    clues = FailureClues(
        start=start,
        bound=start + timedelta(seconds=30),
        services=frozenset({"files-web"}),
        failing=(("db-1-health", "tcp://10.0.0.1:5432"),),
        passing=(("db-2-health", "tcp://10.0.0.2:5432"),),
        texts=("FATAL: could not load libpq5 on db-1",),
    )
    window = timedelta(minutes=60)
    late = change("package", -0.25, host="db-1", subject="libpq5")  # inside the bucket
    during = change("config", -5)  # after the bound: made during the failure
    old = change("config", 90)  # before the window
    rollback = replace(
        change("deploy", 1, service="files-web"),
        deploy=Deploy("files-web", "v1", "", start, "", reverts="v2"),
    )
    near = change("maintenance", 1, host="db-2", subject="reinstall")
    far = change("flag", 50, service="files-web", subject="f")
    ranked = rank_suspects([late, during, old, rollback, near, far], clues, window)
    assert [s.change for s in ranked] == [late, far, near]
    assert ranked[0].why[0] == "came as the failure began"
    assert "package libpq5: libpq5 named in errors" in ranked[0].why
    assert "on db-1, where db-1-health fails" in ranked[0].why
    assert "db-1 named in errors" in ranked[0].why
    assert "db-2's probes pass" in ranked[2].why
    # Words, not substrings: web-2 is not web-20.
    twenty = FailureClues(start, start, failing=(("web-20-health", "http://x/"),))
    (only,) = rank_suspects([change("package", 1, host="web-2", subject="x")], twenty, window)
    assert not any("fails" in w for w in only.why)


def test_deploys_only_rank_as_before() -> None:
    """With deploys alone, the first suspect is the deploy the old rule named."""
    start = utcnow()
    clues = FailureClues(start, start, services=frozenset({"files-web"}))
    deploys = [
        Deploy("files-web", f"v{i}", "x", start - timedelta(minutes=m), "")
        for i, m in enumerate((40, 5, 20))
    ]
    from cockpit.sources.changes.merge import merge_changes

    ranked = rank_suspects(merge_changes(deploys, []), clues, timedelta(minutes=60))
    assert [s.change.subject for s in ranked] == ["v1", "v2", "v0"]
