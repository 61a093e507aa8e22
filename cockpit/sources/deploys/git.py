"""Deploys read from a local git repository, with the `git` program.

mode = "tags":   each tag matching a glob (e.g. "v*") is a deploy; version = tag name,
                 at = tag time (commit time for a lightweight tag), who = tagger or author.
mode = "merges": each merge commit on a branch (first-parent history) is a deploy;
                 version = short sha, at = commit time, who = author.
The summary is the commit subject, made inert.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from cockpit.config.deploys import GitDeploysConfig
from cockpit.model import Category, Deploy, Deploys
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.proc import run_bounded
from cockpit.term.textsafe import one_line
from cockpit.timeutil import parse_iso

MAX_OUTPUT = 4 * 1_048_576
_FIELD = "\x1f"
_RECORD = "\x1e"

# for-each-ref: %(*field) is the tagged commit's field (annotated tags); empty otherwise.
_TAG_FORMAT = (
    "%1f".join(
        (
            "%(refname:short)",
            "%(creatordate:iso-strict)",
            "%(taggername)",
            "%(authorname)",
            "%(*authorname)",
            "%(subject)",
            "%(*subject)",
        )
    )
    + "%1e"
)
_MERGE_FORMAT = "%x1f".join(("%h", "%cI", "%an", "%s")) + "%x1e"


class GitDeploys:
    kind = "git"
    category = Category.DEPLOYS

    def __init__(self, cfg: GitDeploysConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.skipped = 0  # records of the last poll that could not be read

    @property
    def target(self) -> str:
        return f"{self.cfg.repo} ({self._what()})"

    def _what(self) -> str:
        cfg = self.cfg
        return f"tags {cfg.tags}" if cfg.mode == "tags" else f"merges on {cfg.branch}"

    async def aclose(self) -> None:
        pass

    def argv(self) -> list[str]:
        cfg = self.cfg
        base = [cfg.git, "-C", str(cfg.repo), "--no-pager"]
        if cfg.mode == "tags":
            return [
                *base,
                "for-each-ref",
                "--sort=-creatordate",
                f"--count={cfg.max_deploys}",
                f"--format={_TAG_FORMAT}",
                f"refs/tags/{cfg.tags}",
            ]
        return [
            *base,
            "log",
            "--merges",
            "--first-parent",
            f"--max-count={cfg.max_deploys}",
            f"--format={_MERGE_FORMAT}",
            "--end-of-options",
            cfg.branch,
            "--",
        ]

    async def poll(self) -> Deploys:
        repo = self.cfg.repo
        if not repo.exists():
            raise SourceError(f"no such directory: {repo}")
        if not repo.is_dir():
            raise SourceError(f"not a directory: {repo}")
        env = {
            **os.environ,
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            # A monitor must not take the index lock a person's `git` command needs.
            "GIT_OPTIONAL_LOCKS": "0",
        }
        out = await run_bounded(self.argv(), timeout=self.timeout, max_bytes=MAX_OUTPUT, env=env)
        if out.exit_code != 0:
            raise SourceError(f"git failed (exit {out.exit_code}): {out.error_line()}")
        text = out.stdout.decode("utf-8", "replace")
        parse = self._tag if self.cfg.mode == "tags" else self._merge
        deploys: list[Deploy] = []
        skipped = 0
        for record in text.split(_RECORD):
            record = record.strip("\n")
            if not record:
                continue
            deploy = parse(record.split(_FIELD))
            if deploy is None:
                skipped += 1
            else:
                deploys.append(deploy)
        self.skipped = skipped
        deploys.sort(key=lambda d: d.at, reverse=True)
        return Deploys(source=self.name, deploys=tuple(deploys[: self.cfg.max_deploys]))

    def _tag(self, fields: list[str]) -> Deploy | None:
        if len(fields) != 7:
            return None
        tag, date, tagger, author, tagged_author, subject, tagged_subject = fields
        at = _when(date)
        if not tag or at is None:
            return None
        return self._deploy(tag, at, tagger or author or tagged_author, tagged_subject or subject)

    def _merge(self, fields: list[str]) -> Deploy | None:
        if len(fields) != 4:
            return None
        sha, date, author, subject = fields
        at = _when(date)
        if not sha or at is None:
            return None
        return self._deploy(sha, at, author, subject)

    def _deploy(self, version: str, at: datetime, who: str, summary: str) -> Deploy:
        return Deploy(
            service=self.cfg.service,
            version=version,  # exact: a tag name or a commit, passed on as it is
            who=one_line(who, 100),
            at=at,
            summary=one_line(summary, 500),
            source=self.name,
        )


def _when(text: str) -> datetime | None:
    try:
        return parse_iso(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
