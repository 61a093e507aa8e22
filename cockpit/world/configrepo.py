"""The service's configuration repository: a real git repository the drill world commits to.

    repo = ConfigRepo.create(directory / "config-repo", files={...}, history=[...])
    sha = repo.commit({"files-web/http-headers.conf": "..."}, author=..., message=...)
    repo.read("files-web/http-headers.conf")

The service reads its configuration from the working tree on every request (through a cache
keyed by the file's mtime), so `git revert` of a bad commit, the revert a config change source
offers, really fixes the service. Commits carry the author and the date the world gives them;
the repository's own config names an identity for the reverts run in it, so a revert works for
a responder whose git knows no user.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cockpit.timeutil import utcnow

CONFIG_REPO_DIR = "config-repo"
_GIT_TIMEOUT = 30.0


class RepoError(Exception):
    pass


@dataclass(frozen=True)
class ConfigCommit:
    files: Mapping[str, str]  # path -> content
    author: str  # "Name <email>"
    message: str  # subject, blank line, body
    age: timedelta = timedelta(0)  # before the world starts (history only)


def _git_env(at: datetime | None = None, author: str | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") or key in ("GIT_EXEC_PATH",)
    }
    # Nothing of the person's own git setup (hooks, signing, templates) leaks into the world.
    env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
    if at is not None:
        stamp = f"@{int(at.timestamp())} +0000"
        env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    if author is not None:
        name, _, email = author.partition("<")
        env |= {
            "GIT_AUTHOR_NAME": name.strip(),
            "GIT_AUTHOR_EMAIL": email.rstrip(">").strip(),
            "GIT_COMMITTER_NAME": name.strip(),
            "GIT_COMMITTER_EMAIL": email.rstrip(">").strip(),
        }
    return env


class ConfigRepo:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, str | None]] = {}

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else _git_env(),
            timeout=_GIT_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RepoError(f"git {args[0]}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    @classmethod
    def create(cls, path: Path, history: Sequence[ConfigCommit]) -> ConfigRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo._git("init", "-q", "-b", "main")
        repo._git("config", "user.name", "on-call")
        repo._git("config", "user.email", "oncall@drill.invalid")
        repo._git("config", "commit.gpgsign", "false")
        now = utcnow()
        for commit in sorted(history, key=lambda c: -c.age.total_seconds()):
            repo.commit(
                commit.files, author=commit.author, message=commit.message, at=now - commit.age
            )
        return repo

    def commit(
        self,
        files: Mapping[str, str],
        *,
        author: str,
        message: str,
        at: datetime | None = None,
    ) -> str:
        """Write `files` into the working tree and commit them; returns the commit's sha."""
        with self._lock:
            for name, content in files.items():
                target = self.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            self._git("add", "--", *files)
            self._git(
                "commit", "-q", "--no-verify", "-m", message, env=_git_env(at or utcnow(), author)
            )
            return self._git("rev-parse", "HEAD").strip()

    def read(self, name: str) -> str | None:
        """A file of the working tree as the service sees it now (None: not there)."""
        target = self.path / name
        try:
            stamp = target.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            content: str | None = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            content = None
        with self._lock:
            self._cache[name] = (stamp, content)
        return content

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").strip()
