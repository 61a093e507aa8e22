"""The drill world's Alertmanager: a real one, paged by the world's own 5xx rule when the
Files.com bad deploy makes the proxy answer 5xx; the cockpit reaches it only through the config
the world writes; it resolves once the revert ends the spike; it stops with the world."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from cockpit.alerts.source import AlertmanagerSource
from cockpit.config import load
from cockpit.world.alertmanager.rules import ALERTNAME
from cockpit.world.world import World


async def firing(source: AlertmanagerSource, want: bool, seconds: float = 40) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        names = [a.alertname for a in (await source.poll()).alerts]
        if (ALERTNAME in names) == want:
            return names
        assert time.monotonic() < deadline, f"still {names}"
        await asyncio.sleep(0.5)


async def test_the_bad_deploy_pages_and_the_revert_resolves(tmp_path: Path) -> None:
    world = World(tmp_path / "world", bad_deploy_after=None, protocols=("http",), alertmanager=True)
    with world:
        assert world.urls is not None and world.urls.alertmanager
        config = load(world.config_path)  # type: ignore[arg-type]
        (section,) = config.alerts
        assert section.urls == (world.urls.alertmanager,)
        assert section.matchers == ('service="files-web"',)
        source = AlertmanagerSource(section)
        try:
            assert await firing(source, want=False, seconds=1) == []  # quiet before the deploy
            world.apply("bad_deploy")
            await firing(source, want=True)
            (alert,) = (await source.poll()).alerts
            assert alert.severity == "critical" and alert.label("service") == "files-web"
            assert alert.annotation("summary").startswith("5xx ratio ")
            assert world.bad_deployed.is_set()
            # The revert the cockpit would run: the spike ends, the alert resolves.
            releases = world.releases
            assert releases is not None
            releases.rollback(world.good_version, who="oncall-tester")
            await firing(source, want=False)
        finally:
            await source.aclose()
        process = world._alertmanager.process  # type: ignore[union-attr]
    assert process.poll() is not None  # stopped with the world
