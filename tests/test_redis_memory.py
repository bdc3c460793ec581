"""Redis at its memory limit: evicting policies refused, a lost lock noticed, reads and frees at maxmemory.

A private redis-server (its config is changed here, the session's is not).
"""

from __future__ import annotations

import time

import pytest
import redis
from cli_helpers import one_error_line, tastypy
from redis_server import RedisServer

import tastypy as tp
from tastypy.redis.connect import EvictionError
from tastypy.redis.lease import lost_locks

pytestmark = pytest.mark.timeout(60)

EVICTING = [
    "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = RedisServer(tmp_path_factory.mktemp("redis-memory")).start()
    yield started
    started.stop()


@pytest.fixture
def admin(server):
    with redis.Redis.from_url(server.url, decode_responses=True) as client:
        client.flushall()
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 0)
        yield client
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 0)


@pytest.mark.parametrize("policy", EVICTING)
def test_a_server_that_may_evict_is_refused_unless_allowed(server, admin, policy):
    admin.config_set("maxmemory", "100mb")
    admin.config_set("maxmemory-policy", policy)
    url = server.url + "?password=sekrit"
    admin.config_set("requirepass", "sekrit")
    try:
        with pytest.raises(EvictionError, match=f"maxmemory-policy {policy}.*allow_eviction=True") as caught:
            tp.RedisTracker(url, "t")
        assert "password=***" in str(caught.value) and "sekrit" not in str(caught.value)
        assert admin.keys("*") == []  # refused before anything was written
        with tp.RedisTracker(url, "t", allow_eviction=True) as tracker:
            tracker.add("a")
            assert tracker.should_do("a")
    finally:
        admin.config_set("requirepass", "")


def test_the_cli_names_the_url_and_policy_on_one_line(server, admin, tmp_path):
    with tp.RedisPOD(server.url, "p") as pod:
        pod["a"] = 1
    admin.config_set("maxmemory-policy", "allkeys-lru")
    line = one_error_line(tastypy("keys", f"{server.url}#p"))
    assert "maxmemory-policy allkeys-lru" in line and f"{server.url}#p" in line


def test_a_lost_lock_warns_at_renewal_and_its_unlock_raises(server, admin):
    pod = tp.RedisPOD(server.url, "p", lease=0.4)
    pod.lock()
    admin.delete("tastypy:{p}:lock")  # what eviction or another client does
    with pytest.warns(RuntimeWarning, match=r"lock was lost.*unlock\(\) will raise"):
        deadline = time.monotonic() + 5
        while (server.url, "p") not in lost_locks() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert admin.set("tastypy:{p}:lock", "another process", nx=True)  # free for anyone to take
    with pytest.raises(RuntimeError, match="lock was lost while held"):
        pod.unlock()
    assert admin.get("tastypy:{p}:lock") == "another process"  # not freed: not ours
    admin.delete("tastypy:{p}:lock")
    assert pod.lock(timeout=1)  # usable again
    pod.unlock()
    pod.close()


def test_unlock_of_a_lock_taken_over_raises_even_before_the_renewer_saw_it(server, admin):
    pod = tp.RedisPOD(server.url, "p", lease=30)
    pod.lock()
    admin.set("tastypy:{p}:lock", "someone else")
    with pytest.raises(RuntimeError, match="lock was lost while held"):
        pod.unlock()
    assert admin.get("tastypy:{p}:lock") == "someone else"  # not freed: not ours
    pod.close()


def _fill(tracker, pod) -> None:
    tracker.add_many(range(20))
    tracker.mark_done(0)
    for key in range(10):
        pod[key] = {"n": key, "l": [key]}


@pytest.mark.parametrize("functions", [True, False], ids=["fcall", "evalsha"])
def test_at_maxmemory_reads_and_frees_work_and_a_refused_write_changes_nothing(server, admin, functions, monkeypatch):
    from tastypy.redis.link import RedisLink

    monkeypatch.setattr(RedisLink, "functions", functions)
    tracker = tp.RedisTracker(server.url, "t")
    pod = tp.RedisPOD(server.url, "p")
    _fill(tracker, pod)
    before = (dict(tracker.items()), dict(pod.items()))
    admin.config_set("maxmemory", 1)  # every growing write is refused from now on
    for write in (
        lambda: tracker.__setitem__(99, {}),
        lambda: tracker.add(99),
        lambda: tracker.mark_done(1),
        lambda: pod.__setitem__("new", 1),
        lambda: pod.set[1]["l"].append(2),
        lambda: pod.update({"x": 1, "y": 2}),
    ):
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            write()
    assert (dict(tracker.items()), dict(pod.items())) == before
    assert list(tracker.todo_keys()) == list(range(1, 20))
    assert tracker.should_do(1) and not tracker.should_do(0)
    assert len(tracker) == 20 and tracker.num_done() == 1 and 5 in tracker
    del tracker[1]
    assert tracker.pop(2)["_done"] is False
    assert pod.popitem() == (9, {"n": 9, "l": [9]})
    del pod[0]
    assert pod.pop(1) == {"n": 1, "l": [1]}
    assert tracker.num_done() == 1 and len(tracker) == 18
    tracker.clear()
    assert len(tracker) == 0 and tracker.num_done() == 0
    admin.config_set("maxmemory", 0)
    tracker.add("back")
    assert list(tracker.try_keys()) == ["back"]
    tracker.close()
    pod.close()


def test_a_lock_redis_really_evicts_is_noticed(server, admin):
    """volatile-lru at maxmemory: the lock, tastypy's only key with a time to live, is what goes."""
    admin.config_set("maxmemory-policy", "volatile-lru")
    pod = tp.RedisPOD(server.url, "p", lease=0.6, allow_eviction=True)
    pod["a"] = 1
    pod.lock()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", used + 200_000)
    with pytest.warns(RuntimeWarning, match="lock was lost"):
        for n in range(400):  # other data, no TTL: Redis makes room by evicting the lock
            try:
                admin.set(f"filler:{n}", "x" * 1000)
            except redis.exceptions.OutOfMemoryError:
                break  # nothing with a TTL is left to evict
        deadline = time.monotonic() + 5
        while (server.url, "p") not in lost_locks() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert admin.exists("tastypy:{p}:lock") == 0 and int(admin.info("stats")["evicted_keys"]) >= 1
    admin.config_set("maxmemory", 0)
    with pytest.raises(RuntimeError, match="lock was lost while held"):
        pod.unlock()
    pod.close()
