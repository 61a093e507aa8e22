"""The header while degraded says since when (the detector's impact start, local time), at 80
columns too: the longer phrasings and the environment give way, the time is never cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult

from cockpit.detect.detector import Assessment
from cockpit.hub import Snapshot
from cockpit.runtime import View
from cockpit.term.textsafe import Inert
from cockpit.timeutil import local_hms
from cockpit.view.header import degraded_words
from widgets.header import CockpitHeader

NOW = datetime(2024, 8, 2, 7, 0, 30, tzinfo=UTC)
SINCE = NOW - timedelta(seconds=25)


def test_degraded_words_say_since_when_longest_first() -> None:
    words = degraded_words(Assessment(degraded=True, first_failure_at=SINCE))
    since = local_hms(SINCE)
    assert words == (
        f"DEGRADED since {since}, no incident declared",
        f"DEGRADED since {since}, not declared",
        f"DEGRADED since {since}",
    )
    # Data that begin inside the failure: it began then or before.
    unknown = Assessment(degraded=True, first_failure_at=SINCE, first_failure_known=False)
    assert degraded_words(unknown)[-1] == f"DEGRADED since before {since}"
    assert degraded_words(Assessment(degraded=True))[-1] == "DEGRADED"
    assert degraded_words(Assessment(first_failure_at=SINCE)) == ()


def test_the_view_carries_the_header_words() -> None:
    assessment = Assessment(degraded=True, first_failure_at=SINCE)
    view = View(Snapshot(NOW, 1, {}, {}), assessment, None, ())
    assert view.panels.header.degraded == degraded_words(assessment)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield CockpitHeader(id="header")


async def shown(size: tuple[int, int], *, environment: str, alerts: int, service: str) -> str:
    app = Host()
    async with app.run_test(size=size) as pilot:
        header = app.query_one(CockpitHeader)
        header.show(
            service=Inert(service),
            environment=Inert(environment),
            drill=True,
            incident=None,
            degraded=True,
            alerts=alerts,
            degraded_words=degraded_words(Assessment(degraded=True, first_failure_at=SINCE)),
        )
        await pilot.pause()
        line = header.render().plain
        assert len(line) <= size[0], line
        return line


async def test_degraded_since_fits_80_columns_beside_the_other_items() -> None:
    since = local_hms(SINCE)
    # The demo's header at 80 columns: the shorter phrasing, with every other item.
    line = await shown((80, 24), environment="drill", alerts=1, service="files-web")
    assert line.startswith(" files-web · drill  DRILL   1 ALERT "), line
    assert f"DEGRADED since {since} " in line and line.rstrip().endswith("UTC"), line
    # A shorter environment leaves room for more words.
    line = await shown((80, 24), environment="prod", alerts=0, service="files-web")
    assert f"DEGRADED since {since}, not declared" in line, line
    # A long environment gives way to the time.
    line = await shown((80, 24), environment="eu-central-1 canary blue", alerts=1, service="web")
    assert f"DEGRADED since {since}, no incident declared" in line, line
    assert "canary" not in line, line
    # More alerts and a long service name: the service is cut, never the time.
    line = await shown((80, 24), environment="production", alerts=12, service="x" * 60)
    assert f"DEGRADED since {since}" in line and "12 ALERTS" in line, line
    assert "x…" in line, line
    # Room enough: every word, the environment too.
    line = await shown((160, 50), environment="drill", alerts=1, service="files-web")
    assert "files-web · drill" in line, line
    assert f"DEGRADED since {since}, no incident declared" in line, line
