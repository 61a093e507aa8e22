"""From a real deploy history to a real revert: a releases directory with its symlink switch,
a git repository's tags, a deploy log with a hostile version string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.actions.audit import attempts, read_audit
from cockpit.actions.revert import (
    RevertError,
    RevertOutcome,
    RevertPlan,
    plan_revert,
    run_revert,
)
from cockpit.config import JsonlDeployLogConfig, parse
from cockpit.config.deploys import GitDeploysConfig, ReleasesDeploysConfig
from cockpit.config.services import ServiceConfig
from cockpit.incident.store.connection import store_path
from cockpit.incident.store.sqlite import IncidentStore
from cockpit.model import Deploy
from cockpit.sources.deploys.git import GitDeploys
from cockpit.sources.deploys.log import JsonlDeployLog
from cockpit.sources.deploys.releases import ReleasesDeploys

PY = sys.executable


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IncidentStore]:
    with IncidentStore(store_path(tmp_path / "data")) as s:
        yield s


async def run(
    plan: RevertPlan, store: IncidentStore, data: Path
) -> tuple[RevertOutcome, list[str]]:
    lines: list[str] = []
    outcome = await run_revert(
        plan, store=store, data_dir=data, user="alice", on_output=lines.append
    )
    return outcome, lines


def make_releases(root: Path, *names: str) -> None:
    for name in names:
        (root / "releases" / name).mkdir(parents=True)
        (root / "releases" / name / "REVISION").write_text(f"sha-of-{name}\n")
    os.symlink(f"releases/{names[-1]}", root / "current")


async def test_releases_switch_points_current_at_the_previous_release(
    tmp_path: Path, store: IncidentStore
) -> None:
    root = tmp_path / "srv"
    make_releases(root, "20240801100000", "20240802065200")
    source = ReleasesDeploys(ReleasesDeploysConfig(name="rel", root=root, service="files-web"))
    deploys = (await source.poll()).deploys
    service = parse(f'[[services]]\nname = "files-web"\nreleases_root = "{root}"\n').service(
        "files-web"
    )
    plan = plan_revert(service, deploys)
    assert plan.executor == "releases"
    assert (plan.from_version, plan.to_version) == ("20240802065200", "20240801100000")
    assert plan.command_line() == (
        f"point {root / 'current'} at releases/20240801100000 (atomic symlink swap)"
    )

    outcome, lines = await run(plan, store, tmp_path / "data")
    assert outcome.ok
    assert os.readlink(root / "current") == "releases/20240801100000"
    assert lines[-1] == (
        f"{root / 'current'} -> releases/20240801100000 (was releases/20240802065200)"
    )
    assert not [p for p in root.iterdir() if p.name.startswith(".current")]  # no temp left
    [entry] = attempts(read_audit(tmp_path / "data"))
    assert entry["plan"]["switch"]["target"] == "releases/20240801100000"
    assert [e.kind for e in store.events()] == ["revert.started", "revert.finished"]

    # The source now sees the rollback, so the next plan does not "revert" to it again.
    after = (await source.poll()).deploys
    assert (after[0].version, after[0].reverts) == ("20240801100000", "20240802065200")
    with pytest.raises(RevertError, match="no earlier version"):
        plan_revert(service, after)


async def test_releases_switch_finds_a_release_by_its_version_file(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    for name, version in (("20240801T100000Z-1", "1"), ("20240802T065200Z-2", "2")):
        (root / "releases" / name).mkdir(parents=True)
        (root / "releases" / name / "VERSION").write_text(version + "\n")
    source = ReleasesDeploys(ReleasesDeploysConfig(name="rel", root=root, service="files-web"))
    deploys = (await source.poll()).deploys
    plan = plan_revert(ServiceConfig(name="files-web", releases_root=root), deploys)
    assert plan.switch is not None and plan.switch.target == "releases/20240801T100000Z-1"


async def test_releases_switch_failures(tmp_path: Path, store: IncidentStore) -> None:
    root = tmp_path / "srv"
    make_releases(root, "20240801100000", "20240802065200")
    service = ServiceConfig(name="files-web", releases_root=root)
    source = ReleasesDeploys(ReleasesDeploysConfig(name="rel", root=root, service="files-web"))
    plan = plan_revert(service, (await source.poll()).deploys)
    # The release vanished between plan and confirmation.
    (root / "releases" / "20240801100000" / "REVISION").unlink()
    (root / "releases" / "20240801100000").rmdir()
    outcome, _ = await run(plan, store, tmp_path / "data")
    assert not outcome.ok
    assert "is not a directory" in outcome.reason
    assert os.readlink(root / "current") == "releases/20240802065200"
    assert store.events()[-1].kind == "revert.finished"
    # A deploy log naming a version with no release: refused at plan time.
    history = list((await source.poll()).deploys)
    history.append(
        Deploy("files-web", "0.9", "x", history[-1].at.replace(year=2023), "", source="log")
    )
    with pytest.raises(RevertError, match=r"no release '0\.9'"):
        plan_revert(service, history)


def git(repo: Path, *args: str, when: str) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bob",
        "GIT_AUTHOR_EMAIL": "bob@example.com",
        "GIT_COMMITTER_NAME": "Bob",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def recorder(tmp_path: Path) -> tuple[str, Path]:
    record = tmp_path / "argv.json"
    script = tmp_path / "record.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys
            with open({str(record)!r}, "a") as out:
                out.write(json.dumps(sys.argv[1:]) + "\\n")
            print("rolled back")
            """
        )
    )
    return str(script), record


async def test_revert_of_a_git_tag_runs_the_command_with_the_previous_tag(
    tmp_path: Path, store: IncidentStore
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", when="2024-08-01T09:00:00Z")
    for tag, when in (("v1.0", "2024-08-01T10:00:00Z"), ("v1.1", "2024-08-02T06:52:00Z")):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"release {tag}", when=when)
        git(repo, "tag", tag, when=when)
    source = GitDeploys(GitDeploysConfig(name="git", repo=repo, service="files-web"))
    deploys = (await source.poll()).deploys
    script, record = recorder(tmp_path)
    service = ServiceConfig(
        name="files-web",
        revert=(PY, script, "rollback", "--to", "{previous.version}", "--from={current.version}"),
    )
    plan = plan_revert(service, deploys)
    outcome, lines = await run(plan, store, tmp_path / "data")
    assert outcome.ok
    assert json.loads(record.read_text()) == ["rollback", "--to", "v1.0", "--from=v1.1"]
    assert "rolled back" in lines


async def test_a_hostile_version_in_the_deploy_log_stays_one_argument(
    tmp_path: Path, store: IncidentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "1.2; rm -rf / $(touch pwned) `touch pwned2` | tee x && echo 'a b'"
    log = tmp_path / "deploys.jsonl"
    log.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {"service": "files-web", "version": hostile, "at": "2024-08-01T10:00:00Z"},
                {"service": "files-web", "version": "2", "at": "2024-08-02T06:52:00Z"},
            )
        )
        + "\n"
    )
    deploys = (await JsonlDeployLog(JsonlDeployLogConfig(name="log", path=log)).poll()).deploys
    script, record = recorder(tmp_path)
    service = ServiceConfig(name="files-web", revert=(PY, script, "--to", "{previous.version}"))
    plan = plan_revert(service, deploys)
    monkeypatch.chdir(tmp_path)  # where a shell would have created "pwned"
    outcome, _ = await run(plan, store, tmp_path / "data")
    assert outcome.ok
    assert record.read_text().splitlines() == [json.dumps(["--to", hostile])]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
