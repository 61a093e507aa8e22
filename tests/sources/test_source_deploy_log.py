"""JsonlDeployLog on real files: incremental reads, bad lines, truncation, replacement."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.config import JsonlDeployLogConfig
from cockpit.model import Category
from cockpit.sources.base import SourceError
from cockpit.sources.deploys import log as deploy_log
from cockpit.sources.deploys.log import JsonlDeployLog, parse_deploy


def line(version: str, at: str, **extra: object) -> str:
    record: dict[str, object] = {
        "service": "files-web",
        "version": version,
        "who": "alice",
        "at": at,
        "summary": f"release {version}",
        "reverts": None,
    }
    record.update(extra)
    return json.dumps(record) + "\n"


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write("".join(lines))


def source(path: Path, max_deploys: int = 50) -> JsonlDeployLog:
    return JsonlDeployLog(JsonlDeployLogConfig(name="deploys", path=path, max_deploys=max_deploys))


def versions(result: object) -> list[str]:
    return [d.version for d in result.deploys]  # type: ignore[attr-defined]


async def test_reads_new_lines_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(path, line("1", "2026-11-21T06:00:00Z"), line("2", "2026-11-21T06:30:00Z"))
    log = source(path)
    first = await log.poll()
    assert first.source == "deploys"
    assert versions(first) == ["2", "1"]
    newest = first.deploys[0]
    assert newest.at == datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
    assert (newest.service, newest.who, newest.summary, newest.source) == (
        "files-web",
        "alice",
        "release 2",
        "deploys",
    )
    assert (log.category, log.kind, log.target) == (Category.DEPLOYS, "jsonl", str(path))

    assert versions(await log.poll()) == ["2", "1"]  # nothing new, nothing doubled
    append(path, line("3", "2026-11-21T06:52:00Z", reverts=None))
    append(path, line("4", "2026-11-21T07:41:00+00:00", reverts="3", who="bob"))
    result = await log.poll()
    assert versions(result) == ["4", "3", "2", "1"]
    assert result.deploys[0].reverts == "3"
    assert result.deploys[0].who == "bob"


async def test_half_written_line_waits_for_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    whole = line("1", "2026-11-21T06:00:00Z")
    append(path, whole[:30])
    log = source(path)
    assert versions(await log.poll()) == []
    assert log.bad_lines == 0
    append(path, whole[30:-1])  # complete record, newline not yet written
    assert versions(await log.poll()) == ["1"]
    append(path, "\n", line("2", "2026-11-21T06:10:00Z"))
    assert versions(await log.poll()) == ["2", "1"]
    assert log.bad_lines == 0


async def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(
        path,
        line("1", "2026-11-21T06:00:00Z"),
        "not json at all\n",
        "[1, 2]\n",
        '{"service": "files-web", "version": "x"}\n',  # no time
        line("bad-time", "yesterday"),
        "\n",  # blank lines are not counted
        "\xff\xfe garbage\n",
        line("2", "2026-11-21T06:30:00Z"),
    )
    log = source(path)
    assert versions(await log.poll()) == ["2", "1"]
    assert log.bad_lines == 5


async def test_keeps_only_the_most_recent(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(path, *(line(str(i), f"2026-11-21T06:{i:02d}:00Z") for i in range(10)))
    log = source(path, max_deploys=3)
    assert versions(await log.poll()) == ["9", "8", "7"]
    # An out-of-order line older than what is kept does not displace anything.
    append(path, line("late", "2026-11-21T05:00:00Z"), line("10", "2026-11-21T06:10:00Z"))
    assert versions(await log.poll()) == ["10", "9", "8"]


async def test_truncated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(path, line("1", "2026-11-21T06:00:00Z"), line("2", "2026-11-21T06:30:00Z"))
    log = source(path)
    assert versions(await log.poll()) == ["2", "1"]
    path.write_text(line("9", "2026-11-21T09:00:00Z"))
    assert versions(await log.poll()) == ["9"]


async def test_file_rewritten_in_place_to_a_larger_size_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(path, line("1", "2026-11-21T06:00:00Z"))
    log = source(path)
    assert versions(await log.poll()) == ["1"]
    inode = path.stat().st_ino
    path.write_text(line("7", "2026-11-21T07:00:00Z") + line("8", "2026-11-21T08:00:00Z"))
    assert path.stat().st_ino == inode
    assert versions(await log.poll()) == ["8", "7"]


async def test_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    append(path, line("1", "2026-11-21T06:00:00Z"), line("2", "2026-11-21T06:30:00Z"))
    log = source(path)
    assert versions(await log.poll()) == ["2", "1"]
    fresh = tmp_path / "deploys.jsonl.new"
    # Longer than the old file, so only the inode tells it apart.
    fresh.write_text("".join(line(f"r{i}", f"2026-11-21T10:0{i}:00Z") for i in range(4)))
    os.replace(fresh, path)
    assert versions(await log.poll()) == ["r3", "r2", "r1", "r0"]


async def test_large_history_reads_only_its_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_log, "TAIL_BYTES", 4096)
    path = tmp_path / "deploys.jsonl"
    append(path, *(line(str(i), f"2026-11-{1 + i // 1440:02d}T00:00:00Z") for i in range(2000)))
    log = source(path, max_deploys=5)
    assert versions(await log.poll()) == ["1999", "1998", "1997", "1996", "1995"]
    assert log.bad_lines == 0  # the line cut by the tail boundary is not counted


async def test_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "deploys.jsonl"
    log = source(path)
    with pytest.raises(SourceError) as caught:
        await log.poll()
    assert str(caught.value) == f"no such file: {path}"
    path.parent.mkdir()
    append(path, line("1", "2026-11-21T06:00:00Z"))
    assert versions(await log.poll()) == ["1"]


def test_untrusted_text_is_inert() -> None:
    raw = line(
        "1\x1b[2J",
        "2026-11-21T06:00:00Z",
        who="mallory\x1b]0;pwned\x07",
        summary="fix\nmultiple\tlines \x1b[31mred\x1b[0m",
    )
    deploy = parse_deploy(raw, "deploys")
    assert deploy is not None
    assert deploy.version == "1\x1b[2J"  # exact: shown Inert, refused by a revert
    assert deploy.who == "mallory\ufffd"
    assert deploy.summary == "fix multiple lines \ufffdred\ufffd"
