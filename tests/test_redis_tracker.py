"""RedisTracker on a real redis-server: the Tracker API, counters, shared work."""

from __future__ import annotations

import collections

import pytest
from test_redis_support import JOIN, ctx, run_procs, work

from tastypy import DuplicateKeyError
from tastypy.redis import RedisTracker


def recount(tracker) -> tuple:
    records = [value for _, value in tracker.items()]
    return (
        sum(r["_done"] for r in records),
        sum(r["_tries"] > 0 for r in records),
        sum(r["_aborted"] for r in records),
    )


def counts(tracker) -> tuple:
    return tracker.num_done(), tracker.num_tried(), tracker.num_aborted()


@pytest.fixture
def tracker(redis_url):
    shared = RedisTracker(redis_url, "t", max_tries=3)
    yield shared
    shared.close()


def test_tracker_api_keeps_counters_equal_to_a_recount(tracker):
    tracker.add("a")
    assert tracker.add_if_absent("b") and not tracker.add_if_absent("b")
    tracker.add_many(["c", ("d", 1)])
    assert tracker.add_many_if_absent(["c", "e", "e", 5]) == 2
    assert list(tracker) == ["a", "b", "c", ("d", 1), "e", 5]
    tracker.mark_done("a")
    tracker.abort("b")
    tracker.increment_tries("c")
    tracker.increment_tries("c")
    tracker.decrement_tries("c")
    assert tracker.tries("c") == 1 and tracker.done("a") and tracker.aborted("b")
    assert not tracker.done("zz") and not tracker.aborted("zz")
    assert counts(tracker) == recount(tracker) == (1, 1, 1)
    tracker["e"] = {"note": "x", "_done": True}
    tracker.set["c"]["_tries"] += 5
    tracker[5]["_aborted"] = True  # a natural mutation
    tracker.update({("d", 1): {"_tries": 2, "r": [1]}, "new": {"x": 1}})
    assert tracker[("d", 1)] == {"_done": False, "_tries": 2, "_aborted": False, "r": [1]}
    assert counts(tracker) == recount(tracker) == (2, 2, 2)
    tracker.reset_tries("c")
    tracker.mark_not_done("e")
    tracker.unabort("b")
    assert counts(tracker) == recount(tracker)
    del tracker["a"]
    assert tracker.pop(5)["_aborted"] is True
    assert counts(tracker) == recount(tracker) == (0, 1, 0)
    assert tracker.fraction_tried() == 1 / 5 and tracker.percent_not_tried() == "80.00 %"
    tracker.clear()
    assert counts(tracker) == (0, 0, 0) and len(tracker) == 0


def test_should_and_walks(tracker):
    tracker.add_many(["a", "b", "c", "d"])
    tracker.mark_done("a")
    tracker.abort("b")
    for _ in range(3):
        tracker.increment_tries("c")
    assert not tracker.should_do("a") and not tracker.should_do("b") and tracker.should_do("b", True)
    assert not tracker.should_do("c") and tracker.should_do("d")
    assert tracker.should_try("d") and tracker.tries("d") == 1
    assert tracker.should_do_add("n1") and tracker.should_try_add("n2") and tracker.tries("n2") == 1
    assert list(tracker.todo_keys()) == ["d", "n1", "n2"]
    assert list(tracker.todo_keys(allow_aborted=True)) == ["b", "d", "n1", "n2"]
    assert [k for k, _ in tracker.todo_items()] == ["d", "n1", "n2"]
    assert list(tracker.aborted_keys()) == ["b"] and next(iter(tracker.aborted_values()))["_aborted"]
    assert list(tracker.try_keys()) == ["d", "n1", "n2"]
    assert tracker.tries("d") == 2 and counts(tracker) == recount(tracker)
    assert tracker.max_tries == 3


def test_errors_have_the_types_of_a_tracker(tracker):
    tracker.add("a")
    with pytest.raises(DuplicateKeyError, match="already in the tracker"):
        tracker.add("a")
    with pytest.raises(DuplicateKeyError, match="nothing was added"):
        tracker.add_many(["x", "a"])
    with pytest.raises(DuplicateKeyError, match="nothing was added"):
        tracker.add_many(["y", "y"])
    with pytest.raises(KeyError, match="add it first"):
        tracker.mark_done("missing")
    with pytest.raises(KeyError, match="add it first"):
        tracker.should_do("missing")
    with pytest.raises(KeyError, match="add it first"):
        tracker.tries("missing")
    with pytest.raises(ValueError, match="0 tries"):
        tracker.decrement_tries("a")
    with pytest.raises(TypeError, match="must be a dict"):
        tracker["b"] = 5
    with pytest.raises(TypeError, match="_tries"):
        tracker["b"] = {"_tries": "x"}
    with pytest.raises(ValueError, match="_tries"):
        tracker.set["a"]["_tries"] -= 1
    with pytest.raises(TypeError, match="_done"):
        tracker.set["a"]["_done"] = 1
    with pytest.raises(TypeError, match="cannot delete"):
        tracker.set["a"].pop("_aborted")
    with pytest.raises(TypeError, match="must be a dict"):
        tracker.update({"a": 3})
    assert list(tracker) == ["a"] and tracker["a"] == {"_done": False, "_tries": 0, "_aborted": False}
    assert counts(tracker) == recount(tracker) == (0, 0, 0)


def test_big_tries_stay_exact(tracker, redis_url):
    unlimited = RedisTracker(redis_url, "big", init={"k": {"_tries": 10**30 - 1}})
    unlimited.increment_tries("k")
    assert unlimited.tries("k") == 10**30
    unlimited.decrement_tries("k")
    assert unlimited.tries("k") == 10**30 - 1
    assert [*unlimited.try_keys()] == ["k"] and unlimited.tries("k") == 10**30


def test_four_processes_share_the_work_each_key_tried_once(redis_url):
    tracker = RedisTracker(redis_url, "w", max_tries=1, init={i: {} for i in range(200)})
    context = ctx("fork")
    seen = context.Queue()
    run_procs(context, work, [(tracker, seen)] * 4)
    got = [seen.get(timeout=JOIN) for _ in range(200)]
    assert sorted(key for _, key in got) == list(range(200))
    assert len({pid for pid, _ in got}) > 1
    assert tracker.num_done() == 200 and counts(tracker) == recount(tracker) == (200, 200, 0)


def test_failed_keys_are_not_tried_past_max_tries(redis_url):
    tracker = RedisTracker(redis_url, "w", max_tries=2, init={i: {} for i in range(60)})
    context = ctx("fork")
    for _ in range(3):  # three runs: failed keys come back until max_tries
        seen = context.Queue()
        run_procs(context, work, [(tracker, seen, 3)] * 3)
    tries = collections.Counter(tracker.tries(k) for k in tracker)
    assert max(tries) <= 2 and counts(tracker) == recount(tracker)
