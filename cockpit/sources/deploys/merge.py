"""One deploy history from several deploy sources.

The same deploy is often seen twice: the deploy log writes it, the releases directory holds
it, GitHub records it. Two reports are one deploy when they name the same service and version,
both are (or both are not) rollbacks, and their times are close; the first source's report
is kept, with who/summary filled from the other when it had none. A version deployed again
later (say, rolled back to) is a separate deploy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from cockpit.model import Deploy, Deploys

SAME_DEPLOY_WITHIN = timedelta(minutes=10)


def merge_deploys(
    readings: Iterable[Deploys], within: timedelta = SAME_DEPLOY_WITHIN
) -> tuple[Deploy, ...]:
    """Every source's deploys, newest first, each deploy once."""
    kept: list[Deploy] = []
    origin: list[int] = []  # which reading each kept deploy came from
    by_key: dict[tuple[str, str, bool], list[int]] = {}
    for number, reading in enumerate(readings):
        for deploy in reading.deploys:
            key = (deploy.service, deploy.version, deploy.reverts is not None)
            # Within one source two reports are two deploys (a retried deploy is one more).
            twin = next(
                (
                    i
                    for i in by_key.get(key, ())
                    if origin[i] != number and abs(kept[i].at - deploy.at) <= within
                ),
                None,
            )
            if twin is None:
                by_key.setdefault(key, []).append(len(kept))
                kept.append(deploy)
                origin.append(number)
            else:
                kept[twin] = _fill(kept[twin], deploy)
    # Stable: among equal times the earlier source's order stands.
    return tuple(sorted(kept, key=lambda d: d.at, reverse=True))


def _fill(first: Deploy, other: Deploy) -> Deploy:
    return replace(
        first,
        who=first.who or other.who,
        summary=first.summary or other.summary,
        reverts=first.reverts or other.reverts,
    )
