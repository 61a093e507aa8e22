"""The ways a revert is carried out: a command, an HTTP request, a releases-symlink switch.

Each takes the attempt (for streaming output) and returns a `Done`; none raises for an
expected failure (exit status, refused connection, 5xx, a release gone missing).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import httpx

from cockpit.actions.guarded import Attempt, Done, command_done
from cockpit.actions.process import LineSplitter
from cockpit.actions.revert_plan import HttpRequest, RevertPlan, SymlinkSwitch
from cockpit.sources.http_replies import host_of, transport_reason

MAX_RESPONSE_BYTES = 1_048_576  # read from an HTTP answer; the output tail keeps its end


async def execute_revert(attempt: Attempt) -> Done:
    plan = attempt.plan
    assert isinstance(plan, RevertPlan)
    if plan.request is not None:
        return await send_request(plan.request, plan.timeout, attempt)
    if plan.switch is not None:
        return await switch_release(plan.switch, plan.timeout, attempt)
    return command_done(await attempt.run("revert", plan.argv), plan.timeout)


async def send_request(request: HttpRequest, timeout: float, attempt: Attempt) -> Done:
    """2xx is done; the answer's body is streamed as output lines as it arrives."""
    host = host_of(request.url)
    token = request.token.reveal() if request.token is not None else ""

    def say(line: str) -> None:
        # A server echoing the Authorization header must not put the token on screen.
        attempt.say(line.replace(token, "***") if token else line)

    headers = {"User-Agent": "oncall-cockpit", **dict(request.headers)}
    if request.body is not None:
        headers.setdefault("Content-Type", "application/json")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    say(f"> {request.describe()}")
    splitter = LineSplitter(say)
    try:
        async with (
            asyncio.timeout(timeout),
            # The overall deadline above is the one that counts; httpx's own is a backstop.
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout + 5), follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                request.method,
                request.url,
                headers=headers,
                content=request.body.encode() if request.body is not None else None,
            ) as response,
        ):
            say(f"< HTTP {response.status_code} {response.reason_phrase}".rstrip())
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    splitter.close()
                    say(f"(answer cut after {MAX_RESPONSE_BYTES} bytes)")
                    break
                splitter.feed(chunk)
            splitter.close()
            status = response.status_code
    except TimeoutError:
        splitter.close()
        return Done(False, f"timed out after {timeout:g}s: no full answer from {host}", "timed out")
    except httpx.HTTPError as exc:
        splitter.close()
        reason = transport_reason(exc, host)
        say(reason)
        return Done(False, reason, "failed")
    if 200 <= status < 300:
        return Done(True, "ok", "ok", http_status=status)
    return Done(False, f"HTTP {status} from {host}", "failed", http_status=status)


async def switch_release(switch: SymlinkSwitch, timeout: float, attempt: Attempt) -> Done:
    try:
        async with asyncio.timeout(timeout):
            done, lines = await asyncio.to_thread(_switch, switch)
    except TimeoutError:
        return Done(False, f"timed out after {timeout:g}s switching {switch.link}", "timed out")
    for line in lines:  # said here, on the loop: on_output is not thread-safe
        attempt.say(line)
    return done


def _switch(switch: SymlinkSwitch) -> tuple[Done, list[str]]:
    """Point the link at the release: a new symlink under a temporary name, then os.replace,
    so the service sees the old link or the new one, never none."""
    link = switch.link
    folder = link.parent
    lines = [f"$ ln -s {switch.target} {link} (atomic)"]
    if not (folder / switch.target).is_dir():
        reason = f"release {switch.target} is not a directory under {folder}"
        return Done(False, reason, "failed"), [*lines, reason]
    try:
        before: str | None = os.readlink(link)
    except FileNotFoundError:
        before = None
    except OSError:
        reason = f"{link} exists and is not a symlink; left alone"
        return Done(False, reason, "failed"), [*lines, reason]
    if before == switch.target:
        lines.append(f"{link} already points at {switch.target}; nothing changed")
        return Done(True, "ok (already current)", "ok"), lines
    temporary = folder / f".{link.name}.cockpit-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.symlink(switch.target, temporary)
        try:
            os.replace(temporary, link)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        _sync_dir(folder)
    except OSError as exc:
        reason = f"cannot switch {link}: {exc.strerror or exc}"
        return Done(False, reason, "failed"), [*lines, reason]
    lines.append(f"{link} -> {switch.target} (was {before or 'missing'})")
    return Done(True, "ok", "ok"), lines


def _sync_dir(folder: Path) -> None:
    """Make the new link survive a crash of the host right after the switch."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
