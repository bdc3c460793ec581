"""Failures as data, measured: a waiting loop's CPU, and ``tastypy retry`` on a million records.

    python benchmarks/failures_bench.py [--n 1000000] [--idle 60]

1. A ``try_keys()`` loop whose every remaining key waits for its
   ``_retry_at``: the CPU time it uses while it waits ``--idle`` seconds
   (target: under 2 % of a core).
2. A tracker of ``--n`` records, 10 % failed with ``TimeoutError`` and 5 %
   with ``ValueError``: the wall time of ``tastypy retry PATH --error
   TimeoutError`` in a fresh process (target: 5 s at a million), and a
   recount that it reset exactly the matching keys.
Results: benchmarks/RESULTS.md ("Failures").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure the working tree's tastypy

import tastypy  # noqa: E402


def idle_loop(seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        tracker = tastypy.Tracker(Path(folder) / "t", backoff=seconds)
        tracker.add_many(range(100))
        for key in range(100):
            with tracker.attempt(key):
                raise TimeoutError("down")
        began, cpu = time.monotonic(), time.process_time()
        handed = list(tracker.try_keys(max_wait=seconds + 5))  # sleeps until they are due
        wall, used = time.monotonic() - began, time.process_time() - cpu
        tracker.close()
    return {"waited s": round(wall, 2), "cpu s": round(used, 4), "cpu %": round(100 * used / wall, 3),
            "keys handed": len(handed)}


def retry_million(n: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t"
        began = time.monotonic()
        with tastypy.POD(path, file_size=5000) as pod:
            pod.hold()
            for i in range(n):
                record = {"_done": i % 20 > 2, "_tries": 1, "_aborted": False, "url": f"https://example.com/{i}"}
                if i % 20 in (0, 1):
                    record["_error"] = {"type": "TimeoutError", "message": "read timed out", "at": 1.7e9,
                                        "traceback": "Traceback ...\nTimeoutError: read timed out\n"}
                    record["_retry_at"] = 1.7e9 + 60
                elif i % 20 == 2:
                    record["_error"] = {"type": "ValueError", "message": "bad html", "at": 1.7e9,
                                        "traceback": "Traceback ...\nValueError: bad html\n"}
                    record["_aborted"] = True
                pod[i] = record
        made = time.monotonic() - began
        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        began = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "tastypy", "retry", str(path), "--error", "TimeoutError"],
                                capture_output=True, text=True, timeout=600, env=env, check=True)
        took = time.monotonic() - began
        with tastypy.POD(path, mode="r") as pod:
            reset = sum(1 for v in pod.values() if v["_tries"] == 0)
            waiting = sum(1 for v in pod.values() if "_retry_at" in v)
    expected = len([i for i in range(n) if i % 20 in (0, 1)])
    return {"n": n, "made in s": round(made, 1), "retry s": round(took, 2), "output": result.stdout.strip(),
            "reset": reset, "expected": expected, "exact": reset == expected and waiting == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps({"load average": os.getloadavg(), "idle loop": idle_loop(args.idle),
                      "retry": retry_million(args.n)}, indent=1))


if __name__ == "__main__":
    main()
