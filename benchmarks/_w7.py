"""W7: P processes each increment one shared counter K times.

Each contender gives the workers what they need (picklable), and a way to
read the final count. The clock runs from the moment every worker is ready
(a barrier) until the last one has finished; the result is ops/s and whether
the count is exact.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

#: A worker that is not done in this time is killed and W7 reported failed.
JOIN_TIMEOUT = 300


def _manager_worker(args: tuple, count: int, barrier: Any) -> None:
    d, lock = args
    barrier.wait()
    for _ in range(count):
        with lock:
            d["c"] += 1


def _diskcache_worker(path: str, count: int, barrier: Any) -> None:
    from diskcache import Cache

    cache = Cache(path)
    barrier.wait()
    for _ in range(count):
        cache.incr("c")
    cache.close()


def _tastypy_worker(shared: Any, count: int, barrier: Any) -> None:
    barrier.wait()
    for _ in range(count):
        shared.set["c"]["n"] += 1


def _race(worker: Any, args: Any, procs: int, count: int) -> float:
    """Seconds from all workers ready to all workers done."""
    barrier = multiprocessing.Barrier(procs + 1)
    workers = [
        multiprocessing.Process(target=worker, args=(args, count, barrier), daemon=True)
        for _ in range(procs)
    ]
    for p in workers:
        p.start()
    try:
        barrier.wait(timeout=JOIN_TIMEOUT)
        start = time.perf_counter()
        for p in workers:
            p.join(JOIN_TIMEOUT)
        seconds = time.perf_counter() - start
    finally:
        for p in workers:
            if p.is_alive():
                p.kill()
                p.join(10)
    bad = [p.exitcode for p in workers if p.exitcode != 0]
    if bad:
        raise RuntimeError(f"workers ended with exit codes {bad}")
    return seconds


def manager_dict(folder: Path, procs: int, count: int) -> tuple[float, int]:
    with multiprocessing.Manager() as manager:
        d = manager.dict(c=0)
        seconds = _race(_manager_worker, (d, manager.Lock()), procs, count)
        return seconds, d["c"]


def diskcache_incr(folder: Path, procs: int, count: int) -> tuple[float, int]:
    from diskcache import Cache

    with Cache(str(folder)) as cache:
        cache.set("c", 0)
    seconds = _race(_diskcache_worker, str(folder), procs, count)
    with Cache(str(folder)) as cache:
        return seconds, cache.get("c", retry=True)


def tastypy_shared(folder: Path, procs: int, count: int) -> tuple[float, int]:
    import tastypy

    shared = tastypy.SharedPOD(folder)
    try:
        shared["c"] = {"n": 0}
        seconds = _race(_tastypy_worker, shared, procs, count)
        return seconds, shared["c"]["n"]
    finally:
        shared.close()


#: Column name (as in the main table) -> contender.
CONTENDERS = {
    "Manager dict+lock": manager_dict,
    "diskcache": diskcache_incr,
    "tastypy": tastypy_shared,
}


def w7(name: str, folder: Path, procs: int, count: int) -> dict:
    """ops/s and exactness of one contender, or the error that stopped it."""
    folder.mkdir(parents=True)
    try:
        seconds, final = CONTENDERS[name](folder, procs, count)
    except Exception as e:  # a contender missing or broken must not stop the suite
        return {"W7 error": f"{type(e).__name__}: {e}"}
    total = procs * count
    return {"W7": total / seconds, "W7 exact": final == total, "W7 count": final}
