"""Data another client wrote into a name's Redis keys: read correctly, or refused by name, never skipped.

Every refusal is an ``IntegrityError`` naming ``URL#NAME`` and the key, and
changes nothing; the command line says it in one line.
"""

from __future__ import annotations

import pytest
import redis
from cli_helpers import one_error_line, tastypy

import tastypy as tp
from tastypy import IntegrityError

pytestmark = pytest.mark.timeout(60)

V, M, O = "tastypy:{n}:values", "tastypy:{n}:meta", "tastypy:{n}:order"


@pytest.fixture(autouse=True, params=[True, False], ids=["fcall", "evalsha"])
def engine(request, monkeypatch):
    """Both ways of running the scripts: Redis 7 functions, and EVALSHA (Redis 6, restricted users)."""
    from tastypy.redis.link import RedisLink

    monkeypatch.setattr(RedisLink, "functions", request.param)


@pytest.fixture
def client(redis_url):
    with redis.Redis.from_url(redis_url, decode_responses=True) as made:
        yield made


def named(url: str, *parts: str) -> str:
    """A pattern for an IntegrityError message naming URL#NAME and ``parts``."""
    import re

    return ".*".join(re.escape(part) for part in (f"{url}#n", *parts))


@pytest.mark.parametrize("text", ["not json", '{"n":1} trailing', '{"n":1}x', "NaN", '{"n":', '{"n":01}', '[1,None]', '{"n":-Infinity}'])
def test_a_value_that_is_not_one_json_value_is_refused_by_name(redis_url, client, text):
    pod = tp.RedisPOD(redis_url, "n", init={"a": {"n": 1}, "b": 2})
    client.hset(V, '"a"', text)
    for read in (lambda: pod["a"], lambda: pod.get("a"), lambda: list(pod.items()), lambda: pod.pop("a")):
        with pytest.raises(IntegrityError, match=named(redis_url, '"a"', V, "not one JSON value")):
            read()
    with pytest.raises(IntegrityError, match=named(redis_url, '"a"', V)):
        pod.set["a"]["n"] += 1
    assert client.hget(V, '"a"') == text  # changed nothing
    assert pod["b"] == 2 and "a" in pod
    pod.close()


def test_json_with_spaces_is_read_and_a_set_op_writes_it_back_in_normal_form(redis_url, client):
    pod = tp.RedisPOD(redis_url, "n", init={"a": {"n": 1}})
    client.hset(V, '"a"', '{ "n" : 1 , "l": [1, 2] }')
    assert pod["a"] == {"n": 1, "l": [1, 2]}
    pod.set["a"]["n"] += 1
    pod.set["a"]["l"].append(3)
    assert client.hget(V, '"a"') == '{"n":2,"l":[1,2,3]}'
    pod.close()


def test_a_foreign_redis_type_is_refused_at_open_and_after(redis_url, client):
    client.set(V, "a string")
    with pytest.raises(IntegrityError, match=named(redis_url, V, "is a string, not a hash")):
        tp.RedisPOD(redis_url, "n")
    client.delete(V)
    pod = tp.RedisPOD(redis_url, "n", init={"a": 1})
    client.delete("tastypy:{n}:order")
    client.sadd("tastypy:{n}:order", "x")
    with pytest.raises(IntegrityError, match=named(redis_url, O, "is a set, not a zset")):
        pod["b"] = 2
    with pytest.raises(IntegrityError, match=named(redis_url, O, "is a set, not a zset")):
        list(pod)
    assert client.hgetall(V) == {'"a"': "1"}
    pod.close()


def test_values_without_their_meta_hash_are_refused(redis_url, client):
    tracker = tp.RedisTracker(redis_url, "n", init={"a": {}, "b": {}})
    tracker.mark_done("a")
    client.delete(M)  # deleted, or evicted
    for write in (lambda: tracker.add("c"), lambda: tracker.mark_done("b"), lambda: list(tracker.try_keys())):
        with pytest.raises(IntegrityError, match=named(redis_url, M, "gone while", V)):
            write()
    assert client.hlen(V) == 2 and not client.exists(M)  # changed nothing
    with pytest.raises(IntegrityError, match=named(redis_url, M, "gone while")):
        tp.RedisTracker(redis_url, "n")
    tracker.close()


def test_a_record_with_its_fields_in_another_order_is_read_and_worked(redis_url, client):
    tracker = tp.RedisTracker(redis_url, "n", max_tries=2, init={"a": {}})
    client.hset(V, '"a"', '{"note":"x","_tries":0,"_aborted":false,"_done":false}')
    assert tracker["a"] == {"note": "x", "_tries": 0, "_aborted": False, "_done": False}
    assert tracker.should_do("a") and list(tracker.todo_keys()) == ["a"]
    assert list(tracker.try_keys()) == ["a"]
    assert tracker.tries("a") == 1
    tracker.set["a"]["note"] = "y"
    tracker.mark_done("a")
    assert tracker["a"] == {"_done": True, "_tries": 1, "_aborted": False, "note": "y"}
    assert (tracker.num_done(), tracker.num_tried()) == (1, 1)
    tracker.close()


@pytest.mark.parametrize(
    "text",
    [
        '{"note":"x"}',
        '{"_done":"no","_tries":0,"_aborted":false}',
        '{"_done":false,"_tries":-1,"_aborted":false}',
        '{"_done":false,"_tries":0,"_aborted":false,"_done":true}',
        "[1,2]",
    ],
)
def test_a_record_the_tracker_cannot_read_is_refused_by_name_never_skipped(redis_url, client, text):
    tracker = tp.RedisTracker(redis_url, "n", init={"a": {}, "b": {}})
    client.hset(V, '"b"', text)
    for call in (
        lambda: list(tracker.try_keys()),
        lambda: list(tracker.todo_keys()),
        lambda: tracker.should_do("b"),
        lambda: tracker.should_try("b"),
        lambda: tracker.mark_done("b"),
        lambda: tracker.increment_tries("b"),
        lambda: tracker["b"],
    ):
        with pytest.raises(IntegrityError, match=named(redis_url, '"b"', V)):
            call()
    assert client.hget(V, '"b"') == text
    tracker.close()


def test_a_key_text_that_is_not_ours_is_refused_by_name(redis_url, client):
    pod = tp.RedisPOD(redis_url, "n", init={"a": 1})
    client.zadd(O, {"bare": 99})
    client.hset(V, "bare", "1")
    with pytest.raises(IntegrityError, match=named(redis_url, O, "'bare'")):
        list(pod)
    pod.close()


def test_the_command_line_says_damage_and_redis_refusals_in_one_line(redis_url, client, tmp_path):
    pod = tp.RedisPOD(redis_url, "n", init={"a": 1})
    client.hset(V, '"a"', "not json")
    line = one_error_line(tastypy("export", f"{redis_url}#n"))
    assert f"{redis_url}#n" in line and '"a"' in line
    client.set("tastypy:{w}:values", "x")
    line = one_error_line(tastypy("keys", f"{redis_url}#w"))
    assert "tastypy:{w}:values is a string" in line
    # A user that may only read: the import's write is refused by Redis (NOPERM).
    client.acl_setuser("reader", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@read", "+@connection", "+info", "+type"])
    reader = redis_url.replace("unix://", "unix://reader:pw@")
    source = tmp_path / "x.jsonl"
    source.write_text('{"key": "z", "value": 1}\n')
    try:
        line = one_error_line(tastypy("import", f"{reader}#n2", source))
    finally:
        client.acl_deluser("reader")
    assert "NoPermissionError" in line and "reader:***@" in line and "pw@" not in line
    pod.close()
