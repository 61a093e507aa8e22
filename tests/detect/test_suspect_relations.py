"""What fails relates a change by its words: the failing route and probe name a config file,
closeness counts sharply, a bare "same service" does not beat a path, and only the likeliest
candidates are listed. The history is the one a user recorded against real servers: a real
git repo with the commits they made, their dpkg upgrade and install, the deploy log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from config_repos import Repo

from cockpit.config.changes import GitChangesConfig
from cockpit.detect.change_suspects import (
    MAX_SUSPECTS,
    FailureClues,
    rank_candidates,
    rank_suspects,
)
from cockpit.model import Change, Deploy
from cockpit.sources.changes.git import GitChanges
from cockpit.sources.changes.merge import merge_changes

START = datetime(2026, 12, 3, 13, 41, 0, tzinfo=UTC)  # the spike's first bucket
CLUES = FailureClues(
    start=START,
    bound=START + timedelta(seconds=10),
    services=frozenset({"files-web"}),
    failing=(("upload", "http://127.0.0.1:18480/api/upload"),),
    passing=(("web-health", "http://127.0.0.1:18480/healthz"),),
    texts=("HTTP 503",),
    routes=("/api/upload",),
)
WINDOW = timedelta(minutes=60)


async def recorded(tmp_path: Path) -> tuple[str, ...]:
    repo = Repo(tmp_path / "cfgrepo")
    repo.commit("nginx/upload.conf", "a\n", "nginx: upload limits", when="2026-12-03T13:40:27Z")
    repo.commit("features/flags.json", "{}", "features: flags", when="2026-12-03T13:40:49Z")
    tighten = repo.commit(
        "nginx/upload.conf", "b\n", "nginx: tighten upload body size", when="2026-12-03T13:40:49Z"
    )
    cfg = GitChangesConfig(name="config-repo", repo=repo.path, paths=("nginx/", "features/"))
    commits = await GitChanges(cfg).poll()
    return tighten, commits  # type: ignore[return-value]


def package(at: str, old: str, new: str) -> Change:
    when = datetime.fromisoformat(at).replace(tzinfo=UTC)
    what = f"files-web-proxy-conf {old or '<none>'} -> {new}"
    return Change(
        "package", "web-1", what, when, "dpkg", "web-1-dpkg", "", "files-web-proxy-conf", old, new
    )


async def test_the_commit_touching_the_failing_routes_file_ranks_first(tmp_path: Path) -> None:
    tighten, commits = await recorded(tmp_path)
    deploys = [
        Deploy("files-web", "2026.12.03-1", "bob", START - timedelta(hours=3), "routine"),
        Deploy("files-web", "2026.12.03-2", "bob", START - timedelta(seconds=93), "login copy"),
    ]
    maintenance = Change(
        "maintenance",
        "web-9",
        "rotate old logs",
        START - timedelta(minutes=20, seconds=33),
        "carol",
        "m",
    )
    others = (
        package("2026-12-03T13:40:33", "", "1.1"),
        package("2026-12-03T13:40:49", "1.1", "1.2"),
        maintenance,
    )
    changes = merge_changes(deploys, [commits, _changes("web-1-dpkg", others)])  # type: ignore[list-item]

    ranked = rank_candidates(changes, CLUES, WINDOW)
    first = ranked[0]
    assert first.change.id == tighten
    assert "touches nginx/upload.conf; /api/upload fails" in first.why
    assert first.why[0] == "11s before the failure"
    # The same-service deploy 93 s before comes after both commits to the upload config.
    kinds = [(s.change.kind, s.change.what) for s in ranked]
    deploy_at = kinds.index(("deploy", "files-web 2026.12.03-2"))
    assert deploy_at > kinds.index(("config", "nginx: upload limits"))
    # Listed: the likeliest; the rest are counted by the detector, not listed.
    listed = rank_suspects(changes, CLUES, WINDOW)
    assert len(listed) == MAX_SUSPECTS < len(ranked)
    assert ranked[-1].change == maintenance  # unrelated, 20 min before: least likely


def _changes(source: str, changes: tuple[Change, ...]):  # type: ignore[no-untyped-def]
    from cockpit.model import Changes

    return Changes(source, changes)


def test_closeness_is_sharp_and_a_bare_service_loses_to_a_path() -> None:
    def at(seconds: float, **kw: object) -> Change:
        return Change(
            "config",
            "",
            str(kw.pop("what", "x")),
            START - timedelta(seconds=seconds),
            "",
            "s",
            **kw,  # type: ignore[arg-type]
        )

    near, far = at(11, what="near"), at(95, what="far")
    ranked = rank_suspects([far, near], CLUES, WINDOW)
    assert [s.change for s in ranked] == [near, far]
    assert ranked[0].score - ranked[1].score > 0.3  # seconds beat minutes, not a rounding
    # A deploy of the service at the failure's very start still ranks below a path match.
    same = at(0, what="files-web v2", service="files-web")
    path = at(600, what="tidy", paths=("nginx/upload.conf",))
    assert [s.change for s in rank_suspects([same, path], CLUES, WINDOW)] == [path, same]
    # A message word relates too, less than a path; common words (api) relate nothing.
    word = at(600, what="raise the upload limit")
    api = at(600, what="api cleanup")
    ranked = rank_suspects([api, word], CLUES, WINDOW)
    assert ranked[0].change == word and "says upload; /api/upload fails" in ranked[0].why
    assert len(ranked[1].why) == 1


async def test_a_commit_git_reverted_is_shown_reverted_not_suspected(tmp_path: Path) -> None:
    """The commit reverted through R (or by hand with `git revert`) is no suspect again, says
    by which commit and when, and R on it says it was already reverted."""
    import pytest

    from cockpit.actions.change_revert import plan_change_revert
    from cockpit.actions.revert_plan import RevertError

    tighten, _ = await recorded(tmp_path)
    repo = Repo.__new__(Repo)
    repo.path = tmp_path / "cfgrepo"
    repo.git("revert", "--no-edit", tighten, when="2026-12-03T13:42:44Z")
    revert_sha = repo.git("rev-parse", "HEAD")
    cfg = GitChangesConfig(name="config-repo", repo=repo.path, paths=("nginx/", "features/"))
    commits = (await GitChanges(cfg).poll()).changes
    undone = next(c for c in commits if c.id == tighten)
    revert = next(c for c in commits if c.id == revert_sha)
    assert revert.reverts == tighten
    assert undone.reverted_by.startswith(revert_sha[:7] + ' Revert "nginx: tighten upload')
    assert undone.reverted_by.endswith("at 2026-12-03T13:42:44Z")

    later = FailureClues(
        START + timedelta(minutes=5), START + timedelta(minutes=5), routes=CLUES.routes
    )
    ranked = [s.change.id for s in rank_candidates(commits, later, WINDOW)]
    assert tighten not in ranked and revert_sha not in ranked
    assert ranked[0] == next(c.id for c in commits if c.what == "nginx: upload limits")
    with pytest.raises(RevertError, match="config .* was already reverted: by " + revert_sha[:7]):
        plan_change_revert(undone, cfg)
