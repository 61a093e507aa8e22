"""The headless core must not import textual or widgets: checked in a fresh interpreter."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import cockpit

UI_MODULES = {"cockpit.app", "cockpit.cli", "cockpit.__main__"}


def headless_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(cockpit.__path__, prefix="cockpit."):
        if info.name not in UI_MODULES:
            names.append(info.name)
    return sorted(names)


def test_core_modules_are_found() -> None:
    names = headless_modules()
    for expected in ("cockpit.hub", "cockpit.config", "cockpit.detect.detector", "cockpit.runtime"):
        assert expected in names


def test_headless_core_imports_neither_textual_nor_widgets() -> None:
    script = (
        "import importlib, json, sys\n"
        f"names = {headless_modules()!r}\n"
        "for n in names: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'widgets'))\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(out.stdout) == []


def test_every_module_imports() -> None:
    """Every module of both packages, on the Python running the tests (CI runs this on each
    supported version: a dependency missing there, such as pyftpdlib's asyncore, shows here)."""
    import widgets

    names = [
        info.name
        for package in (cockpit, widgets)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        if not info.name.endswith(".__main__")
    ]
    script = f"import importlib\nfor n in {sorted(names)!r}: importlib.import_module(n)\n"
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert "cockpit.sources.probes.ftp" in names and "widgets.panels" in names


def test_cli_startup_does_not_import_heavy_modules() -> None:
    # `cockpit --version` and config errors must answer fast: nothing heavy at import time.
    script = (
        "import json, sys\n"
        "import cockpit.cli\n"
        "heavy = ('textual', 'httpx', 'sentry_sdk', 'pygments', 'widgets')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_screen_paints_before_the_core_loads() -> None:
    # The first frame is the layout: the sources' machinery, the config schema of every kind,
    # the model, the views the panels draw, the detector and the modal screens load after it
    # (the start-up budget depends on it: each dataclass costs milliseconds to define).
    script = (
        "import json, sys\n"
        "import cockpit.cli, cockpit.app\n"
        "cockpit.cli.build_parser()\n"
        "late = ('cockpit.runtime', 'cockpit.hub', 'cockpit.config.loader', 'widgets.modals',\n"
        "        'cockpit.incident.store.sqlite', 'cockpit.actions.revert', 'cockpit.model',\n"
        "        'cockpit.detect', 'cockpit.alerts.view', 'cockpit.alerts.matchers')\n"
        "late += tuple(m for m in sys.modules if m.startswith('cockpit.view.')\n"
        "              and m != 'cockpit.view.zooms')\n"
        "print(json.dumps(sorted(m for m in late if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
