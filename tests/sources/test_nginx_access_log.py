"""The access-log source against a real nginx: what nginx logged is what the source counts,
exactly, in `combined` and in an escape=json format, through rotation and `cockpit check`."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from nginx_servers import Nginx, logged_lines, wait_for_lines

from cockpit.cli import main
from cockpit.config.errors import AccessLogBase, AccessLogConfig, NginxJsonLogConfig
from cockpit.model import ErrorSeries
from cockpit.sources.logs.access_log import AccessLogTail

STATUSES = (200, 200, 404, 500, 200, 502, 201, 503, 200, 504, 301, 200)
BUCKET = 10
# nginx writes '"' in a header as \x22, so this agent cannot pass for a second entry.
CRAFTED_AGENT = 'x" 500 1 "y" [21/Nov/2026:06:59:00 +0000] "GET / HTTP/1.1" 503 1 "z'


def drive(nginx: Nginx, count: int, first: int = 0) -> list[int]:
    """`count` requests through nginx, statuses from STATUSES; returns the statuses asked."""
    asked = []
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        for i in range(first, first + count):
            status = STATUSES[i % len(STATUSES)]
            agent = CRAFTED_AGENT if i % 25 == 7 else "cockpit-test/1.0"
            response = client.get(f"/status/{status}/{i}", headers={"User-Agent": agent})
            assert response.status_code == status
            asked.append(status)
    return asked


def combined_entry(line: str) -> tuple[int, int]:
    """(epoch, status) read the plain way: split on quotes, strptime the time."""
    stamp = line[line.index("[") + 1 : line.index("]")]
    status = int(line.split('"')[2].split()[0])
    return int(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()), status


def json_entry(line: str, key: str = "time_iso8601") -> tuple[int, int]:
    entry = json.loads(line)
    if key == "msec":
        return int(float(entry["msec"])), int(entry["status"])
    return int(datetime.fromisoformat(entry[key]).timestamp()), int(entry["status"])


def expected(entries: list[tuple[int, int]]) -> dict[datetime, tuple[int, int]]:
    requests = Counter(epoch // BUCKET for epoch, _ in entries)
    errors = Counter(epoch // BUCKET for epoch, status in entries if status >= 500)
    return {datetime.fromtimestamp(b * BUCKET, UTC): (n, errors[b]) for b, n in requests.items()}


def counted(series: ErrorSeries) -> dict[datetime, tuple[int, int]]:
    return {b.start: (b.requests, b.errors_5xx) for b in series.buckets if b.requests}


def tail(cfg_type: type[AccessLogBase], path: Path, **options: object) -> AccessLogTail:
    cfg = cfg_type(
        name=f"edge-{path.suffix}", path=path, bucket_seconds=BUCKET, window=600, **options
    )  # type: ignore[arg-type]
    return AccessLogTail(cfg)


async def test_counts_equal_what_nginx_logged(nginx: Nginx) -> None:
    drive(nginx, 5)  # before the sources start: at the end by default, so not counted
    assert len(wait_for_lines(5, nginx.access_log)) == 5
    assert len(wait_for_lines(5, nginx.json_log)) == 5
    sources = {
        "combined": tail(AccessLogConfig, nginx.access_log),
        "iso": tail(NginxJsonLogConfig, nginx.json_log),
        "msec": tail(NginxJsonLogConfig, nginx.json_log, time_key="msec"),
    }
    try:
        for source in sources.values():
            assert (await source.poll()).requests == 0
        asked = drive(nginx, 120, first=5)
        combined = wait_for_lines(125, nginx.access_log)[5:]
        json_lines = wait_for_lines(125, nginx.json_log)[5:]
        series = {name: await source.poll() for name, source in sources.items()}
    finally:
        for source in sources.values():
            await source.aclose()
    assert len(combined) == len(json_lines) == 120
    assert any("\\x22" in line for line in combined)  # the crafted agent went through
    truth = {
        "combined": expected([combined_entry(line) for line in combined]),
        "iso": expected([json_entry(line) for line in json_lines]),
        "msec": expected([json_entry(line, "msec") for line in json_lines]),
    }
    errors = sum(1 for s in asked if s >= 500)
    for name, got in series.items():
        assert counted(got) == truth[name], name
        assert (got.requests, got.errors_5xx, got.unparsed_lines) == (120, errors, 0), name


async def test_rename_and_reopen_mid_stream_loses_nothing(nginx: Nginx) -> None:
    sources = [tail(AccessLogConfig, nginx.access_log), tail(NginxJsonLogConfig, nginx.json_log)]
    total, rotate_at = 400, 150
    halfway = threading.Event()
    failure: list[BaseException] = []

    def traffic() -> None:
        try:
            drive(nginx, rotate_at)
            halfway.set()
            drive(nginx, total - rotate_at, first=rotate_at)  # keeps going while we rotate
        except BaseException as exc:  # surfaced by the test below
            failure.append(exc)
            halfway.set()

    driver = threading.Thread(target=traffic)
    try:
        for source in sources:
            await source.poll()
        driver.start()
        while not halfway.is_set():
            for source in sources:
                await source.poll()
        for path in (nginx.access_log, nginx.json_log):
            path.rename(path.with_name(path.name + ".1"))
        for source in sources:
            await source.poll()  # renamed away, nginx still writes the old files
        nginx.reopen()
        while driver.is_alive():
            for source in sources:
                await source.poll()
        driver.join()
        assert not failure, failure
        old = [
            nginx.access_log.with_name("access.log.1"),
            nginx.json_log.with_name("access.json.1"),
        ]
        combined = wait_for_lines(total, old[0], nginx.access_log)
        json_lines = wait_for_lines(total, old[1], nginx.json_log)
        results = []
        for source in sources:
            await source.poll()  # the rest of the old file, then the new one
            results.append(await source.poll())
    finally:
        driver.join()
        for source in sources:
            await source.aclose()
    assert len(combined) == len(json_lines) == total
    # The rotation happened mid-stream: both files hold part of it.
    assert rotate_at <= len(logged_lines(old[0])) < total
    assert logged_lines(nginx.access_log)
    combined_series, json_series = results
    assert counted(combined_series) == expected([combined_entry(line) for line in combined])
    assert counted(json_series) == expected([json_entry(line) for line in json_lines])
    errors = sum(1 for i in range(total) if STATUSES[i % len(STATUSES)] >= 500)
    for series in results:
        assert (series.requests, series.errors_5xx, series.unparsed_lines) == (total, errors, 0)


async def test_copytruncate_between_bursts(nginx: Nginx) -> None:
    source = tail(AccessLogConfig, nginx.access_log)
    try:
        await source.poll()
        drive(nginx, 50)
        first = wait_for_lines(50, nginx.access_log)
        assert (await source.poll()).requests == 50
        shutil.copyfile(nginx.access_log, nginx.access_log.with_name("access.log.1"))
        os.truncate(nginx.access_log, 0)  # nginx appends (O_APPEND): it writes from 0 again
        drive(nginx, 70, first=50)  # more than before: past the old offset
        second = wait_for_lines(70, nginx.access_log)
        series = await source.poll()
    finally:
        await source.aclose()
    assert len(second) == 70
    assert counted(series) == expected([combined_entry(line) for line in first + second])
    assert series.requests == 120


def test_cockpit_check_json_reports_what_nginx_logged(
    nginx: Nginx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = drive(nginx, 60)
    combined = wait_for_lines(60, nginx.access_log)
    json_lines = wait_for_lines(60, nginx.json_log)
    with nginx.access_log.open("a") as log:
        log.write("this is not an access log line\n")
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[[errors]]
name = "edge"
path = "{nginx.access_log}"
read_back = 600

[[errors]]
name = "edge-json"
kind = "nginx_json"
path = "{nginx.json_log}"
read_back = 600
"""
    )
    assert main(["--config", str(config), "check", "--json"]) == 0
    rows = {r["source"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    errors = sum(1 for s in asked if s >= 500)

    def iso(epoch: int) -> str:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")

    for name, kind, entries, unparsed in (
        ("edge", "nginx_combined", [combined_entry(line) for line in combined], 1),
        ("edge-json", "nginx_json", [json_entry(line) for line in json_lines], 0),
    ):
        row = rows[name]
        assert row["kind"] == kind and row["ok"] is True and row["error"] == ""
        assert row["target"] == str(nginx.access_log if name == "edge" else nginx.json_log)
        assert (row["requests"], row["errors_5xx"], row["unparsed_lines"]) == (60, errors, unparsed)
        assert row["ratio"] == round(errors / 60, 4)
        assert row["first_ts"] == iso(min(e for e, _ in entries))
        assert row["last_ts"] == iso(max(e for e, _ in entries))
