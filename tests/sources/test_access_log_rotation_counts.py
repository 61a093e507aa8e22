"""Nothing counted twice, nothing lost: a real nginx writing, a real logrotate (own config and
state file, run by the test) rotating between polls, counts compared with what was sent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from nginx_servers import Nginx, logged_lines, nginx_binary, wait_for_lines
from programs import program

from cockpit.config.errors import AccessLogConfig
from cockpit.sources.logs.access_log import AccessLogTail


class Sent:
    def __init__(self, nginx: Nginx) -> None:
        self.nginx = nginx
        self.requests = self.errors = 0
        self.client = httpx.Client(base_url=nginx.url, timeout=10)

    def send(self, count: int) -> None:
        logs = self.nginx.prefix / "logs"
        before = len(logged_lines(*sorted(logs.glob("access.log*"))))
        for i in range(count):
            status = 503 if i % 4 == 0 else 200
            assert self.client.get(f"/status/{status}/{self.requests}").status_code == status
            self.requests += 1
            self.errors += status >= 500
        # nginx logs a request after answering it: wait until it is in some file.
        wait_for_lines(before + count, *sorted(logs.glob("access.log*")))


def logrotate(nginx: Nginx, tmp_path: Path, mode: str) -> None:
    """`logrotate -f` with its own config and state file: `copytruncate`, or `create` with
    nginx told to reopen its logs (as Debian's /etc/logrotate.d/nginx does)."""
    conf = tmp_path / "logrotate.conf"
    post = (
        f"    postrotate\n        {nginx_binary()} -p {nginx.prefix} -c {nginx.conf} -s reopen\n"
        "    endscript\n"
        if mode == "create"
        else ""
    )
    conf.write_text(
        f"{nginx.access_log} {{\n    rotate 9\n    nocompress\n    missingok\n"
        f"    {mode}\n{post}}}\n"
    )
    subprocess.run(
        [program("logrotate"), "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _tail(nginx: Nginx, **options: object) -> AccessLogTail:
    cfg = AccessLogConfig(name="edge", path=nginx.access_log, window=600, **options)  # type: ignore[arg-type]
    return AccessLogTail(cfg)


@pytest.mark.parametrize("mode", ["copytruncate", "create"])
async def test_rotations_between_polls_lose_nothing(
    nginx: Nginx, tmp_path: Path, mode: str
) -> None:
    sent = Sent(nginx)
    source = _tail(nginx)
    try:
        await source.poll()  # at the end: nothing yet
        sent.send(20)
        await source.poll()
        sent.send(15)  # written after the last poll, then rotated away
        logrotate(nginx, tmp_path, mode)
        sent.send(10)
        series = await source.poll()  # one poll, as `cockpit check` makes
        assert (series.requests, series.errors_5xx) == (sent.requests, sent.errors)
        # Twice between two polls: the middle file is read too.
        sent.send(7)
        logrotate(nginx, tmp_path, mode)
        sent.send(9)
        logrotate(nginx, tmp_path, mode)
        sent.send(11)
        series = await source.poll()  # one poll, as `cockpit check` makes
        again = await source.poll()
    finally:
        await source.aclose()
        sent.client.close()
    assert len(logged_lines(*sorted((nginx.prefix / "logs").glob("access.log*")))) == sent.requests
    assert (series.requests, series.errors_5xx) == (sent.requests, sent.errors)
    assert (again.requests, again.unparsed_lines) == (sent.requests, 0)  # nothing twice


async def test_read_back_at_start_reaches_into_the_rotated_file(
    nginx: Nginx, tmp_path: Path
) -> None:
    sent = Sent(nginx)
    sent.send(12)
    logrotate(nginx, tmp_path, "create")
    sent.send(8)
    assert (nginx.prefix / "logs" / "access.log.1").exists()
    source = _tail(nginx, read_back=600)
    try:
        series = await source.poll()
        sent.send(5)
        later = await source.poll()
    finally:
        await source.aclose()
        sent.client.close()
    assert (series.requests, series.errors_5xx) == (20, 3 + 2)
    assert later.requests == 25


async def test_truncation_deletion_and_recreation(nginx: Nginx) -> None:
    sent = Sent(nginx)
    source = _tail(nginx)
    try:
        await source.poll()
        sent.send(10)
        assert (await source.poll()).requests == 10
        sent.send(6)
        nginx.access_log.unlink()  # deleted with lines unread, then re-created by nginx
        nginx.reopen()
        sent.send(4)
        assert (await source.poll()).requests == 20
        sent.send(3)
        nginx.access_log.write_bytes(b"")  # truncated in place
        sent.send(5)
        series = await source.poll()
        again = await source.poll()
    finally:
        await source.aclose()
        sent.client.close()
    # The 3 lines written just before the truncation are gone with it (no copy was kept).
    assert series.requests == again.requests == 25
    assert series.unparsed_lines == 0
