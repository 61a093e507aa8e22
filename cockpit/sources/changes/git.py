"""Commits to a config repository as changes of kind "config", read with `git log`.

Each commit that touches the configured paths (git pathspecs; all commits when none) is a
change: subject = the short sha, id = the full sha (what `git revert` takes), what = the
commit subject, by = the author, paths = the files it touched, detail = the message body.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime

from cockpit.config.changes import GitChangesConfig
from cockpit.model import Category, Change, Changes
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.proc import run_bounded
from cockpit.term.textsafe import one_line
from cockpit.timeutil import iso_utc, parse_iso

CONFIG = "config"
MAX_OUTPUT = 8 * 1_048_576
MAX_PATHS = 50
_FIELD = "\x1f"
_RECORD = "\x1e"
_FORMAT = "%x1e" + "%x1f".join(("%H", "%h", "%cI", "%an", "%s", "%b")) + "%x1f"


class GitChanges:
    kind = "git"
    category = Category.DEPLOYS

    def __init__(self, cfg: GitChangesConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout

    @property
    def target(self) -> str:
        paths = f" ({', '.join(self.cfg.paths)})" if self.cfg.paths else ""
        return f"{self.cfg.repo}{paths}"

    async def aclose(self) -> None:
        pass

    def argv(self) -> list[str]:
        cfg = self.cfg
        return [
            cfg.git,
            "-C",
            str(cfg.repo),
            "--no-pager",
            "log",
            f"--max-count={cfg.max_changes}",
            f"--format={_FORMAT}",
            "--name-only",
            "--end-of-options",
            cfg.branch,
            "--",
            *cfg.paths,
        ]

    async def poll(self) -> Changes:
        repo = self.cfg.repo
        if not repo.is_dir():
            raise SourceError(
                f"no such directory: {repo}" if not repo.exists() else f"not a directory: {repo}"
            )
        env = {
            **os.environ,
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",  # never take the index lock a person's git needs
        }
        out = await run_bounded(self.argv(), timeout=self.timeout, max_bytes=MAX_OUTPUT, env=env)
        if out.exit_code != 0:
            raise SourceError(f"git failed (exit {out.exit_code}): {out.error_line()}")
        changes = []
        for record in out.stdout.decode("utf-8", "replace").split(_RECORD):
            change = self._change(record)
            if change is not None:
                changes.append(change)
        changes = mark_reverted(changes)
        changes.sort(key=lambda c: c.at, reverse=True)
        return Changes(source=self.name, changes=tuple(changes[: self.cfg.max_changes]))

    def _change(self, record: str) -> Change | None:
        fields = record.split(_FIELD)
        if len(fields) < 7:
            return None
        sha, short, date, author, subject = fields[:5]
        body, names = _FIELD.join(fields[5:-1]), fields[-1]
        try:
            at: datetime = parse_iso(date).astimezone(UTC)
        except (ValueError, OverflowError):
            return None
        paths = tuple(n for n in names.strip("\n").splitlines() if n)[:MAX_PATHS]
        return Change(
            kind=CONFIG,
            host=self.cfg.host,
            what=one_line(subject, 300),
            at=at,
            by=one_line(author, 100),
            source=self.name,
            service=self.cfg.service,
            subject=short,
            id=sha,
            paths=paths,
            detail=one_line(body, 500),
            reverts=m.group(1) if (m := _REVERTS.search(body)) else "",
        )


# What `git revert` writes in the message of the commit it makes.
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})")


def mark_reverted(changes: list[Change]) -> list[Change]:
    """Each commit a later `git revert` undid says so (by which commit, when); a revert that
    was itself reverted (the change applied again) undoes nothing."""
    by_revert = {c.reverts: c for c in changes if c.reverts}
    undone = {sha: revert for sha, revert in by_revert.items() if revert.id not in by_revert}
    out = []
    for c in changes:
        revert = undone.get(c.id)
        if revert is not None:
            said = f"{revert.subject} {revert.what} at {iso_utc(revert.at)}"
            c = replace(c, reverted_by=one_line(said, 300))
        out.append(c)
    return out
