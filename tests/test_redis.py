"""RedisPOD on a real redis-server: what only Redis has (names, text, URLs, drop).

The behaviour it shares with SharedPOD is tested on both in test_shared*.py.
"""

from __future__ import annotations

import pickle
import time

import pytest
import redis
from helpers import run_py
from test_redis_support import (
    JOIN,
    ctx,
    increment,
    report,
    run_procs,
)

from tastypy.observe import encode
from tastypy.redis import RedisPOD, RedisTracker, scripts
from tastypy.redis.connect import mask
from tastypy.redis.link import RedisLink


@pytest.fixture
def pod(redis_url):
    shared = RedisPOD(redis_url, "p")
    yield shared
    shared.close()


def test_order_is_insertion_order_and_readding_moves_to_the_end(pod):
    for key in ["c", "a", 3, ("t", 1), "b"]:
        pod[key] = 0
    pod["a"] = 1  # reassigning keeps the place
    del pod["c"]
    pod["c"] = 2
    assert list(pod) == ["a", 3, ("t", 1), "b", "c"]
    assert pod.popitem() == ("c", 2)


def test_values_are_held_as_their_normal_form_text(pod, redis_url):
    value = {"z": [], "a": {}, "big": 1234567890123456789, "f": 0.1, "s": "é\n"}
    pod[("k", 1)] = value
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        rkeys = client.keys("*")
        assert all(k.startswith("tastypy:{p}:") for k in rkeys)
        assert client.hget("tastypy:{p}:values", '["k",1]') == encode(value)
    assert pod[("k", 1)] == value and list(pod[("k", 1)]) == ["z", "a", "big", "f", "s"]


def test_sync_family_exists_and_has_nothing_to_do(pod):
    pod["a"] = 1
    assert pod.dirty() == set()
    pod.sync()
    pod.sync_key("a")
    pod.mark_dirty("a")
    with pytest.raises(KeyError):
        pod.mark_dirty("missing")
    pod.hold()
    pod["b"] = 2
    pod.unhold()
    pod.revert()  # nothing unsynced: nothing dropped
    assert dict(pod.items()) == {"a": 1, "b": 2}


def test_set_forms_are_applied_on_the_server(pod):
    pod["c"] = {"n": 0, "l": [3, 1, 2], "d": {}}
    pod.set["c"]["n"] += 5
    pod.set["c"]["n"] -= 1
    pod.set["c"]["l"] += ["x"]
    pod.set["c"]["l"].remove("x")
    pod.set["c"]["l"].sort()
    pod.set["c"]["d"].setdefault("q", [])
    pod.set["c"]["d"]["q"].append(1)
    assert pod.set["c"]["l"].pop() == 3
    pod.set["t"] = {"v": 1}
    assert pod["c"] == {"n": 4, "l": [1, 2], "d": {"q": [1]}} and pod["t"] == {"v": 1}
    assert pod.set.pop("t") == {"v": 1} and "t" not in pod


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_of_each_start_method_read_and_write(pod, method):
    pod["a"] = 1
    context = ctx(method)
    queue = context.Queue()
    run_procs(context, report, [(pod, queue)])
    _, items = queue.get(timeout=JOIN)
    assert items == {"a": 1}
    pod["c"] = {"n": 0}
    run_procs(context, increment, [(pod, 5)] * 2)
    assert pod["c"]["n"] == 10


def test_pickles_to_url_name_and_options_only(redis_url):
    pod = RedisPOD(redis_url, "p", init={"big": "x" * 10_000}, lease=7)
    data = pickle.dumps(pod)
    assert len(data) < 500 and b"xxxx" not in data
    back = pickle.loads(data)
    assert back["big"] == "x" * 10_000 and back._link.lease == 7.0


def test_lock_is_reentrant_with_timeouts_and_unlock_errors(redis_url):
    one = RedisPOD(redis_url, "p", lease=5)
    assert one.lock() and one.lock(timeout=0)
    one.unlock()
    one.unlock()
    with pytest.raises(RuntimeError, match="does not hold"):
        one.unlock()


def test_close_leaves_the_data_and_drop_deletes_only_this_name(redis_url):
    pod = RedisPOD(redis_url, "p", init={"a": 1})
    other = RedisPOD(redis_url, "p2", init={"b": 2})
    tracker = RedisTracker(redis_url, "p*", init={"c": {}})  # a pattern character in the name
    pod.lock()
    pod.close()
    with pytest.raises(ValueError, match="closed"):
        pod["a"]
    again = RedisPOD(redis_url, "p")
    assert again["a"] == 1
    again.drop()
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        left = set(client.scan_iter(match="*"))
    assert left and not any(k.startswith("tastypy:{p}:") for k in left)
    assert other["b"] == 2 and tracker["c"]["_done"] is False
    assert len(again) == 0


@pytest.mark.parametrize("name", ["", "a{b", "c}", 3, None])
def test_bad_names_are_refused(redis_url, name):
    with pytest.raises(ValueError, match="name"):
        RedisPOD(redis_url, name)


def test_a_name_holds_one_kind(redis_url):
    RedisPOD(redis_url, "p", init={"a": 1})
    with pytest.raises(ValueError, match="holds a RedisPOD"):
        RedisTracker(redis_url, "p")


def test_password_is_masked():
    assert mask("redis://user:secret@host:6379/0") == "redis://user:***@host:6379/0"
    assert mask("redis://:secret@host/1") == "redis://:***@host/1"
    assert mask("unix:///tmp/r.sock?db=2&password=secret") == "unix:///tmp/r.sock?db=2&password=***"
    assert mask("unix:///tmp/r.sock") == "unix:///tmp/r.sock"


@pytest.mark.parametrize(
    "url",
    [
        "unix:///nonexistent/redis.sock",
        "redis://127.0.0.1:1/0",
        "redis://:secret@127.0.0.1:1/0",
    ],
)
def test_an_unreachable_server_fails_within_seconds_naming_the_url(url):
    began = time.monotonic()
    with pytest.raises(ConnectionError) as err:
        RedisPOD(url, "p")
    assert time.monotonic() - began < 10
    assert "secret" not in str(err.value) and mask(url) in str(err.value)


def test_a_wrong_database_or_password_fails_naming_the_url(redis_url, tmp_path):
    from redis_server import RedisServer

    with pytest.raises(ConnectionError, match="#p"):
        RedisPOD(redis_url + "?db=99", "p")
    server = RedisServer(tmp_path / "auth").start()
    try:
        with redis.Redis.from_url(server.url) as client:
            client.config_set("requirepass", "right")  # after start: the start check pings
        for url in (server.url + "?password=hunter2", server.url):
            began = time.monotonic()
            with pytest.raises(ConnectionError) as err:
                RedisPOD(url, "p")
            assert time.monotonic() - began < 10 and "hunter2" not in str(err.value)
        assert RedisPOD(server.url + "?password=right", "p", init={"a": 1})["a"] == 1
    finally:
        server.stop()


def test_open_target_opens_what_the_name_holds(redis_url):
    from tastypy.redis import is_target, open_target

    RedisPOD(redis_url, "p", init={"a": 1})
    RedisTracker(redis_url, "t", max_tries=2, init={"k": {}})
    assert is_target(f"{redis_url}#p") and not is_target("/some/folder") and not is_target(redis_url)
    pod = open_target(f"{redis_url}#p")
    assert type(pod) is RedisPOD and pod["a"] == 1
    tracker = open_target(f"{redis_url}#t", max_tries=2)
    assert type(tracker) is RedisTracker and tracker.max_tries == 2 and list(tracker.todo_keys()) == ["k"]
    assert type(open_target(f"{redis_url}#new")) is RedisPOD
    assert type(open_target(f"{redis_url}#new2", tracker=True)) is RedisTracker
    with pytest.raises(ValueError, match="holds a RedisPOD"):
        open_target(f"{redis_url}#p", tracker=True)
    with pytest.raises(ValueError, match="URL#NAME"):
        open_target("/some/folder")


def _workload(url):
    """A POD and a Tracker through every kind of script, from this process and 4 children."""
    pod = RedisPOD(url, "p", init={"c": {"n": 0, "l": [2, 1]}})
    pod.set["c"]["l"].sort()  # a compare-and-set from Python
    pod.set["c"]["l"].append(3)  # the Lua engine
    assert pod.setdefault("d", 1) == 1 and pod.pop("d") == 1
    assert pod.popitem() == ("c", {"n": 0, "l": [1, 2, 3]})
    pod["c"] = {"n": 0}
    run_procs(ctx("fork"), increment, [(pod, 25)] * 4)
    assert pod["c"]["n"] == 100
    with pod.locked():
        pod["x"] = 1
    tracker = RedisTracker(url, "t", max_tries=1, init={k: {} for k in range(5)})
    done = []
    for key in tracker.try_keys():
        if key == 3:
            tracker.abort(key)
            continue
        tracker.mark_done(key)
        done.append(key)
    assert done == [0, 1, 2, 4] and list(tracker.try_keys()) == []
    assert (tracker.num_done(), tracker.num_tried(), tracker.num_aborted()) == (4, 5, 1)


def _script_calls(client):
    stats = client.info("commandstats")
    return {cmd: stats.get(f"cmdstat_{cmd}", {}).get("calls", 0) for cmd in ("fcall", "evalsha", "eval")}


def test_scripts_run_as_redis_functions_loaded_on_first_use(redis_url):
    with redis.Redis.from_url(redis_url) as client:
        client.function_flush()  # as a fresh or flushed server: the library is loaded again
        client.config_resetstat()
        _workload(redis_url)
        calls = _script_calls(client)
        assert calls["fcall"] > 100 and calls["evalsha"] == calls["eval"] == 0
        assert client.fcall(scripts.FUNCTIONS["LOCK_FREE"], 1, "no-lock", "token") == 0


def test_scripts_run_by_evalsha_where_functions_are_off(redis_url, monkeypatch):
    monkeypatch.setattr(RedisLink, "functions", False)
    with redis.Redis.from_url(redis_url) as client:
        client.script_flush()  # the scripts are loaded again (EVAL once each)
        client.config_resetstat()
        _workload(redis_url)
        calls = _script_calls(client)
        assert calls["fcall"] == 0 and calls["evalsha"] > 100


def test_a_user_without_fcall_falls_back_to_evalsha(redis_url):
    user = "tastypy-test-nofcall"
    with redis.Redis.from_url(redis_url) as client:
        client.function_flush()
        client.acl_setuser(
            user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
            commands=["+@all", "-fcall", "-function"],
        )
        try:
            client.config_resetstat()
            _workload(f"{redis_url}?username={user}&password=pw")
            calls = _script_calls(client)
            assert calls["evalsha"] > 100 and client.function_list() == []
        finally:
            client.acl_deluser(user)


def test_threads_of_one_process_share_a_pod_exactly(pod):
    import threading

    pod["c"] = {"n": 0}
    threads = [threading.Thread(target=increment, args=(pod, 50)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert not any(thread.is_alive() for thread in threads) and pod["c"]["n"] == 200


def test_the_renewer_thread_ends_once_every_link_is_closed(redis_url):
    # A program done with Redis must not fork with a thread of ours running.
    result = run_py(
        """
        import sys, threading, time
        from tastypy import RedisTracker

        def renewers():
            return [t for t in threading.enumerate() if t.name == "tastypy redis renewer"]

        tracker = RedisTracker(sys.argv[1], "renewed", lease=1.0)
        tracker.add("a")
        loop = tracker.try_keys()
        assert next(loop) == "a" and renewers()
        loop.close()
        tracker.close()
        deadline = time.monotonic() + 5
        while renewers() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(len(renewers()))
        """,
        redis_url,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "0"), result.stderr
