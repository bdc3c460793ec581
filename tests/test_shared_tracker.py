"""The Tracker's methods on a host, try_keys() as a work queue.

Processes sharing one object (the ``face`` fixture: SharedTracker,
RedisTracker) and, for the behaviour every face has, each face sync and
async (the ``any_host`` fixture).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import signal
import sys
import time

import pytest
from hosts import aio_host_fixture, any_host_fixture, counts, recount  # noqa: F401  (fixtures)
from test_redis_support import work
from test_shared_support import JOIN, ctx, face_fixture, no_orphans, run_procs  # noqa: F401  (fixtures)

import tastypy

pytestmark = pytest.mark.timeout(120)


def crawl(tracker, results, fail_first_try_of=()):
    """Work through try_keys(); record when each key was held, fail some first tries."""
    spans = []
    for key in tracker.try_keys():
        began = time.monotonic()
        time.sleep(0.0005)
        if key in fail_first_try_of and tracker.tries(key) == 1:
            spans.append((key, began, time.monotonic(), os.getpid()))
            continue  # failed: not marked done
        tracker.mark_done(key)
        spans.append((key, began, time.monotonic(), os.getpid()))
    results.put(spans)


def _gather(results, count):
    spans = []
    for _ in range(count):
        spans.extend(results.get(timeout=JOIN))
    return spans


def _never_together(spans):
    by_key: dict = {}
    for key, began, ended, pid in spans:
        by_key.setdefault(key, []).append((began, ended, pid))
    for key, held in by_key.items():
        held.sort()
        for (_, end, _), (begin, _, _) in itertools.pairwise(held):
            assert end <= begin, f"key {key} was worked on by two processes at once"
    return by_key


def test_four_workers_share_try_keys_and_try_each_key_once(face):
    context = ctx("fork")
    with face.tracker(max_tries=3) as tracker:
        tracker.add_many(range(1000))
        results = context.Queue()
        procs = [context.Process(target=crawl, args=(tracker, results)) for _ in range(4)]
        for proc in procs:
            proc.start()
        spans = _gather(results, 4)
        for proc in procs:
            proc.join(JOIN)
        assert [proc.exitcode for proc in procs] == [0] * 4
        by_key = _never_together(spans)
        assert sorted(by_key) == list(range(1000))
        assert all(len(held) == 1 for held in by_key.values())
        assert len({pid for _, _, _, pid in spans}) > 1  # the work was shared
        assert tracker.num_done() == tracker.num_tried() == 1000
        assert counts(tracker) == recount(tracker) == (1000, 1000, 0)
        assert {tracker.tries(key) for key in range(1000)} == {1}


def test_a_failed_key_goes_to_a_later_loop_never_to_two_at_once(face):
    context = ctx("fork")
    flaky = set(range(0, 300, 7))
    with face.tracker(max_tries=3) as tracker:
        tracker.add_many(range(300))
        results = context.Queue()
        procs = [context.Process(target=crawl, args=(tracker, results, flaky)) for _ in range(3)]
        for proc in procs:
            proc.start()
        spans = _gather(results, 3)
        for proc in procs:
            proc.join(JOIN)
        _never_together(spans)
        # A flaky key failed once; a loop that had not passed it yet may retry it.
        assert all(tracker.tries(key) == 1 for key in range(300) if key not in flaky)
        assert all(1 <= tracker.tries(key) <= 3 for key in flaky)
        assert tracker.num_done() == 300 - sum(not tracker.done(key) for key in flaky)


def take_one_and_hang(tracker, taken):
    for key in tracker.try_keys():
        taken.put(key)
        time.sleep(600)


def take_one_wait_then_finish(tracker, taken, go_on):
    for key in tracker.try_keys():
        taken.put(key)
        assert go_on.wait(JOIN)
        tracker.mark_done(key)


def test_a_worker_killed_mid_task_leaves_its_key_to_the_others(face):
    context = ctx("fork")
    with face.tracker(max_tries=3) as tracker:
        tracker.add_many(range(20))
        taken, go_on = context.Queue(), context.Event()
        doomed = context.Process(target=take_one_and_hang, args=(tracker, taken))
        doomed.start()
        assert taken.get(timeout=JOIN) == 0
        other = context.Process(target=take_one_wait_then_finish, args=(tracker, taken, go_on))
        other.start()
        assert taken.get(timeout=JOIN) == 1  # 0 is the doomed worker's
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.join(JOIN)
        face.orphans_free()
        go_on.set()
        rest = [taken.get(timeout=JOIN) for _ in range(19)]
        other.join(JOIN)
        assert other.exitcode == 0
        # The orphan is handed out again, though this loop had passed it (when:
        # as soon as the server has seen the connection close, a race with
        # join; on Redis, when the lease has run out).
        assert sorted(rest) == [0, *range(2, 20)]
        assert tracker.num_done() == 20
        assert tracker.tries(0) == 2 and tracker.tries(5) == 1


def test_an_orphan_handed_ahead_of_the_scan_is_not_handed_twice_in_one_pass(face):
    context = ctx("fork")
    with face.tracker(max_tries=5) as tracker:
        tracker.add_many(range(5))
        loop = tracker.try_keys()
        assert next(loop) == 0
        taken = context.Queue()
        doomed = context.Process(target=take_one_and_hang, args=(tracker, taken))
        doomed.start()
        assert taken.get(timeout=JOIN) == 1
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.join(JOIN)
        face.orphans_free()
        assert next(loop) == 1  # the orphan first, though this loop's scan is behind it
        # 1 fails (not marked done): like any failed key, not again in this pass.
        assert list(loop) == [2, 3, 4]
        assert tracker.tries(1) == 2 and list(tracker.try_keys()) == [0, 1, 2, 3, 4]


def test_leaving_a_loop_frees_its_key(any_host):
    tracker = any_host.tracker()
    tracker.add_many(["a", "b"])
    first = tracker.try_keys()
    assert next(first) == "a"
    second = tracker.try_keys()
    assert next(second) == "b"  # "a" is in the hands of the first loop
    first.close()
    assert list(tracker.try_keys()) == ["a"]  # "b" still held by the second
    second.close()
    assert tracker.tries("a") == 2 and tracker.tries("b") == 1


def test_an_async_loop_gives_its_key_back_when_closed_and_soon_after_a_break(aio_host):
    tracker = aio_host.tracker().face  # the async object itself

    async def main():
        await tracker.add_many(["a", "b"])
        async with contextlib.aclosing(tracker.try_keys()) as loop:
            async for key in loop:
                assert key == "a"
                break
        assert [key async for key in tracker.try_keys()] == ["a", "b"]  # "a" free at once
        async for key in tracker.try_keys():
            assert key == "a"
            break  # the loop is closed later, by asyncio, in a task of its own
        for _ in range(200):
            await asyncio.sleep(0.01)
            if "a" in [key async for key in tracker.try_keys()]:
                return
        raise AssertionError("the key of a loop left by break was not given back within 2 s")

    aio_host.run(main())


def test_tasks_cancelled_after_their_async_tracker_closed_end_at_once(aio_host):
    # As asyncio.run ends on Ctrl-C: the main task closes the tracker, then
    # the other tasks are cancelled and their loops closed. None may wait on
    # a host that is gone.
    tracker = aio_host.tracker().face

    async def main():
        await tracker.add_many(range(10_000))
        started = asyncio.Event()

        async def crawl():
            async for key in tracker.try_keys():
                async with tracker.attempt(key):
                    started.set()
                    await asyncio.sleep(0.001)

        tasks = [asyncio.create_task(crawl()) for _ in range(50)]
        await started.wait()
        await tracker.aclose()
        await asyncio.sleep(0.01)  # some tasks meet the closed tracker, some are in their attempts
        for task in tasks:
            task.cancel()
        done, pending = await asyncio.wait(tasks, timeout=10)
        assert not pending, f"{len(pending)} tasks still waiting on a closed tracker"

    aio_host.run(main())


def test_tracker_methods_are_forwarded(face):
    with face.tracker(max_tries=2, init={"x": {"note": 1}}) as tracker:
        assert tracker.max_tries == 2
        assert tracker["x"] == {"_done": False, "_tries": 0, "_aborted": False, "note": 1}
        tracker.add("a")
        with pytest.raises(tastypy.DuplicateKeyError, match="already in the tracker"):
            tracker.add("a")
        with pytest.raises(tastypy.DuplicateKeyError, match="nothing was added"):
            tracker.add_many(k for k in ["new", "a"])
        assert "new" not in tracker
        assert tracker.add_if_absent("b") and not tracker.add_if_absent("b")
        assert tracker.add_many_if_absent(k for k in ["b", "c", "d"]) == 2
        with pytest.raises(TypeError, match="must be a dict"):
            tracker["e"] = 5
        tracker.mark_done("a")
        tracker.abort("b")
        assert tracker.done("a") and tracker.aborted("b") and not tracker.done("nope")
        assert tracker.should_try("c") and tracker.tries("c") == 1
        tracker.increment_tries("c")
        assert not tracker.should_do("c")
        tracker.reset_tries("c")
        assert tracker.num_done() == 1 and tracker.num_aborted() == 1 and tracker.num_tried() == 0
        assert tracker.percent_done() == "20.00 %" and tracker.fraction_aborted() == 0.2
        assert list(tracker.todo_keys()) == ["x", "c", "d"]
        assert list(tracker.todo_keys(allow_aborted=True)) == ["x", "b", "c", "d"]
        assert list(tracker.aborted_keys()) == ["b"]
        assert [v["_aborted"] for v in tracker.aborted_values()] == [True]
        _, record = next(iter(tracker.todo_items()))
        record["note"] = 2  # a natural mutation of a record
        assert tracker["x"]["note"] == 2
        tracker.set["x"]["_done"] = True
        assert tracker.num_done() == 2
        assert [k for k, _ in tracker.try_items()] == ["c", "d"]
        assert [v["_tries"] for v in tracker.try_values()] == [2, 2]
        assert list(tracker.try_keys()) == []
        tracker.update({"d": {"_done": True, "more": "x"}})
        assert tracker["d"]["more"] == "x" and tracker.done("d")


def test_try_keys_with_a_progress_bar(any_host, capsys):
    pytest.importorskip("tqdm")
    tracker = any_host.tracker()
    tracker.add_many(range(5))
    tracker.mark_done(0)
    for key in tracker.try_keys(progress=True):
        tracker.mark_done(key)
    assert tracker.num_done() == 5
    bar = capsys.readouterr().err
    assert "1/5" in bar and "5/5" in bar and "tried 4, aborted 0" in bar  # from what was done before
    tracker.add_many(["a", "b"])
    tracker.abort("a")
    assert [value["_tries"] for value in tracker.try_values(progress=True)] == [1]
    assert "5/7" in capsys.readouterr().err


def test_a_progress_bar_without_tqdm_is_refused_at_once_saying_what_to_install(any_host, monkeypatch):
    tracker = any_host.tracker()
    tracker.add("a")
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    with pytest.raises(ImportError, match="pip install tqdm"):
        tracker.try_keys(progress=True)  # when called, before the first key
    assert tracker.tries("a") == 0


def test_a_progress_loop_left_early_gives_its_key_back_and_closes_its_bar(any_host, capsys):
    pytest.importorskip("tqdm")
    tracker = any_host.tracker()
    tracker.add_many(["a", "b"])
    loop = tracker.try_items(progress=True)
    assert next(loop)[0] == "a"
    loop.close()
    assert list(tracker.try_keys()) == ["a", "b"]
    assert "0/2" in capsys.readouterr().err


# -- counters, walks, errors: every face, sync and async ----------------------------


@pytest.fixture
def tracker(any_host):
    return any_host.tracker(max_tries=3)


def test_tracker_api_keeps_counters_equal_to_a_recount(any_host, tracker):
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
    with any_host.changes(tracker) as c:
        c["c"]["_tries"] += 5
        c[5]["_aborted"] = True
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


def test_errors_have_the_types_of_a_tracker(any_host, tracker):
    tracker.add("a")
    with pytest.raises(tastypy.DuplicateKeyError, match="already in the tracker"):
        tracker.add("a")
    with pytest.raises(tastypy.DuplicateKeyError, match="nothing was added"):
        tracker.add_many(["x", "a"])
    with pytest.raises(tastypy.DuplicateKeyError, match="nothing was added"):
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
    with pytest.raises(ValueError, match="_tries"), any_host.changes(tracker) as c:
        c["a"]["_tries"] -= 1
    with pytest.raises(TypeError, match="_done"), any_host.changes(tracker) as c:
        c["a"]["_done"] = 1
    with pytest.raises(TypeError, match="cannot delete"), any_host.changes(tracker) as c:
        c["a"].pop("_aborted")
    with pytest.raises(TypeError, match="must be a dict"):
        tracker.update({"a": 3})
    assert list(tracker) == ["a"] and tracker["a"] == {"_done": False, "_tries": 0, "_aborted": False}
    assert counts(tracker) == recount(tracker) == (0, 0, 0)


def test_big_tries_stay_exact(any_host):
    unlimited = any_host.tracker(init={"k": {"_tries": 10**30 - 1}})
    unlimited.increment_tries("k")
    assert unlimited.tries("k") == 10**30
    unlimited.decrement_tries("k")
    assert unlimited.tries("k") == 10**30 - 1
    assert [*unlimited.try_keys()] == ["k"] and unlimited.tries("k") == 10**30


def test_failed_keys_are_not_tried_past_max_tries(face):
    tracker = face.tracker(max_tries=2, init={i: {} for i in range(60)})
    context = ctx("fork")
    for _ in range(3):  # three runs: failed keys come back until max_tries
        seen = context.Queue()
        run_procs(context, work, [(tracker, seen, 3)] * 3)
    tries = collections.Counter(tracker.tries(k) for k in tracker)
    assert max(tries) <= 2 and counts(tracker) == recount(tracker)
