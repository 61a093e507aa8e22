"""Deploys from a real git repository: release tags and merge commits."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.config import parse
from cockpit.config.deploys import GitDeploysConfig
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.git import GitDeploys


class Repo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, who: str = "Alice", when: str = "2024-08-02T06:00:00Z") -> str:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": who,
            "GIT_AUTHOR_EMAIL": f"{who.lower()}@example.com",
            "GIT_COMMITTER_NAME": who,
            "GIT_COMMITTER_EMAIL": f"{who.lower()}@example.com",
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
        }
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], env=env, check=True, capture_output=True
        )
        return done.stdout.decode().strip()

    def commit(self, message: str, **kw: str) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", message, **kw)
        return self.git("rev-parse", "--short", "HEAD")


def source(repo: Path, **kw: object) -> GitDeploys:
    cfg = GitDeploysConfig(name="git", repo=repo, service="files-web", **kw)  # type: ignore[arg-type]
    return GitDeploys(cfg)


async def test_tags_newest_first_with_author_time_and_inert_subject(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("initial import", who="Alice", when="2024-08-01T10:00:00Z")
    repo.git("tag", "v1", when="2024-08-01T10:00:00Z")
    # A subject with a terminal escape: it must arrive inert.
    repo.commit("SFTP: \x1b[31mpool\x1b[0m sessions", who="Bob", when="2024-08-02T08:52:00+02:00")
    repo.git("tag", "-a", "v2", "-m", "release 2", who="Carol", when="2024-08-02T06:52:30Z")
    repo.commit("not released", when="2024-08-02T07:00:00Z")
    repo.git("tag", "build-7", when="2024-08-02T07:00:00Z")  # does not match v*

    reading = await source(repo.path, tags="v*").poll()
    assert reading.source == "git"
    assert [d.version for d in reading.deploys] == ["v2", "v1"]
    v2, v1 = reading.deploys
    assert v2.at == datetime(2024, 8, 2, 6, 52, 30, tzinfo=UTC)  # the tag's own time
    assert v2.who == "Carol"  # who tagged the release
    assert v2.summary == "SFTP: \ufffdpool\ufffd sessions"
    assert v2.service == "files-web" and v2.source == "git"
    assert v1.at == datetime(2024, 8, 1, 10, 0, tzinfo=UTC)  # lightweight: the commit's
    assert v1.who == "Alice" and v1.summary == "initial import"


async def test_max_deploys_bounds_the_answer(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    for n in range(5):
        when = f"2024-08-0{n + 1}T06:00:00Z"
        repo.commit(f"change {n}", when=when)
        repo.git("tag", f"v{n}", when=when)
    reading = await source(repo.path, max_deploys=2).poll()
    assert [d.version for d in reading.deploys] == ["v4", "v3"]


async def test_merges_on_a_branch(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("base", when="2024-08-01T09:00:00Z")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("work on feature", who="Bob", when="2024-08-01T10:00:00Z")
    repo.git("checkout", "-q", "main")
    repo.git(
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #12 from bob/feature",
        "feature",
        who="Dana",
        when="2024-08-02T06:52:00Z",
    )
    merge_sha = repo.git("rev-parse", "--short", "HEAD")
    repo.commit("direct commit, not a deploy", when="2024-08-02T07:00:00Z")

    reading = await source(repo.path, mode="merges", branch="main").poll()
    [merge] = reading.deploys
    assert merge.version == merge_sha
    assert merge.who == "Dana"
    assert merge.at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    assert merge.summary == "Merge pull request #12 from bob/feature"


async def test_no_tags_is_an_empty_history(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("nothing tagged")
    assert (await source(repo.path).poll()).deploys == ()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such directory"),
        (lambda p: p.mkdir(), "not a git repository"),
        (lambda p: p.write_text("x"), "not a directory"),
    ],
)
async def test_missing_or_not_a_repository(
    tmp_path: Path, make: object, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "repo"
    make(path)  # type: ignore[operator]
    # git must not find some repository above tmp_path instead.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(SourceError, match=message):
        await source(path).poll()


async def test_unknown_branch_and_missing_git_are_clear(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("base")
    with pytest.raises(SourceError, match=r"git failed \(exit 128\): fatal: .*release"):
        await source(repo.path, mode="merges", branch="release").poll()
    with pytest.raises(SourceError, match=r"cannot start .*not found"):
        await source(repo.path, git=str(tmp_path / "no-git")).poll()


def test_config_checks(tmp_path: Path) -> None:
    from cockpit.config import ConfigError

    text = f"""
[[deploys]]
name = "git"
kind = "git"
repo = "{tmp_path}"
service = "files-web"
mode = "{{mode}}"
branch = "{{branch}}"
"""
    parsed = parse(text.format(mode="merges", branch="main"))
    assert isinstance(parsed.deploys[0], GitDeploysConfig)
    with pytest.raises(ConfigError, match="mode: expected one of: tags, merges"):
        parse(text.format(mode="commits", branch="main"))
    with pytest.raises(ConfigError, match="branch"):
        parse(text.format(mode="merges", branch="--output=/tmp/x"))
