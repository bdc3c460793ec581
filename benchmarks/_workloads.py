"""Workloads W1-W6: the same data and key sequence for every system.

Each phase takes a system and its ``Run`` (folder, open mapping, results) and
adds what it measured to ``run.results``. Run as a script, this module is the
fresh process of W2: ``python _workloads.py w2 <system> <folder>``.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: A fresh process that does not finish W2 in this time is reported as failed.
W2_TIMEOUT = 900


def record(i: int) -> dict:
    """The value stored under ``key-<i>``."""
    return {"url": f"https://example.com/page/{i}", "tries": 0, "done": False, "tags": ["a", "b"]}


def make_items(n: int) -> list[tuple[str, dict]]:
    return [(f"key-{i}", record(i)) for i in range(n)]


def pick_keys(n: int, count: int, seed: int) -> list[str]:
    """``count`` keys drawn at random (with repeats) among ``key-0 .. key-<n-1>``."""
    rng = random.Random(seed)
    return [f"key-{rng.randrange(n)}" for _ in range(count)]


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def json_bytes(items: list) -> int:
    """Bytes of the data as one compact JSON object: the yardstick of W6."""
    return len(json.dumps(dict(items), separators=(",", ":"), ensure_ascii=False).encode())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Run:
    """One system's state through one repetition."""

    def __init__(self, path: Path, n: int, ops: int, seed: int) -> None:
        self.path = path
        self.n = n
        self.ops = ops
        self.seed = seed
        self.mapping: Any = None
        self.results: dict[str, float] = {}


def _reads(d: Any, keys: list) -> None:
    for k in keys:
        v = d[k]
        v["tries"]


def _inplace(d: Any, keys: list) -> None:
    for k in keys:
        d[k]["tries"] += 1


def _rmw(d: Any, keys: list) -> None:
    for k in keys:
        v = d[k]
        v["tries"] += 1
        d[k] = v


def _updates(system: Any) -> Any:
    return _inplace if system.nested == "inplace" else _rmw


def _insert(system: Any, d: Any, items: list) -> None:
    with system.batch(d):
        for k, v in items:
            d[k] = v
    system.durable(d)


def w1(system: Any, run: Run) -> None:
    """Insert n records, then make them durable; W6 (bytes on disk) follows."""
    items = make_items(run.n)
    run.path.mkdir(parents=True)
    d = system.open(run.path)
    gc.collect()
    start = time.perf_counter()
    _insert(system, d, items)
    run.results["W1"] = (time.perf_counter() - start) / run.n * 1e6
    if system.persistent:
        system.close(d)
        size = folder_bytes(run.path)
        run.results["W6 bytes"] = size
        run.results["W6"] = size / json_bytes(items)
    else:
        run.mapping = d


def w2(system: Any, run: Run) -> None:
    """Reopen in a fresh process and read every value once."""
    if not system.persistent:
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    try:
        out = subprocess.run(
            [sys.executable, __file__, "w2", system.name, str(run.path)],
            capture_output=True, text=True, timeout=W2_TIMEOUT, env=env, check=True,
        )
    except subprocess.TimeoutExpired:
        run.results["W2 error"] = f"no answer in {W2_TIMEOUT} s"
        return
    except subprocess.CalledProcessError as e:
        run.results["W2 error"] = e.stderr.strip().splitlines()[-1]
        return
    answer = json.loads(out.stdout)
    if answer["count"] != run.n:
        run.results["W2 error"] = f"read {answer['count']} entries, not {run.n}"
    run.results["W2"] = answer["seconds"] / run.n * 1e6


#: A plain-dict loop shorter than this is a few ms that one context switch of
#: another process can triple: it is repeated and the median pass kept.
SHORT = 0.2
PASSES = 10


def timed(system: Any, loop: Any, d: Any, keys: list) -> float:
    """Seconds of ``loop(d, keys)``; the median of several passes for in-memory systems.

    Only those repeat: a second pass over a store would measure its caches warm.
    """
    times: list[float] = []
    while True:
        gc.collect()
        start = time.perf_counter()
        loop(d, keys)
        times.append(time.perf_counter() - start)
        if not system.in_memory or len(times) >= PASSES or sum(times) > SHORT:
            return statistics.median(times)


def w3(system: Any, run: Run) -> None:
    """``ops`` random reads of a field of a value."""
    if run.mapping is None:
        run.mapping = system.open(run.path)
    keys = pick_keys(run.n, run.ops, run.seed)
    run.results["W3"] = timed(system, _reads, run.mapping, keys) / run.ops * 1e6


def w4(system: Any, run: Run) -> None:
    """``ops`` random nested updates, the system's correct way, then durable."""
    d = run.mapping
    keys = pick_keys(run.n, run.ops, run.seed + 1)
    update = _updates(system)
    if system.persistent:
        gc.collect()
        start = time.perf_counter()
        with system.batch(d):
            update(d, keys)
        system.durable(d)
        run.results["W4"] = (time.perf_counter() - start) / run.ops * 1e6
    else:
        run.results["W4"] = timed(system, update, d, keys) / run.ops * 1e6


#: W5 makes this many one-key updates, but stops once it has ``W5_MIN`` and
#: spent ``W5_BUDGET`` seconds: a store whose cost follows its size would
#: otherwise take minutes.
W5_UPDATES = 200
W5_BUDGET = 1.0
W5_MIN = 5


def _one_key_updates(system: Any, d: Any, n: int, seed: int) -> list[float]:
    """Seconds of each one-key durable update: up to ``W5_UPDATES`` of them."""
    update = _updates(system)
    times: list[float] = []
    for k in pick_keys(n, W5_UPDATES, seed):
        start = time.perf_counter()
        update(d, [k])
        system.durable(d)
        times.append(time.perf_counter() - start)
        if len(times) >= W5_MIN and sum(times) > W5_BUDGET:
            break
    return times


def w5(system: Any, run: Run) -> None:
    """One-key durable updates in the store of n (from W1) and in one of n/10."""
    if not system.persistent:
        return
    big = _one_key_updates(system, run.mapping, run.n, run.seed + 2)
    system.close(run.mapping)
    run.mapping = None
    small_n = max(1, run.n // 10)
    small_path = run.path.with_name(run.path.name + "-small")
    small_path.mkdir()
    d = system.open(small_path)
    _insert(system, d, make_items(small_n))
    small = _one_key_updates(system, d, small_n, run.seed + 3)
    system.close(d)
    run.results["W5"] = statistics.median(big) * 1e3
    run.results["W5 p90"] = percentile(big, 0.9) * 1e3
    run.results["W5 small"] = statistics.median(small) * 1e3
    run.results["W5 ratio"] = statistics.median(big) / statistics.median(small)
    run.results["W5 updates"] = len(big)


def finish(system: Any, run: Run) -> None:
    """Close what is still open (the floor keeps its dict until here)."""
    if run.mapping is not None and system.persistent:
        system.close(run.mapping)
    run.mapping = None


PHASES = [w1, w2, w3, w4, w5, finish]


def _child(name: str, folder: str) -> None:
    from _systems import by_name  # this script's folder is on sys.path

    system = by_name(name)
    system.import_module()
    gc.collect()
    start = time.perf_counter()
    d = system.open(Path(folder))
    count = system.read_all(d)
    seconds = time.perf_counter() - start
    system.close(d)
    print(json.dumps({"seconds": seconds, "count": count}))


if __name__ == "__main__":
    if sys.argv[1:2] != ["w2"] or len(sys.argv) != 4:
        sys.exit("usage: python _workloads.py w2 <system> <folder>")
    _child(sys.argv[2], sys.argv[3])
