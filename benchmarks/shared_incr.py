"""Atomic increments from several processes: SharedPOD ``.set`` vs a Manager dict.

Rerun with::

    python benchmarks/shared_incr.py [--incr 2000] [--repeats 5]

Each of 1, 2 and 4 processes (fork) does ``--incr`` increments of one counter:

* ``SharedPOD .set``: ``shared.set['c']['n'] += 1`` (one call, applied on the server);
* ``Manager dict + lock``: ``with lock: d['n'] = d['n'] + 1`` on
  ``multiprocessing.Manager().dict()`` and ``Manager().Lock()`` (four calls);
* ``Manager dict, no lock``: the same without the lock, to show lost updates.

The time of a run is from the first worker's start to the last one's end
(process start-up excluded); the table gives the median of the repeats in
increments per second, the ratio to the Manager dict + lock, and the final
count of the last repeat against the expected one (lost updates).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tastypy


def shared_worker(shared, times, go, out):
    go.wait()
    began = time.monotonic()
    for _ in range(times):
        shared.set["c"]["n"] += 1
    out.put((began, time.monotonic()))


def manager_worker(d, lock, times, go, out):
    go.wait()
    began = time.monotonic()
    for _ in range(times):
        if lock is None:
            d["n"] = d["n"] + 1
        else:
            with lock:
                d["n"] = d["n"] + 1
    out.put((began, time.monotonic()))


def run(ctx, target, args, procs, times):
    """One run: (seconds from first start to last end)."""
    go, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=target, args=(*args, times, go, out)) for _ in range(procs)]
    for worker in workers:
        worker.start()
    go.set()
    spans = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(60)
    return max(end for _, end in spans) - min(began for began, _ in spans)


def measure(name, ctx, setup, target, procs, times, repeats):
    seconds, count = [], None
    for _ in range(repeats):
        args, read, cleanup = setup()
        seconds.append(run(ctx, target, args, procs, times))
        count = read()
        cleanup()
    return {"name": name, "procs": procs, "rate": procs * times / statistics.median(seconds), "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incr", type=int, default=2000, help="increments per process")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    manager = ctx.Manager()
    with tempfile.TemporaryDirectory(prefix="tastypy-bench-") as folder:
        rows = _all_rows(ctx, manager, folder, options)
    manager.shutdown()
    _print(rows, options)


def _all_rows(ctx, manager, folder, options) -> list:

    def shared_setup():
        shared = tastypy.SharedPOD(os.path.join(folder, f"p{time.monotonic_ns()}"), init={"c": {"n": 0}})
        return (shared,), lambda: shared["c"]["n"], shared.close

    def manager_setup(with_lock):
        def setup():
            d = manager.dict({"n": 0})
            return (d, manager.Lock() if with_lock else None), lambda: d["n"], lambda: None

        return setup

    rows = []
    for procs in (1, 2, 4):
        rows.append(
            measure("SharedPOD .set", ctx, shared_setup, shared_worker, procs, options.incr, options.repeats)
        )
        rows.append(
            measure(
                "Manager dict + lock",
                ctx,
                manager_setup(True),
                manager_worker,
                procs,
                options.incr,
                options.repeats,
            )
        )
        rows.append(
            measure(
                "Manager dict, no lock",
                ctx,
                manager_setup(False),
                manager_worker,
                procs,
                options.incr,
                options.repeats,
            )
        )
    return rows


def _print(rows, options) -> None:
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{options.incr} increments per process, median of {options.repeats} repeats\n")
    print("| processes | method | increments/s | vs Manager dict + lock | final count / expected |")
    print("| ---: | --- | ---: | ---: | ---: |")
    base = {row["procs"]: row["rate"] for row in rows if row["name"] == "Manager dict + lock"}
    for row in rows:
        expected = row["procs"] * options.incr
        print(
            f"| {row['procs']} | {row['name']} | {row['rate']:,.0f} | "
            f"{row['rate'] / base[row['procs']]:.2f}x | {row['count']} / {expected} |"
        )


if __name__ == "__main__":
    main()
