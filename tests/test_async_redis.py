"""The async Redis faces on ``redis.asyncio``: leases renewed by one task per event loop, Redis-only options.

The behaviour shared with the other hosts is tests/test_async.py's suite.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings

import pytest
from helpers import start_py
from test_shared_support import _session_servers

import tastypy
from tastypy.aio.redis_link import Renewer


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120), debug=True)


@pytest.fixture
def url(redis_url, redis_server):
    _session_servers.add(redis_server.process.pid)
    return redis_url


def _renewers() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "tastypy redis renewer"]


HOLD = """
import asyncio, sys, threading, tastypy
url, name, count, lease = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
async def main():
    async with tastypy.AsyncRedisTracker(url, name, lease=lease) as t:
        await t.add_many(range(count))
        held = set()
        async def worker():
            async for key in t.try_keys():
                held.add(key)
                if len(held) == count:
                    renewers = [x for x in asyncio.all_tasks() if x.get_name() == "tastypy redis renewer"]
                    print("held", len(renewers), threading.active_count(), flush=True)
                await asyncio.sleep(3600)
        await asyncio.gather(*(worker() for _ in range(count)))
asyncio.run(main())
"""


def test_one_process_holds_1000_leased_keys_renewed_by_one_task_and_a_sigkill_returns_them_within_the_lease(url):
    count, lease = 1000, 3.0
    child = start_py(HOLD, url, "t", str(count), str(lease))
    watchdog = threading.Timer(90, child.kill)  # bounds the readline below
    watchdog.start()
    try:
        line = child.stdout.readline()
        assert line == "held 1 1\n", child.stderr.read()  # one renewer task, no thread but the main one
        time.sleep(2.5 * lease)  # more than two leases: the task keeps all of them
        other = tastypy.RedisTracker(url, "t", lease=lease)
        try:
            assert list(other.try_keys(max_wait=0)) == []
            assert other.num_tried() == count
            child.kill()
            killed = time.monotonic()
            child.wait(10)
            time.sleep(max(0.0, killed + lease + 0.2 - time.monotonic()))
            got = set()
            for key in other.try_keys(max_wait=0):  # one pass: it skips a key still claimed
                got.add(key)
                other.mark_done(key)
            assert len(got) == count, f"{count - len(got)} keys still held {lease + 0.2} s after the kill"
            assert other.num_done() == count
        finally:
            other.close()
    finally:
        watchdog.cancel()
        child.kill()
        child.wait(10)


def test_one_renewer_task_per_loop_keeps_claims_and_the_lock_past_the_lease_and_ends_with_the_last_aclose(url):
    lease = 0.5

    async def main():
        a = await tastypy.AsyncRedisTracker(url, "a", lease=lease).open()
        b = await tastypy.AsyncRedisTracker(url, "b", lease=lease).open()
        assert len(_renewers()) == 1
        await a.add_many(["k"])
        loop = a.try_keys()
        assert await loop.__anext__() == "k"
        assert await b.lock()
        await asyncio.sleep(3 * lease)  # past the lease: renewed
        other = tastypy.RedisTracker(url, "a", lease=lease)
        try:
            assert await asyncio.to_thread(lambda: list(other.try_keys(max_wait=0))) == []
        finally:
            other.close()
        # The lock is this process's (reentrant for its other objects): ask from another process.
        assert await asyncio.to_thread(_lock_taken_elsewhere, url, "b")
        await b.unlock()
        await loop.aclose()
        await a.aclose()
        assert len(_renewers()) == 1  # b is still open
        await b.aclose()
        assert _renewers() == [] and not Renewer._loops.get(asyncio.get_running_loop())

    run(main())


LOCK = """
import sys, tastypy
t = tastypy.RedisTracker(sys.argv[1], sys.argv[2])
print(t.lock(timeout=0))
t.close()
"""


def _lock_taken_elsewhere(url: str, name: str) -> bool:
    from helpers import run_py

    result = run_py(LOCK, url, name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "False"


def test_a_loop_blocked_for_most_of_a_lease_is_warned_of(url):
    lease = 0.4

    async def main():
        async with tastypy.AsyncRedisTracker(url, "t", lease=lease) as t:
            await t.add("k")
            async for _key in t.try_keys():
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    time.sleep(0.35)  # noqa: ASYNC251  (the mistake this test makes on purpose)
                    await asyncio.sleep(0.3)  # the renewer's turn
                assert any("event loop was blocked" in str(w.message) for w in caught), caught
                break

    asyncio.run(main())  # not debug: its own warning on the slow callback is not this one


def test_redis_options_init_prefetch_drop_and_changes_applied_in_order(url):
    redis_url = url

    async def main():
        async with tastypy.AsyncRedisPOD(redis_url, "p", {"a": {"n": 1}}) as p:
            assert (p.url, p.name) == (redis_url, "p")
            assert await p.getitem("a") == {"n": 1}
            with pytest.raises(KeyError):
                async with p.changes() as c:
                    c["a"]["n"] += 1
                    c["missing"]["n"] = 1  # refused: the change before stays, none after runs
                    c["a"]["m"] = 2
            assert await p.getitem("a") == {"n": 2}
            async with p.changes() as c:  # one compare-and-set of both keys
                c["b"] = {"n": 0}
                c["b"]["n"] += 1
                c["a"]["n"] += 1
            assert [pair async for pair in p.items()] == [("a", {"n": 3}), ("b", {"n": 1})]
            async with p.changes() as c:  # deleted and stored again: to the end, as on a POD
                del c["a"]
                c["a"] = 1
            async with p.changes() as c:  # keys not known ahead: op by op
                c.update({"c": 3})
                c["b"]["n"] += 1
            assert [pair async for pair in p.items()] == [("b", {"n": 2}), ("a", 1), ("c", 3)]

            async def bump():
                async with p.changes() as c:
                    c["b"]["n"] += 1
                    c["c"] += 1

            await asyncio.gather(*(bump() for _ in range(50)))  # concurrent compare-and-sets: none lost
            assert [await p.getitem("b"), await p.getitem("c")] == [{"n": 52}, 53]
            await p.drop()
            assert await p.length() == 0
        with pytest.raises((TypeError, ValueError)):
            await tastypy.AsyncRedisTracker(redis_url, "t", init=["x"]).open()  # not (key, record) pairs
        assert _renewers() == []  # the failed open left no task
        async with tastypy.AsyncRedisTracker(redis_url, "t", 2, {k: {} for k in "xyz"}, prefetch=2) as t:
            assert t.max_tries == 2
            seen = [key async for key in t.try_keys()]
            assert sorted(seen) == ["x", "y", "z"] and await t.num_tried() == 3
            async with t.changes() as c:
                c["x"]["size"] = 3
                c["y"]["_done"] = True  # the counters follow, as on every tracker
            assert (await t.getitem("x"))["size"] == 3 and await t.num_done() == 1
            with pytest.raises((TypeError, ValueError)):
                async with t.changes() as c:
                    c["z"]["_tries"] = "many"  # refused by the record's guard
            assert (await t.getitem("z"))["_tries"] == 1
        with pytest.raises(ValueError, match="holds a RedisTracker"):
            await tastypy.AsyncRedisPOD(redis_url, "t").open()

    run(main())
    with pytest.raises(ValueError, match="prefetch"):
        tastypy.AsyncRedisTracker(redis_url, "t", prefetch=0)  # refused when made, before any connection


def test_the_async_link_raises_the_sync_links_errors(url):
    """The error mapping is the plans', shared: damage and the other kind are named the same way."""
    import redis

    raw = redis.Redis.from_url(url, decode_responses=True)
    try:
        made = tastypy.RedisTracker(url, "t")
        made.add("k")
        made.close()
        raw.hset("tastypy:{t}:values", '"k"', "not json")
        sync = tastypy.RedisTracker(url, "t")
        try:
            with pytest.raises(tastypy.IntegrityError) as sync_error:
                sync["k"]
        finally:
            sync.close()

        async def main():
            async with tastypy.AsyncRedisTracker(url, "t") as t:
                with pytest.raises(tastypy.IntegrityError) as async_error:
                    await t.getitem("k")
                return str(async_error.value)

        assert run(main()) == str(sync_error.value)
        assert "#t" in str(sync_error.value) and '"k"' in str(sync_error.value)
    finally:
        raw.close()


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory):
    from redis_server import RedisCluster

    started = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    _session_servers.update(process.pid for process in started.processes)
    try:
        yield started.url
    finally:
        started.stop()
        _session_servers.difference_update(process.pid for process in started.processes)


@pytest.mark.timeout(180)
def test_the_async_classes_work_on_a_redis_cluster(cluster_url):
    """The same plans on redis.asyncio's RedisCluster: names on every node, claims, changes, the lock."""

    async def main():
        names = [f"n{i}" for i in range(6)]  # their hash tags fall on more than one node
        trackers = [await tastypy.AsyncRedisTracker(cluster_url, name, lease=5.0).open() for name in names]
        try:
            for t in trackers:
                await t.add_many(range(40))

            async def worker(t):
                async for key in t.try_keys():
                    await t.mark_done(key)

            await asyncio.gather(*(worker(t) for t in trackers for _ in range(5)))
            assert [await t.num_done() for t in trackers] == [40] * 6
            async with trackers[0].changes() as c:
                c[0]["size"] = 1
                c[1]["size"] = 2
            assert (await trackers[0].getitem(1))["size"] == 2
            async with trackers[1].locked():
                assert await asyncio.to_thread(_lock_taken_elsewhere, cluster_url, "n1")
            for t in trackers:
                await t.drop()
        finally:
            for t in trackers:
                await t.aclose()
        assert _renewers() == []

    run(main())
