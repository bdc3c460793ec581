"""The Lua Op engine's speed: ``record['n'] += 1`` in Redis vs a bare ``HINCRBY``.

Rerun with::

    python benchmarks/redis_ops.py [--ops 5000] [--repeats 5]

Starts its own ``redis-server`` on a unix socket in a temporary folder. With
1 and 4 processes (fork), each does ``--ops`` calls of:

* ``Lua engine``: ``APPLY_SCRIPT`` (``EVALSHA``) applying
  ``Op(('k', 'n'), '__iadd__', (1,))`` to a small record held as its JSON text;
* ``Python CAS``: the fallback path, ``WATCH`` / ``GET`` / ``apply_text`` /
  ``MULTI`` ``SET`` ``EXEC``, retried on conflict;
* ``HINCRBY``: Redis's own counter in a hash, the floor of one round trip.

A run's time is from the first worker's start to the last one's end; the
table gives the median of the repeats in operations per second and the
ratio to ``HINCRBY`` measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import redis
from _redis import race, redis_server

from tastypy.observe import Op, encode
from tastypy.redis import ops

RECORD = {
    "_done": False, "_tries": 0, "_aborted": False,
    "url": "https://example.org/page/1", "n": 0, "tags": ["a", "b"],
}
OP = Op(("k", "n"), "__iadd__", (1,))


def lua_worker(url: str, times: int) -> None:
    client = redis.Redis.from_url(url)
    script = client.register_script(ops.APPLY_SCRIPT)
    args = ops.op_args(OP)
    for _ in range(times):
        script(keys=["rec"], args=args)


def cas_worker(url: str, times: int) -> None:
    client = redis.Redis.from_url(url)
    with client.pipeline() as pipe:
        for _ in range(times):
            while True:
                pipe.watch("rec")
                new, _ = ops.apply_text(pipe.get("rec"), OP)
                pipe.multi()
                pipe.set("rec", new)
                try:
                    pipe.execute()
                    break
                except redis.exceptions.WatchError:
                    continue


def hincrby_worker(url: str, times: int) -> None:
    client = redis.Redis.from_url(url)
    for _ in range(times):
        client.hincrby("h", "n", 1)


SERVER_COMMAND = {"lua_worker": "cmdstat_evalsha", "hincrby_worker": "cmdstat_hincrby"}


def run(worker, url: str, procs: int, times: int) -> tuple:
    """Operations per second of ``procs`` processes doing ``times`` calls each,
    and the server's microseconds per call (Redis's own ``commandstats``)."""
    client = redis.Redis.from_url(url)
    client.flushall()
    client.config_resetstat()
    client.set("rec", encode(RECORD).encode())
    seconds = race(worker, url, procs, times)
    expected = procs * times
    if worker is not hincrby_worker:
        got = int(redis.Redis.from_url(url).get("rec").decode().split('"n":')[1].split(",")[0])
        assert got == expected, (worker.__name__, got, expected)
    stats = client.info("commandstats").get(SERVER_COMMAND.get(worker.__name__, ""), {})
    rate = expected / seconds
    return rate, stats.get("usec_per_call", float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    with redis_server() as url:
        workers = [("Lua engine", lua_worker), ("Python CAS", cas_worker), ("HINCRBY", hincrby_worker)]
        print(f"# {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
              f"redis-server {redis.Redis.from_url(url).info()['redis_version']}, "
              f"{options.ops} ops per process, median of {options.repeats}")
        print("| processes | operation | ops/s | vs HINCRBY | server us/call |")
        print("| --- | --- | ---: | ---: | ---: |")
        for procs in (1, 4):
            rates: dict = {name: [] for name, _ in workers}
            for _ in range(options.repeats):
                for name, worker in workers:
                    rates[name].append(run(worker, url, procs, options.ops))
            floor = statistics.median(r for r, _ in rates["HINCRBY"])
            for name, _ in workers:
                rate = statistics.median(r for r, _ in rates[name])
                usec = statistics.median(u for _, u in rates[name])
                print(f"| {procs} | {name} | {rate:,.0f} | {rate / floor:.2f} | {usec:.1f} |")


if __name__ == "__main__":
    main()
