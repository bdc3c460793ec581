"""Helpers of the serve tests, and the demo-like crawl they watch.

Run as a script, it is the crawl: ``python tests/serve_helpers.py FOLDER
KEYS PER_SECOND SECONDS`` opens a Tracker (``sync_at=10``: a commit every
ten keys), adds KEYS pages, prints ``ready``, then marks about PER_SECOND
keys a second done, or failed with an ``_error`` (TimeoutError or
ConnectionError) and a ``_retry_at``. While ``FOLDER.pause`` exists it
waits. It stops after SECONDS, or at the end of the keys, or on SIGTERM
(syncing first, like any tastypy writer).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: No wait on a child process lasts longer than this many seconds.
CHILD_TIMEOUT = 30
FAIL_TYPES = ("TimeoutError", "ConnectionError")


def start_crawl(folder: Path, keys: int = 2000, per_second: float = 100, seconds: float = 120) -> subprocess.Popen:
    """The crawl in its own process, once it has added its keys."""
    child = subprocess.Popen(
        [sys.executable, __file__, str(folder), str(keys), str(per_second), str(seconds)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + CHILD_TIMEOUT
    line = child.stdout.readline()  # the child prints or dies; its own limit bounds this
    if line.strip() != "ready" or time.monotonic() > deadline:
        stop(child)
        raise AssertionError(f"the crawl did not start: {line!r}")
    return child


def stop(child: subprocess.Popen) -> None:
    """Stop a child process, whatever it is doing (bounded)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=CHILD_TIMEOUT)
    if child.stdout is not None:
        child.stdout.close()


def wait_for(check, timeout: float = 20.0, every: float = 0.1):
    """The first true result of ``check()`` within ``timeout`` seconds, else AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__doc__ or check}")
        time.sleep(every)


def _crawl(folder: str, keys: int, per_second: float, seconds: float) -> None:
    import tastypy

    rng = random.Random(24)
    pause = Path(folder + ".pause")
    ends = time.monotonic() + seconds
    with tastypy.Tracker(folder, sync_at=10) as tracker:
        tracker.add_many_if_absent(f"/page/{n}" for n in range(keys))
        tracker.sync()
        print("ready", flush=True)
        for key in tracker.try_keys():
            while pause.exists() and time.monotonic() < ends:
                time.sleep(0.05)
            if time.monotonic() >= ends:
                break
            time.sleep(1 / per_second)
            if rng.random() < 0.1:
                now = time.time()
                error = {"type": rng.choice(FAIL_TYPES), "message": "simulated", "at": now, "traceback": ""}
                tracker.update({key: {"_error": error, "_retry_at": now + 3600}})
            else:
                tracker.mark_done(key)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit hooks sync
    _crawl(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
