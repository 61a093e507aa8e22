"""Deploys printed by a program (argv, no shell) as JSON.

The output is either one JSON array of objects or one object per line, each like a deploy
log line: {"service": ..., "version": ..., "who": ..., "at": "2024-08-02T06:52:00Z",
"summary": ..., "reverts": null}. "service" may be left out when the config names one.
A program that fails, prints too much or prints anything that is not such a record makes
the poll fail with a message saying which: half-understood output is not shown as truth.
"""

from __future__ import annotations

from cockpit.config.deploys import CommandDeploysConfig
from cockpit.model import Category, Deploy, Deploys
from cockpit.sources.base import SourceError
from cockpit.sources.deploys.log import deploy_from_record
from cockpit.sources.deploys.proc import run_bounded
from cockpit.sources.json_records import json_records


def parse_output(text: str, source: str, default_service: str = "") -> list[Deploy]:
    """Program output -> deploys; SourceError names the first record that is not one."""
    records = json_records(text, "deploys")
    deploys = []
    for where, record in records:
        try:
            deploys.append(deploy_from_record(record, source, default_service))
        except ValueError as exc:
            raise SourceError(f"output {where} is not a deploy: {exc}") from None
    return deploys


class CommandDeploys:
    kind = "command"
    category = Category.DEPLOYS

    def __init__(self, cfg: CommandDeploysConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout

    @property
    def target(self) -> str:
        return self.cfg.command[0]  # arguments may carry tokens: the program name is enough

    async def aclose(self) -> None:
        pass

    async def poll(self) -> Deploys:
        cfg = self.cfg
        out = await run_bounded(cfg.command, timeout=cfg.timeout, max_bytes=cfg.max_output_bytes)
        if out.exit_code != 0:
            how = (
                f"killed by signal {-out.exit_code}"
                if out.exit_code < 0
                else f"exit {out.exit_code}"
            )
            detail = out.error_line()
            raise SourceError(
                f"{cfg.command[0]} failed ({how})" + (f": {detail}" if detail else "")
            )
        try:
            text = out.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{cfg.command[0]} printed bytes that are not UTF-8") from None
        deploys = parse_output(text, self.name, cfg.service)
        deploys.sort(key=lambda d: d.at, reverse=True)
        return Deploys(source=self.name, deploys=tuple(deploys[: cfg.max_deploys]))
