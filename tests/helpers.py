"""Child processes with a time limit, and what a fresh process reads back."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Every child process a test starts is killed after this many seconds.
CHILD_TIMEOUT = 60


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_py(code: str, *args: str, timeout: float = CHILD_TIMEOUT, **kw) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; fail the test if it outlives ``timeout``."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        **kw,
    )


def start_py(code: str, *args: str, **kw) -> subprocess.Popen:
    """Start ``code`` in a fresh interpreter; the caller waits with a timeout."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **kw,
    )


def fresh_items(path: Path, **options) -> list:
    """The ``(key, value)`` pairs a brand-new process reads from ``path``."""
    result = run_py(
        """
        import sys, tastypy
        pod = tastypy.POD(sys.argv[1], mode='r', **eval(sys.argv[2]))
        print(repr([(k, tastypy.unwrap(v)) for k, v in pod.items()]))
        """,
        str(path),
        repr(options),
    )
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout)
