"""Changes printed as JSON by a program (argv, no shell): a feature-flag service's audit log,
`kubectl rollout history` through jq, anything. The output is one JSON array of objects or one
object per line, each as `cockpit.sources.changes.records.change_from_record` reads it. Output
that is not such records fails the poll with the reason: half-understood output is not truth.
"""

from __future__ import annotations

from cockpit.config.changes import CommandChangesConfig
from cockpit.model import Category, Change, Changes
from cockpit.sources.base import SourceError
from cockpit.sources.changes.packages import LogContext
from cockpit.sources.changes.records import change_from_record
from cockpit.sources.deploys.proc import run_bounded
from cockpit.sources.json_records import json_records
from cockpit.term.textsafe import one_line


def parse_output(text: str, ctx: LogContext) -> list[Change]:
    records = json_records(text, "changes")
    changes = []
    for where, record in records:
        try:
            changes.append(change_from_record(record, ctx))
        except ValueError as exc:
            raise SourceError(f"output {where} is not a change: {one_line(str(exc))}") from None
    return changes


class CommandChanges:
    kind = "command"
    category = Category.DEPLOYS

    def __init__(self, cfg: CommandChangesConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self.ctx = LogContext(cfg.name, cfg.host, cfg.service)

    @property
    def target(self) -> str:
        return self.cfg.command[0]  # arguments may carry tokens: the program name is enough

    async def aclose(self) -> None:
        pass

    async def poll(self) -> Changes:
        cfg = self.cfg
        out = await run_bounded(cfg.command, timeout=cfg.timeout, max_bytes=cfg.max_output_bytes)
        if out.exit_code != 0:
            code = out.exit_code
            how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
            detail = out.error_line()
            raise SourceError(
                f"{cfg.command[0]} failed ({how})" + (f": {detail}" if detail else "")
            )
        try:
            text = out.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{cfg.command[0]} printed bytes that are not UTF-8") from None
        changes = parse_output(text, self.ctx)
        changes.sort(key=lambda c: c.at, reverse=True)
        return Changes(source=self.name, changes=tuple(changes[: cfg.max_changes]))
