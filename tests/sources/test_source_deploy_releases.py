"""Deploys from a real Capistrano-style releases directory."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.config.deploys import ReleasesDeploysConfig
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.releases import ReleasesDeploys, stamp_time


def release(root: Path, name: str, **files: str) -> Path:
    """A release directory; `meta=` is its .deploy.json, other keywords are file names."""
    path = root / "releases" / name
    path.mkdir(parents=True)
    for file_name, text in files.items():
        target = ".deploy.json" if file_name == "meta" else file_name
        (path / target).write_text(text)
    return path


def point_current(root: Path, name: str, at: float | None = None) -> None:
    temporary = root / ".current.tmp"
    os.symlink(f"releases/{name}", temporary)
    os.replace(temporary, root / "current")
    if at is not None:
        os.utime(root / "current", (at, at), follow_symlinks=False)


def source(root: Path, **kw: object) -> ReleasesDeploys:
    cfg = ReleasesDeploysConfig(name="releases", root=root, service="files-web", **kw)  # type: ignore[arg-type]
    return ReleasesDeploys(cfg)


def test_stamp_formats() -> None:
    expected = datetime(2024, 8, 2, 6, 52, 0, tzinfo=UTC)
    for name in (
        "20240802065200",
        "20240802T065200Z",
        "2024-08-02T06:52:00Z",
        "20240802T065200Z-2",
    ):
        assert stamp_time(name) == expected, name
    for name in ("v1.2", "20241302065200", "2024080206"):
        assert stamp_time(name) is None, name


async def test_each_release_is_a_deploy_and_current_is_known(tmp_path: Path) -> None:
    release(tmp_path, "20240801100000", REVISION="0123abcd\n")
    release(
        tmp_path,
        "20240802065200",
        meta=json.dumps({"who": "bob", "summary": "pool \x1b[2Jsessions"}),
    )
    odd = release(tmp_path, "hotfix")  # no time in its name: its mtime counts
    os.utime(odd, (1722581000, 1722581000))  # 2024-08-02T06:43:20Z
    (tmp_path / "releases" / "README").write_text("not a release")
    point_current(tmp_path, "20240802065200")

    src = source(tmp_path)
    reading = await src.poll()
    assert [d.version for d in reading.deploys] == ["20240802065200", "hotfix", "20240801100000"]
    newest, hotfix, oldest = reading.deploys
    assert newest.at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)
    assert (newest.who, newest.summary) == ("bob", "pool \ufffdsessions")
    assert hotfix.at == datetime(2024, 8, 2, 6, 43, 20, tzinfo=UTC)
    assert oldest.summary == "revision 0123abcd"
    assert all(d.reverts is None for d in reading.deploys)
    assert src.current == "20240802065200"


async def test_a_version_file_names_the_release(tmp_path: Path) -> None:
    # The drill world's layout: <stamp>-<version>/VERSION.
    release(tmp_path, "20240802T065200Z-2", VERSION="2\n")
    point_current(tmp_path, "20240802T065200Z-2")
    [deploy] = (await source(tmp_path).poll()).deploys
    assert deploy.version == "2"
    assert deploy.at == datetime(2024, 8, 2, 6, 52, tzinfo=UTC)


async def test_current_pointing_back_is_a_rollback(tmp_path: Path) -> None:
    release(tmp_path, "20240801100000")
    release(tmp_path, "20240802065200")
    rolled_back_at = datetime(2024, 8, 2, 7, 41, tzinfo=UTC)
    point_current(tmp_path, "20240801100000", at=rolled_back_at.timestamp())
    src = source(tmp_path)
    reading = await src.poll()
    rollback = reading.deploys[0]
    assert rollback.version == "20240801100000"
    assert rollback.reverts == "20240802065200"
    assert rollback.at == rolled_back_at
    assert src.current == "20240801100000"


async def test_broken_or_missing_layout(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no releases directory"):
        await source(tmp_path / "nowhere").poll()
    (tmp_path / "releases").write_text("a file")
    with pytest.raises(SourceError, match="not a directory"):
        await source(tmp_path).poll()


async def test_dangling_current_is_not_an_error(tmp_path: Path) -> None:
    release(tmp_path, "20240801100000")
    os.symlink("releases/gone", tmp_path / "current")
    src = source(tmp_path)
    reading = await src.poll()
    assert [d.version for d in reading.deploys] == ["20240801100000"]
    assert src.current is None
