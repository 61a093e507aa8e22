"""Install without root: build the wheel from the committed tree, install it into a fresh venv
and run the installed `cockpit` from elsewhere, as a user on a bastion would.

Dependencies are not downloaded here (that would make the test slow and depend on a network):
the fresh venv sees this venv's third-party packages through a .pth file, so what is tested is
the wheel itself (its modules, data files and entry point). `bench/install.sh` does the full
`pip install --user`, pipx and uv installs with dependencies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from localworld import LocalWorld
from programs import program

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload]
        argv, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the committed tree (what a release would ship)."""
    program("git")
    tmp = tmp_path_factory.mktemp("wheel")
    archive = tmp / "src.tar"
    done = run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), "HEAD"])
    assert done.returncode == 0, done.stderr
    source = tmp / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip"]
    done = run([*pip, "wheel", "--no-deps", "-q", "-w", str(dist), str(source)])
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = dist.glob("oncall_cockpit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("venv") / "venv"
    done = run([sys.executable, "-m", "venv", "--without-pip", str(target)])
    assert done.returncode == 0, done.stderr
    python = target / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    # Third-party packages from this venv, after the new venv's own site-packages; a .pth line
    # only adds the path, so this venv's editable install of the cockpit is not seen.
    (site / "third_party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = ["install", "-q", "--no-deps", "--no-index", str(wheel)]
    done = run([sys.executable, "-m", "pip", "--python", str(python), *install])
    assert done.returncode == 0, done.stdout + done.stderr
    yield target


def test_the_wheel_carries_code_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "cockpit/cli.py",
        "cockpit/doctor.py",
        "cockpit/term/caps.py",
        "cockpit/example_config.toml",
        "cockpit/py.typed",
        "widgets/cockpit.tcss",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "cockpit = cockpit.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_the_installed_command_works_from_anywhere(venv: Path, tmp_path: Path) -> None:
    cockpit = venv / "bin" / "cockpit"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    version = run([str(cockpit), "--version"], cwd=tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.startswith("cockpit "), version.stderr

    where = run(
        [str(venv / "bin" / "python"), "-c", "import cockpit; print(cockpit.__file__)"],
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel, not this checkout

    init = run([str(cockpit), "init"], cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    written = home / ".config" / "oncall-cockpit" / "config.toml"
    assert written.exists()

    with LocalWorld(tmp_path / "world", probes=2, history=False) as world:
        doctor = run([str(cockpit), "doctor", "--config", str(world.config)], cwd=tmp_path, env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "data dir" in doctor.stdout and str(home / ".local" / "share") in doctor.stdout
    assert "0 failed" in doctor.stdout
