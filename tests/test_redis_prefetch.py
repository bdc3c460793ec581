"""Batched claims: a try_keys() loop of a RedisTracker(prefetch=N) claims up to N keys per round trip.

Each key has a lease of its own, renewed while its process lives; keys a
loop never started go back with their try taken back. The tracker behaviour
tests of test_shared_tracker.py run here again with prefetch on.
"""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest
import redis
import test_shared_tracker
from borrow import borrow
from hosts import Hosts
from test_redis_support import JOIN, ctx, run_procs
from test_shared_support import LEASE, Faces, _session_servers, no_orphans  # noqa: F401  (fixture)

import tastypy

pytestmark = pytest.mark.timeout(120)


class PrefetchFaces(Faces):
    def tracker(self, max_tries: int = 0, init=None):
        made = tastypy.RedisTracker(
            self.where, f"t{next(self._names)}", max_tries=max_tries, init=init, lease=LEASE, prefetch=3
        )
        self.made.append(made)
        return made


@pytest.fixture
def prefetch_url(redis_url, redis_server):
    _session_servers.add(redis_server.process.pid)
    return redis_url


class PrefetchHosts(Hosts):
    def tracker(self, max_tries: int = 0, **options):
        return super().tracker(max_tries, prefetch=3, **options)


#: Tests that name which keys each loop holds, one claim at a time: their
#: prefetch counterparts are the tests below (a killed worker's batch, keys
#: given back when a loop ends).
ONE_CLAIM_AT_A_TIME = frozenset({
    "test_a_worker_killed_mid_task_leaves_its_key_to_the_others",
    "test_an_orphan_handed_ahead_of_the_scan_is_not_handed_twice_in_one_pass",
    "test_leaving_a_loop_frees_its_key",
})

borrow(
    globals(), "prefetch_url",
    modules=(test_shared_tracker,), skip=ONE_CLAIM_AT_A_TIME, faces=PrefetchFaces, hosts=PrefetchHosts,
)  # fmt: skip


def crawl(tracker, seen, pause):
    for key in tracker.try_keys():
        seen.put((os.getpid(), key))
        time.sleep(pause)
        tracker.mark_done(key)


def test_four_prefetching_workers_try_each_key_once(redis_url):
    tracker = tastypy.RedisTracker(redis_url, "t", max_tries=1, prefetch=8)
    tracker.add_many(range(300))
    context = ctx("fork")
    seen = context.Queue()
    run_procs(context, crawl, [(tracker, seen, 0)] * 4)
    got = [seen.get(timeout=10) for _ in range(300)]
    assert sorted(key for _, key in got) == list(range(300))
    assert len({pid for pid, _ in got}) > 1
    assert tracker.num_done() == tracker.num_tried() == 300
    assert all(record["_tries"] == 1 for _, record in tracker.items())
    tracker.close()


def test_keys_claimed_ahead_and_never_started_go_back_with_their_try(redis_url):
    tracker = tastypy.RedisTracker(redis_url, "t", prefetch=5, init={k: {} for k in range(10)})
    for key in tracker.try_keys():
        tracker.mark_done(key)
        break  # the loop ends: keys 1-4 were claimed, never started
    assert [tracker.tries(k) for k in range(6)] == [1, 0, 0, 0, 0, 0]
    assert tracker.num_tried() == 1
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcard("tastypy:{t}:claims") == 0
    other = tastypy.RedisTracker(redis_url, "t")
    assert next(iter(other.try_keys())) == 1
    other.close()
    tracker.close()


def test_a_failed_key_is_freed_by_the_loops_next_round_trip(redis_url):
    tracker = tastypy.RedisTracker(redis_url, "t", max_tries=2, prefetch=2, init={k: {} for k in range(4)})
    handed = []
    for key in tracker.try_keys():
        handed.append(key)
        if key != 0:
            tracker.mark_done(key)
    # 0 failed: still held while its batch lasted, then freed and tried again by a later loop
    assert handed == [0, 1, 2, 3]
    assert list(tracker.try_keys()) == [0] and tracker.tries(0) == 2
    tracker.close()


def test_claims_held_ahead_are_renewed_while_their_process_lives(redis_url):
    slow = tastypy.RedisTracker(redis_url, "t", max_tries=1, lease=0.5, prefetch=4, init={k: {} for k in range(4)})
    loop = iter(slow.try_keys())
    first = next(loop)
    time.sleep(1.5)  # three leases: only renewal keeps the other three claimed
    other = tastypy.RedisTracker(redis_url, "t", max_tries=1, lease=0.5)
    assert list(other.try_keys()) == []
    assert [first, *loop] == [0, 1, 2, 3]
    other.close()
    slow.close()


def hold_a_batch_and_hang(tracker, taken):
    for key in tracker.try_keys():
        taken.put(key)
        time.sleep(600)


def test_a_killed_worker_s_batch_goes_to_the_others_after_the_lease(redis_url):
    tracker = tastypy.RedisTracker(redis_url, "t", max_tries=2, lease=LEASE, prefetch=4)
    tracker.add_many(range(8))
    context = ctx("fork")
    taken = context.Queue()
    doomed = context.Process(target=hold_a_batch_and_hang, args=(tracker, taken))
    doomed.start()
    assert taken.get(timeout=JOIN) == 0
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(JOIN)
    time.sleep(1.5 * LEASE)
    done = collections.Counter()
    for key in tracker.try_keys():
        done[key] += 1
        tracker.mark_done(key)
    assert sorted(done) == list(range(8)) and set(done.values()) == {1}
    # the four it held count as tried (it may have started them): never over max_tries
    assert [tracker.tries(k) for k in range(8)] == [2, 2, 2, 2, 1, 1, 1, 1]
    assert tracker.num_done() == 8
    tracker.close()
