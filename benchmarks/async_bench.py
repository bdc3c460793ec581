"""asyncio faces: throughput against the sync Tracker, and the event loop's lag.

Rerun with ``python benchmarks/async_bench.py [--repeat N]``; it prints a
Markdown table (the asyncio section of benchmarks/RESULTS.md).

1. 200 coroutines x 50 tasks, each ``await asyncio.sleep(0.001)`` then
   ``mark_done``, on a folder ``AsyncTracker`` with the default ``sync_at``
   (and on an ``AsyncSharedTracker``), against the sync ``Tracker`` doing
   the same 10,000 tasks in one thread (``time.sleep(0.001)``), also with the
   default ``sync_at``: the same durability (a sync every 1,000 changes).
2. The loop's lag: a ticker task sleeps 1 ms again and again; its lateness
   is the lag. p99 with 50 and 200 coroutines on the AsyncTracker, beside
   the same workload on a plain in-memory dict (the CPU's share alone).

Medians of the repeats are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import tastypy

TASKS_PER = 50
TICK = 0.001


def sync_tracker(folder: Path, tasks: int) -> float:
    t = tastypy.Tracker(folder / "sync")
    t.add_many(range(tasks))
    began = time.perf_counter()
    for key in t.try_keys():
        time.sleep(0.001)
        t.mark_done(key)
    elapsed = time.perf_counter() - began
    t.close()
    return tasks / elapsed


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        await asyncio.sleep(TICK)
        lags.append(loop.time() - began - TICK)


async def _on_tracker(t: tastypy.AsyncTracker, coroutines: int) -> None:
    async def worker() -> None:
        async for key in t.try_keys():
            await asyncio.sleep(0.001)
            await t.mark_done(key)

    await asyncio.gather(*(worker() for _ in range(coroutines)))


async def _on_dict(keys: list[int], coroutines: int) -> None:
    done: dict[int, bool] = {}
    them = iter(keys)

    async def worker() -> None:
        for key in them:
            await asyncio.sleep(0.001)
            done[key] = True

    await asyncio.gather(*(worker() for _ in range(coroutines)))


async def async_run(kind: str, folder: Path, coroutines: int) -> tuple[float, float]:
    """(tasks a second, p99 loop lag in ms) of one run."""
    tasks = coroutines * TASKS_PER
    lags: list[float] = []
    stop = asyncio.Event()
    if kind == "dict":
        ticker = asyncio.create_task(_ticker(lags, stop))
        began = time.perf_counter()
        await _on_dict(list(range(tasks)), coroutines)
    else:
        cls = tastypy.AsyncTracker if kind == "folder" else tastypy.AsyncSharedTracker
        t = await cls(folder / f"{kind}{coroutines}").open()
        await t.add_many(range(tasks))
        ticker = asyncio.create_task(_ticker(lags, stop))
        began = time.perf_counter()
        await _on_tracker(t, coroutines)
    elapsed = time.perf_counter() - began
    stop.set()
    await ticker
    if kind != "dict":
        await t.aclose()
    return tasks / elapsed, statistics.quantiles(lags, n=100)[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as where:
            folder = Path(where)
            rows.setdefault("sync Tracker, one thread", []).append((sync_tracker(folder, 200 * TASKS_PER), 0.0))
            for kind in ("folder", "shared", "dict"):
                for coroutines in (50, 200):
                    rate, lag = asyncio.run(async_run(kind, folder, coroutines))
                    rows.setdefault(f"{kind}, {coroutines} coroutines", []).append((rate, lag))
    base = statistics.median(rate for rate, _ in rows["sync Tracker, one thread"])
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {args.repeat} runs")
    print("| workload | tasks/s | vs sync Tracker | loop lag p99 (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in rows.items():
        rate = statistics.median(r for r, _ in values)
        lag = statistics.median(lag for _, lag in values)
        print(f"| {name} | {rate:,.0f} | {rate / base:.1f}x | {lag:.2f} |")


if __name__ == "__main__":
    main()
