"""The install page, followed as a new user would: a wheel and a clone, each in a fresh venv.

These tests build tastypy's wheel (``pip wheel``, as ``docs/install.rst``
says), install it with the ``[cli]`` extra in a new virtual environment, and
run ``python -m tastypy`` and the demo from a folder outside the source
tree, with no ``PYTHONPATH``: what runs is the installed copy. The second
does the same from a copy of the clone's files (``pip install '.[cli]'``).

They need ``pip`` to reach a package index for wrapt and tqdm (PyPI, or the
index pip is configured with), and take some tens of seconds each; every
step has a time limit. Marked ``install``: ``pytest -m 'not install'``
leaves them out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tastypy

ROOT = Path(__file__).resolve().parent.parent
#: Seconds one step (build, venv, install, demo) may take.
STEP_TIMEOUT = 300

pytestmark = [pytest.mark.install, pytest.mark.timeout(3 * STEP_TIMEOUT)]


def run(*argv: object, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command as a user's shell would: no PYTHONPATH, no active venv of ours."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


def fresh_venv(where: Path) -> Path:
    """A new virtual environment; its python."""
    run(sys.executable, "-m", "venv", where / "venv", cwd=where)
    return where / "venv" / "bin" / "python"


def check_installed(python: Path, home: Path) -> None:
    """The installed tastypy, not the source tree's, runs its command line and the demo."""
    found = run(python, "-c", "import tastypy; print(tastypy.__file__)", cwd=home).stdout.strip()
    assert Path(found).is_relative_to(python.parent.parent), found
    assert run(python, "-m", "tastypy", "--version", cwd=home).stdout.strip() == f"tastypy {tastypy.__version__}"
    assert "demo" in run(python, "-m", "tastypy", "--help", cwd=home).stdout
    demo = run(python, "-m", "tastypy", "demo", "crawl", "--pages", 60, "--workers", 2, cwd=home)
    assert "finished: " in demo.stdout, demo.stdout
    # The [cli] extra brought tqdm: try_keys(progress=True) has its bar.
    run(python, "-c", "import tqdm", cwd=home)


def test_a_wheel_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    # From a copy, so that the build leaves nothing in the source tree.
    source = copy_of_the_clone(tmp_path / "src")
    run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", dist, cwd=source)
    wheels = list(dist.glob("tastypy-*.whl"))
    assert [w.name for w in wheels] == [f"tastypy-{tastypy.__version__}-py3-none-any.whl"]
    python = fresh_venv(tmp_path)
    run(python, "-m", "pip", "install", "-q", f"{wheels[0]}[cli]", cwd=tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    check_installed(python, home)


def test_a_clone_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path):
    source = copy_of_the_clone(tmp_path / "clone")
    python = fresh_venv(tmp_path)
    run(python, "-m", "pip", "install", "-q", ".[cli]", cwd=source)
    home = tmp_path / "home"
    home.mkdir()
    check_installed(python, home)


def copy_of_the_clone(to: Path) -> Path:
    """The files a clone of this repository holds (tracked, or new and not ignored)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot tell the clone's files from build leftovers")
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"{ROOT} is not a git clone: {listed.stderr.strip()}")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to
