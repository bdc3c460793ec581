"""asyncio faces: throughput against the sync Tracker, and the event loop's lag.

Rerun with ``python benchmarks/async_bench.py [--repeat N] [--no-folder | --no-redis]``;
it prints a Markdown table (the asyncio section of benchmarks/RESULTS.md).

1. 200 coroutines x 50 tasks, each ``await asyncio.sleep(0.001)`` then
   ``mark_done``, on a folder ``AsyncTracker`` with the default ``sync_at``
   (and on an ``AsyncSharedTracker``), against the sync ``Tracker`` doing
   the same 10,000 tasks in one thread (``time.sleep(0.001)``), also with the
   default ``sync_at``: the same durability (a sync every 1,000 changes).
2. The loop's lag: a ticker task sleeps 1 ms again and again; its lateness
   is the lag. p99 with 50 and 200 coroutines on the AsyncTracker, beside
   the same workload on a plain in-memory dict (the CPU's share alone).
3. The same on Redis (a private redis-server on a unix socket, no
   persistence): ``AsyncRedisTracker`` on ``redis.asyncio`` (the native
   link), and the same face over the link it replaced (the blocking
   ``RedisLink`` on 4 threads, rebuilt here as ``ThreadRedisLink``),
   against the sync ``RedisTracker`` in one thread. ``--no-redis`` skips it.

Medians of the repeats are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _redis import redis_server

import tastypy
from tastypy.aio.links import _STOP, _Workers

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


def sync_redis_tracker(url: str, tasks: int) -> float:
    t = tastypy.RedisTracker(url, "sync")
    t.add_many(range(tasks))
    began = time.perf_counter()
    for key in t.try_keys():
        time.sleep(0.001)
        t.mark_done(key)
    elapsed = time.perf_counter() - began
    t.drop()
    t.close()
    return tasks / elapsed


class ThreadRedisLink(_Workers):
    """The async Redis link before the native one: a blocking ``RedisLink`` run on 4 threads."""

    def __init__(self, url: str, name: str) -> None:
        from tastypy.redis.link import RedisLink

        self.link = RedisLink(url, name, "tracker")
        self.what, self.where, self.url, self.name = "AsyncRedisTracker", self.link.where, url, name
        super().__init__(4)

    async def open(self) -> None:
        self._start()
        await self.call("_check_kind")

    async def aclose(self) -> None:
        if not self.closed:
            await self._stop()
            self.link.close()

    def _serve(self) -> None:
        index = self._threads.index(threading.current_thread())
        try:
            while (item := self._queue.get()) is not _STOP:
                name, args, kwargs, future = item
                try:
                    self._report([(future, True, self.link.call(name, *args, **kwargs))])
                except Exception as exc:  # noqa: BLE001  (its caller gets it)
                    self._report([(future, False, exc)])
        finally:
            self._ended_here(index)


async def _open(kind: str, folder: Path, url: str, coroutines: int) -> Any:
    if kind in ("folder", "shared"):
        cls = tastypy.AsyncTracker if kind == "folder" else tastypy.AsyncSharedTracker
        return await cls(folder / f"{kind}{coroutines}").open()
    name = f"{kind}{coroutines}-{time.monotonic_ns()}"
    t = tastypy.AsyncRedisTracker(url, name)
    if kind == "redis threads":
        t._redis = ThreadRedisLink(url, name)  # the same face over the old link
    return await t.open()


async def async_run(kind: str, folder: Path, url: str, coroutines: int) -> tuple[float, float]:
    """(tasks a second, p99 loop lag in ms) of one run."""
    tasks = coroutines * TASKS_PER
    lags: list[float] = []
    stop = asyncio.Event()
    if kind == "dict":
        ticker = asyncio.create_task(_ticker(lags, stop))
        began = time.perf_counter()
        await _on_dict(list(range(tasks)), coroutines)
    else:
        t = await _open(kind, folder, url, coroutines)
        await t.add_many(range(tasks))
        ticker = asyncio.create_task(_ticker(lags, stop))
        began = time.perf_counter()
        await _on_tracker(t, coroutines)
    elapsed = time.perf_counter() - began
    stop.set()
    await ticker
    if kind != "dict":
        if kind.startswith("redis"):
            await t.drop()
        await t.aclose()
    return tasks / elapsed, statistics.quantiles(lags, n=100)[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-folder", action="store_true", help="only the Redis rows")
    parser.add_argument("--no-redis", action="store_true", help="only the folder, shared and dict rows")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    with contextlib.ExitStack() as stack:
        url = "" if args.no_redis else stack.enter_context(redis_server())
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as where:
                folder = Path(where)
                kinds = [] if args.no_folder else ["folder", "shared", "dict"]
                if not args.no_folder:
                    sync = (sync_tracker(folder, 200 * TASKS_PER), 0.0)
                    rows.setdefault("sync Tracker, one thread", []).append(sync)
                if not args.no_redis:
                    sync = (sync_redis_tracker(url, 200 * TASKS_PER), 0.0)
                    rows.setdefault("sync RedisTracker, one thread", []).append(sync)
                    kinds += ["redis", "redis threads"]
                for kind in kinds:
                    for coroutines in (50, 200):
                        rate, lag = asyncio.run(async_run(kind, folder, url, coroutines))
                        rows.setdefault(f"{kind}, {coroutines} coroutines", []).append((rate, lag))
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {args.repeat} runs")
    print("| workload | tasks/s | vs its sync face | loop lag p99 (ms) |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in rows.items():
        base = rows["sync RedisTracker, one thread" if "redis" in name.lower() else "sync Tracker, one thread"]
        rate = statistics.median(r for r, _ in values)
        lag = statistics.median(lag for _, lag in values)
        print(f"| {name} | {rate:,.0f} | {rate / statistics.median(r for r, _ in base):.1f}x | {lag:.2f} |")


if __name__ == "__main__":
    main()
