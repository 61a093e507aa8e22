"""Programs the tests drive. `.ci/run` installs each one, so a missing program fails the test
that needs it (naming the package) instead of skipping it."""

from __future__ import annotations

import shutil


def program(name: str, package: str | None = None) -> str:
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed (apt-get install {package or name})")
    return found
