"""ruff, mypy and the layer contracts are part of the suite, so a lint, type or layering error
fails CI like a test does."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The contracts are in pyproject.toml; the packages are found from the working directory.
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def test_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_catch_the_core_importing_the_screen(tmp_path: Path) -> None:
    """The contracts bite: a copy of the tree whose model imports a widget fails them."""
    for part in ("cockpit", "widgets"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "cockpit" / "model.py"
    model.write_text(model.read_text() + "\nimport widgets.glyphs  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "cockpit.model -> widgets.glyphs" in result.stdout
