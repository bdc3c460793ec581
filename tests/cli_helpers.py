"""Run the real ``tastypy`` command (``python -m tastypy``) in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import CHILD_TIMEOUT, child_env

# ``python -m tastypy`` as if tqdm were not installed.
_WITHOUT_TQDM = (
    "import runpy, sys; sys.modules['tqdm'] = None; sys.argv[0] = 'tastypy';"
    " runpy.run_module('tastypy', run_name='__main__')"
)


def command(*args: object, tqdm: bool = True) -> list[str]:
    """The argv of ``python -m tastypy ARGS`` (optionally without tqdm)."""
    head = ["-m", "tastypy"] if tqdm else ["-c", _WITHOUT_TQDM]
    return [sys.executable, *head, *map(str, args)]


def tastypy(*args: object, tqdm: bool = True, input: str | None = None, timeout: float = CHILD_TIMEOUT):
    """Run the command to its end; the CompletedProcess (text)."""
    return subprocess.run(
        command(*args, tqdm=tqdm), capture_output=True, text=True, input=input,
        timeout=timeout, env=child_env(),
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed run (no traceback), checked."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def write_folder(folder: Path, files: dict) -> Path:
    """A hand-made (0.x style) folder of ``files``: name -> text or bytes."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    return folder


def record(done: bool = False, tries: int = 0, aborted: bool = False, **fields) -> dict:
    """A tracker record, as the Tracker stores it."""
    return {"_done": done, "_tries": tries, "_aborted": aborted, **fields}
