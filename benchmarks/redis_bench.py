"""RedisPOD and RedisTracker beside their floors, measured in one run.

Rerun with::

    python benchmarks/redis_bench.py [--ops 3000] [--tasks 10000] [--repeats 5]

Starts its own ``redis-server`` on a unix socket in a temporary folder
(no persistence). With 4 processes (fork):

* W7 ``RedisPOD.set['c']['n'] += 1``, ``--ops`` per process, against a bare
  ``HINCRBY`` on one field (the floor of one round trip); the count must be
  exact every run.
* ``RedisTracker``: ``try_keys()`` + ``mark_done()`` over ``--tasks`` empty
  tasks, against a bare Redis queue (``LPUSH`` all, workers ``RPOP`` one
  and ``INCR`` its done mark until the queue is empty: two round trips a
  task, as ``try_keys()`` + ``mark_done()``); each task must be done
  exactly once.
* ``RedisTracker(prefetch=16)``: the same with batched claims, against the
  plainest Redis list queue (``LPUSH`` all once, workers ``BRPOP`` one and
  do nothing else: one round trip a task, no done mark; its last wait of
  ``BRPOP_WAIT`` on the empty queue counts in its time).

A run's time is from the first worker's start to the last one's end; the
table gives the median of the repeats, the ratio to the floor of the same
run, and the server's CPU time per operation (``INFO cpu``: where the
server's share of the time goes; the rest is the clients').
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

from tastypy.redis import RedisPOD, RedisTracker

PROCS = 4
#: Keys a prefetching try_keys() loop claims per round trip.
PREFETCH = 16
#: Seconds a BRPOP worker waits on the empty queue before it stops (part of the floor's time).
BRPOP_WAIT = 0.05


def w7(url: str, times: int) -> None:
    pod = RedisPOD(url, "w7")
    for _ in range(times):
        pod.set["c"]["n"] += 1


def hincrby(url: str, times: int) -> None:
    client = redis.Redis.from_url(url)
    for _ in range(times):
        client.hincrby("h", "n", 1)


def tracker_worker(url: str, _: int) -> None:
    tracker = RedisTracker(url, "tasks")
    for key in tracker.try_keys():
        tracker.mark_done(key)


def prefetch_worker(url: str, _: int) -> None:
    tracker = RedisTracker(url, "tasks", prefetch=PREFETCH)
    for key in tracker.try_keys():
        tracker.mark_done(key)


def brpop_worker(url: str, _: int) -> None:
    client = redis.Redis.from_url(url)
    popped = 0
    while client.brpop(["queue"], timeout=BRPOP_WAIT) is not None:
        popped += 1
    client.incrby("popped", popped)  # once per worker, for the check


def queue_worker(url: str, _: int) -> None:
    client = redis.Redis.from_url(url)
    while True:
        got = client.rpop("queue")
        if got is None:
            return
        client.incr(f"done:{got.decode()}")


def server_cpu(client) -> float:
    cpu = client.info("cpu")
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


def run(worker, url: str, times: int, prepare, check) -> tuple[float, float]:
    """Operations per second of PROCS processes running ``worker``, and server CPU µs per operation."""
    client = redis.Redis.from_url(url)
    client.flushall()
    count = prepare(client)
    cpu = server_cpu(client)
    seconds = race(worker, url, PROCS, times)
    cpu = server_cpu(client) - cpu
    check(client)
    return count / seconds, cpu / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    with redis_server() as url:
        bench(url, options.ops, options.tasks, options.repeats)


def bench(url: str, ops: int, tasks: int, repeats: int) -> None:
    """Race each workload and its floor ``repeats`` times; print the medians."""

    def w7_prepare(client):
        RedisPOD(url, "w7", init={"c": {"n": 0}}).close()
        return PROCS * ops

    def w7_check(client):
        got = RedisPOD(url, "w7")["c"]["n"]
        assert got == PROCS * ops, f"W7 lost updates: {got} != {PROCS * ops}"

    def hincrby_check(client):
        assert int(client.hget("h", "n")) == PROCS * ops

    def tracker_prepare(client):
        tracker = RedisTracker(url, "tasks")
        tracker.add_many(range(tasks))
        tracker.close()
        return tasks

    def tracker_check(client):
        tracker = RedisTracker(url, "tasks")
        assert tracker.num_done() == tasks, tracker.num_done()
        assert all(record["_tries"] == 1 for record in tracker.values()), "a task tried twice"

    def queue_prepare(client):
        for at in range(0, tasks, 1000):
            client.lpush("queue", *range(at, min(tasks, at + 1000)))
        return tasks

    def brpop_check(client):
        assert int(client.get("popped")) == tasks and client.llen("queue") == 0

    def queue_check(client):
        keys = list(client.scan_iter("done:*", count=1000))
        assert len(keys) == tasks and all(int(v) == 1 for v in client.mget(keys))

    rows = [
        ("W7 RedisPOD.set['c']['n'] += 1", w7, w7_prepare, w7_check),
        ("HINCRBY (floor)", hincrby, lambda c: PROCS * ops, hincrby_check),
        ("RedisTracker try_keys + mark_done", tracker_worker, tracker_prepare, tracker_check),
        ("LPUSH/RPOP queue (floor)", queue_worker, queue_prepare, queue_check),
        (f"RedisTracker(prefetch={PREFETCH}) try_keys + mark_done", prefetch_worker, tracker_prepare, tracker_check),
        ("LPUSH once, BRPOP + nothing per task (floor)", brpop_worker, queue_prepare, brpop_check),
    ]
    rates: dict = {name: [] for name, *_ in rows}
    cpus: dict = {name: [] for name, *_ in rows}
    for _ in range(repeats):
        for name, worker, prepare, check in rows:
            rate, cpu = run(worker, url, ops, prepare, check)
            rates[name].append(rate)
            cpus[name].append(cpu)
    version = redis.Redis.from_url(url).info()["redis_version"]
    print(f"# {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"redis-server {version}, {PROCS} processes, median of {repeats}")
    print("| workload | per second | vs floor | server CPU µs/op |")
    print("| --- | ---: | ---: | ---: |")
    medians = {name: statistics.median(r) for name, r in rates.items()}
    floors = {rows[0][0]: rows[1][0], rows[2][0]: rows[3][0], rows[4][0]: rows[5][0]}
    for name, *_ in rows:
        floor = floors.get(name, name)
        print(f"| {name} | {medians[name]:,.0f} | {medians[name] / medians[floor]:.2f} "
              f"| {statistics.median(cpus[name]):.0f} |")


if __name__ == "__main__":
    main()
