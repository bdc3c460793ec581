"""RedisPOD/RedisTracker when things die: a SIGKILLed worker or lock holder, a server restart."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from redis_server import RedisServer
from test_redis_support import (
    JOIN,
    ctx,
    hold_lock_and_hang,
    run_procs,
    take_one_and_hang,
    work,
    work_and_count,
)

from tastypy.redis import RedisPOD, RedisTracker

LEASE = 1.0


def kill(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(JOIN)


def test_a_killed_workers_key_goes_to_the_next_loop_after_the_lease(redis_url):
    tracker = RedisTracker(redis_url, "t", max_tries=2, init={k: {} for k in "abc"}, lease=LEASE)
    context = ctx("fork")
    taken = context.Queue()
    worker = context.Process(target=take_one_and_hang, args=(tracker, taken))
    worker.start()
    try:
        key = taken.get(timeout=JOIN)
        time.sleep(3 * LEASE)  # renewed while the worker lives: not handed out
        assert key not in list(tracker.try_keys()) and tracker.tries(key) == 1
    finally:
        kill(worker)
    began = time.monotonic()
    again = []
    while key not in again and time.monotonic() - began < 10 * LEASE:
        again = list(tracker.try_keys())
        time.sleep(0.1)
    assert key in again and time.monotonic() - began < 3 * LEASE
    assert tracker.tries(key) == 2  # never past max_tries
    assert key not in list(tracker.try_keys())


def test_killed_workers_keys_are_all_done_by_the_others_once_counted(redis_url):
    tracker = RedisTracker(redis_url, "t", init={i: {} for i in range(40)}, lease=LEASE)
    context = ctx("fork")
    taken = context.Queue()
    doomed = [context.Process(target=take_one_and_hang, args=(tracker, taken)) for _ in range(3)]
    for proc in doomed:
        proc.start()
    lost = {taken.get(timeout=JOIN) for _ in doomed}
    for proc in doomed:
        kill(proc)
    seen = context.Queue()
    run_procs(context, work, [(tracker, seen)] * 2)
    time.sleep(1.5 * LEASE)
    run_procs(context, work, [(tracker, seen)] * 2)  # the second run gets the orphans
    assert tracker.num_done() == 40 and all(tracker.done(k) for k in lost)
    assert all(tracker.tries(k) == 2 for k in lost)
    assert sum(tracker.tries(k) for k in tracker) == 40 + len(lost)


def test_a_lock_holder_killed_frees_the_lock_within_the_lease(redis_url):
    pod = RedisPOD(redis_url, "p", lease=LEASE)
    context = ctx("fork")
    holding = context.Queue()
    holder = context.Process(target=hold_lock_and_hang, args=(pod, holding))
    holder.start()
    try:
        assert holding.get(timeout=JOIN)
        assert not pod.lock(timeout=2 * LEASE)  # renewed while its holder lives
    finally:
        kill(holder)
    began = time.monotonic()
    assert pod.lock(timeout=5 * LEASE)
    assert time.monotonic() - began < 1.5 * LEASE
    pod.unlock()


def test_a_server_restarted_on_its_aof_gives_back_the_same_data(tmp_path):
    server = RedisServer(tmp_path / "aof", "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        pod = RedisPOD(server.url, "p", init={"z": [], "a": {"n": 10**20}})
        pod.set["a"]["n"] += 1
        tracker = RedisTracker(server.url, "t", init={k: {} for k in "abcd"}, lease=30)
        tracker.mark_done("b")
        loop = tracker.try_keys()
        assert next(loop) == "a"  # claimed for 30 s
        server.kill()  # as a power loss: what is left is the AOF
        server.start()
        assert pod["a"] == {"n": 10**20 + 1}  # a socket from before the restart is replaced
        loop.close()
        back = RedisPOD(server.url, "p")
        assert list(back.items()) == [("z", []), ("a", {"n": 10**20 + 1})]
        tracker = RedisTracker(server.url, "t", lease=30)
        assert list(tracker) == list("abcd") and tracker.num_done() == 1 and tracker.num_tried() == 1
        assert tracker.tries("a") == 1
    finally:
        server.stop()


def test_claims_expire_across_a_server_restart(tmp_path):
    server = RedisServer(tmp_path / "aof", "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        tracker = RedisTracker(server.url, "t", init={k: {} for k in "ab"}, lease=LEASE)
        context = ctx("fork")
        taken = context.Queue()
        worker = context.Process(target=take_one_and_hang, args=(tracker, taken))
        worker.start()
        key = taken.get(timeout=JOIN)
        kill(worker)
        server.stop()
        server.start()
        time.sleep(1.5 * LEASE)
        fresh = RedisTracker(server.url, "t", lease=LEASE)
        assert key in list(fresh.try_keys()) and fresh.tries(key) == 2
    finally:
        server.stop()


def test_workers_ride_out_a_server_restart_and_nothing_acknowledged_is_lost(tmp_path):
    server = RedisServer(tmp_path / "aof", "--appendonly", "yes", "--appendfsync", "always").start()
    tasks = 400
    try:
        tracker = RedisTracker(server.url, "t", max_tries=3, init={i: {} for i in range(tasks)}, lease=LEASE)
        pod = RedisPOD(server.url, "p", init={"c": {"n": 0}})
        context = ctx("fork")
        acked = context.Queue()
        workers = [context.Process(target=work_and_count, args=(tracker, pod, acked)) for _ in range(3)]
        for proc in workers:
            proc.start()
        got = [acked.get(timeout=JOIN) for _ in range(60)]  # well under way
        server.kill()  # SIGKILL: what is left is the AOF
        time.sleep(0.5)
        server.start()
        deadline = time.monotonic() + JOIN
        while any(proc.is_alive() for proc in workers) and time.monotonic() < deadline:
            while not acked.empty():
                got.append(acked.get(timeout=JOIN))
            time.sleep(0.05)
        for proc in workers:
            proc.join(JOIN)
        while not acked.empty():
            got.append(acked.get(timeout=JOIN))
        assert [proc.exitcode for proc in workers] == [0, 0, 0]  # they went on after the restart
        done = {key for what, key in got if what == "done"}
        assert done == set(range(tasks)) and all(tracker.done(k) for k in done)
        assert tracker.num_done() == tasks
        records = [record for _, record in tracker.items()]
        assert tracker.num_tried() == sum(r["_tries"] > 0 for r in records) == tasks
        assert max(r["_tries"] for r in records) <= 3
        # An increment whose reply the dying server never sent may be tried again.
        increments = sum(what == "n" for what, _ in got)
        assert increments <= pod["c"]["n"] <= increments + 3
    finally:
        server.stop()


def test_nothing_of_a_name_is_left_with_an_expiry_but_the_lock(redis_url):
    pod = RedisPOD(redis_url, "p", init={"a": 1}, lease=LEASE)
    with pod.locked(), redis.Redis.from_url(redis_url, decode_responses=True) as client:
        ttls = {k: client.pttl(k) for k in client.scan_iter()}
    assert {k for k, t in ttls.items() if t >= 0} == {"tastypy:{p}:lock"}


def test_a_server_gone_for_good_gives_a_clear_error_after_the_ride_out(tmp_path, monkeypatch):
    from tastypy.redis import connection

    monkeypatch.setattr(connection, "RIDE_OUT", 1.0)
    server = RedisServer(tmp_path / "gone").start()
    pod = RedisPOD(server.url, "p", init={"a": 1})
    server.stop()
    began = time.monotonic()
    with pytest.raises(ConnectionError, match=f"cannot use Redis at {server.url}#p"):
        pod["a"]
    assert 1.0 <= time.monotonic() - began < 5
