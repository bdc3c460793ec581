"""Slots on the move, run by hand: ``python tests/stress/cluster_redis.py --moves 20``.

Starts a real 3-primary Redis Cluster, then four ``try_keys()`` workers
(prefetch 4) on three trackers whose names lie on the three nodes, and two
processes doing ``.set['c']['n'] += 1`` on a POD, while the main process
moves the slots of every name from node to node, key by key (ASK and
TRYAGAIN all along). At the end: every key done exactly once, none past
``max_tries``, the counters equal to a recount, and the increment count
equal to what the incrementers were acknowledged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from redis_server import RedisCluster  # noqa: E402
from test_redis_cluster import migrate_slot, names_on_every_node  # noqa: E402

import tastypy  # noqa: E402

TASKS = 300
INCREMENTS = 1500


def crawl(tracker, seen):
    for key in tracker.try_keys():
        seen.put((tracker.name, key))
        time.sleep(0.002)
        tracker.mark_done(key)


def increment(pod, acked):
    for _ in range(INCREMENTS):
        pod.set["c"]["n"] += 1
        acked.put(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    cluster = RedisCluster(Path(tempfile.mkdtemp())).start()
    try:
        url = cluster.url
        names = names_on_every_node(url)
        trackers = [tastypy.RedisTracker(url, name, max_tries=1, lease=5.0, prefetch=4) for name in names]
        for tracker in trackers:
            tracker.add_many(range(TASKS))
        pod = tastypy.RedisPOD(url, names[0] + "-counter", init={"c": {"n": 0}})
        context = multiprocessing.get_context("spawn")
        seen, acked = context.Queue(), context.Queue()
        procs = [context.Process(target=crawl, args=(t, seen)) for t in trackers for _ in range(4)]
        procs += [context.Process(target=increment, args=(pod, acked)) for _ in range(2)]
        for proc in procs:
            proc.start()
        began = time.monotonic()
        moved = 0
        while moved < args.moves and any(proc.is_alive() for proc in procs):
            for name in [*names, pod.name]:
                migrate_slot(url, name)
                moved += 1
        for proc in procs:
            proc.join(300)
        got = [seen.get(timeout=10) for _ in range(3 * TASKS)]
        increments = sum(acked.get(timeout=10) for _ in range(2 * INCREMENTS))
        assert [proc.exitcode for proc in procs] == [0] * len(procs), [proc.exitcode for proc in procs]
        assert sorted(got) == sorted((name, key) for name in names for key in range(TASKS)), "a key twice or never"
        for tracker in trackers:
            records = [record for _, record in tracker.items()]
            assert all(r["_tries"] == 1 and r["_done"] for r in records)
            assert (tracker.num_done(), tracker.num_tried()) == (TASKS, TASKS)
        assert pod["c"]["n"] == increments == 2 * INCREMENTS
        print(f"{moved} slot moves in {time.monotonic() - began:.1f} s under 14 processes: "
              f"{3 * TASKS} keys each done once, {increments} increments exact")
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
