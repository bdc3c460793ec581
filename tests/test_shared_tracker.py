"""SharedTracker: the Tracker's methods over the server, and try_keys() as a work queue."""

from __future__ import annotations

import itertools
import os
import signal
import time

import pytest
from test_shared_support import JOIN, ctx, no_orphans  # noqa: F401  (an autouse fixture)

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


def test_four_workers_share_try_keys_and_try_each_key_once(tmp_path):
    context = ctx("fork")
    with tastypy.SharedTracker(tmp_path / "t", max_tries=3) as tracker:
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
        assert {tracker.tries(key) for key in range(1000)} == {1}


def test_a_failed_key_goes_to_a_later_loop_never_to_two_at_once(tmp_path):
    context = ctx("fork")
    flaky = set(range(0, 300, 7))
    with tastypy.SharedTracker(tmp_path / "t", max_tries=3) as tracker:
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


def test_a_worker_killed_mid_task_leaves_its_key_to_the_others(tmp_path):
    context = ctx("fork")
    with tastypy.SharedTracker(tmp_path / "t", max_tries=3) as tracker:
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
        go_on.set()
        rest = [taken.get(timeout=JOIN) for _ in range(19)]
        other.join(JOIN)
        assert other.exitcode == 0
        # The orphan is handed out again, though this loop had passed it (when:
        # as soon as the server has seen the connection close, a race with join).
        assert sorted(rest) == [0, *range(2, 20)]
        assert tracker.num_done() == 20
        assert tracker.tries(0) == 2 and tracker.tries(5) == 1


def test_leaving_a_loop_frees_its_key(tmp_path):
    with tastypy.SharedTracker(tmp_path / "t") as tracker:
        tracker.add_many(["a", "b"])
        first = tracker.try_keys()
        assert next(first) == "a"
        second = tracker.try_keys()
        assert next(second) == "b"  # "a" is in the hands of the first loop
        first.close()
        assert list(tracker.try_keys()) == ["a"]  # "b" still held by the second
        second.close()
        assert tracker.tries("a") == 2 and tracker.tries("b") == 1


def test_tracker_methods_are_forwarded(tmp_path):
    with tastypy.SharedTracker(tmp_path / "t", max_tries=2, init={"x": {"note": 1}}) as tracker:
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


def test_try_keys_with_a_progress_bar(tmp_path, capsys):
    pytest.importorskip("tqdm")
    with tastypy.SharedTracker(tmp_path / "t") as tracker:
        tracker.add_many(range(5))
        tracker.mark_done(0)
        for key in tracker.try_keys(progress=True):
            tracker.mark_done(key)
        assert tracker.num_done() == 5
    assert "5/5" in capsys.readouterr().err
