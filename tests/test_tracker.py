"""ProgressTracker: records, gates, iterators, counts, validation and reopening.

The ``tracker`` fixture is a tracker on every face, sync and async (the
``any_host`` fixture of ``hosts.py``); ``local_tracker`` and ``folder``
tests are about the folder ``Tracker`` itself (live proxies, syncs, its
internals).
"""

from __future__ import annotations

import pytest
from helpers import fresh_items, run_py
from hosts import any_host_fixture  # noqa: F401  (fixture)

from tastypy import POD, DuplicateKeyError, ProgressTracker, ReadOnlyError, Tracker, unwrap

NEW = {"_done": False, "_tries": 0, "_aborted": False}


def recount(tracker):
    records = [unwrap(v) for v in tracker.values()]
    return (
        sum(r["_done"] for r in records),
        sum(r["_tries"] > 0 for r in records),
        sum(r["_aborted"] for r in records),
    )


def counts(tracker):
    return tracker.num_done(), tracker.num_tried(), tracker.num_aborted()


@pytest.fixture
def tracker(any_host):
    """A tracker with max_tries=2 on each face, sync and async (``hosts.any_host``)."""
    return any_host.tracker(max_tries=2)


@pytest.fixture
def local_tracker(folder):
    """A ``Tracker`` on a folder: for what only it has (live proxies, its folder, its internals)."""
    return Tracker(folder, max_tries=2)


# -- adding ------------------------------------------------------------------


def test_tracker_is_the_short_name_and_a_pod(local_tracker):
    assert Tracker is ProgressTracker
    assert isinstance(local_tracker, POD)


def test_add_creates_a_default_record(local_tracker):
    local_tracker.add("a")
    assert local_tracker["a"] == NEW
    assert fresh_items(local_tracker.path) == []  # below sync_at: not yet written
    local_tracker.sync()
    assert fresh_items(local_tracker.path) == [("a", NEW)]


def test_add_of_a_present_key_raises_duplicate_key_error(tracker):
    tracker.add("a")
    with pytest.raises(DuplicateKeyError, match="'a' is already in the tracker") as info:
        tracker.add("a")
    assert isinstance(info.value, KeyError)


def test_add_if_absent_tells_whether_it_added(tracker):
    assert tracker.add_if_absent("a") is True
    tracker.mark_done("a")
    assert tracker.add_if_absent("a") is False
    assert tracker.done("a")  # the record was kept


def test_add_many_adds_all_in_order(tracker):
    tracker.add_many(["b", 1, ("t", 2)])
    assert list(tracker) == ["b", 1, ("t", 2)]
    assert all(tracker[k] == NEW for k in tracker)


def test_add_many_with_a_duplicate_adds_nothing(tracker):
    tracker.add("a")
    with pytest.raises(DuplicateKeyError, match="nothing was added"):
        tracker.add_many(["x", "a"])
    with pytest.raises(DuplicateKeyError):
        tracker.add_many(["y", "y"])
    assert list(tracker) == ["a"]


def test_add_many_with_a_bad_key_adds_nothing(tracker):
    with pytest.raises(TypeError, match="float"):
        tracker.add_many(["x", 1.5])
    assert len(tracker) == 0


def test_add_many_if_absent_skips_present_and_repeated_keys(tracker):
    tracker.add("a")
    tracker.mark_done("a")
    assert tracker.add_many_if_absent(["a", "b", "b", "c"]) == 2
    assert list(tracker) == ["a", "b", "c"]
    assert tracker.done("a")


def test_add_many_syncs_once_at_sync_at(folder):
    tracker = Tracker(folder, sync_at=3)
    tracker.add_many(range(10))
    assert tracker.dirty() == set()
    assert len(fresh_items(folder)) == 10


# -- one task ----------------------------------------------------------------


def test_mark_done_and_not_done(tracker):
    tracker.add("a")
    tracker.mark_done("a")
    assert tracker.done("a") and tracker["a"]["_done"] is True
    tracker.mark_not_done("a")
    assert not tracker.done("a")


def test_done_and_aborted_are_false_for_an_absent_key(tracker):
    assert tracker.done("nope") is False
    assert tracker.aborted("nope") is False


def test_methods_on_an_absent_key_raise_key_error_saying_to_add(tracker):
    for method in (
        tracker.mark_done, tracker.mark_not_done, tracker.abort, tracker.unabort,
        tracker.increment_tries, tracker.decrement_tries, tracker.reset_tries,
        tracker.tries, tracker.should_do, tracker.should_try,
    ):
        with pytest.raises(KeyError, match="add it first"):
            method("nope")
    assert len(tracker) == 0


def test_abort_and_unabort(tracker):
    tracker.add("a")
    tracker.abort("a")
    assert tracker.aborted("a") and tracker.num_aborted() == 1
    tracker.unabort("a")
    assert not tracker.aborted("a") and tracker.num_aborted() == 0


def test_tries_increment_decrement_reset(tracker):
    tracker.add("a")
    tracker.increment_tries("a")
    tracker.increment_tries("a")
    assert tracker.tries("a") == 2
    tracker.decrement_tries("a")
    assert tracker.tries("a") == 1
    tracker.reset_tries("a")
    assert tracker.tries("a") == 0 and tracker.num_tried() == 0


def test_decrement_tries_below_zero_is_refused(tracker):
    tracker.add("a")
    with pytest.raises(ValueError, match="0 tries"):
        tracker.decrement_tries("a")
    assert tracker.tries("a") == 0


def test_a_method_that_changes_nothing_marks_nothing_dirty(tracker):
    tracker.add("a")
    tracker.sync()
    tracker.mark_not_done("a")
    tracker.unabort("a")
    tracker.reset_tries("a")
    assert tracker.dirty() == set()


def test_should_do_honours_done_aborted_and_max_tries(folder):
    tracker = Tracker(folder, max_tries=2)
    tracker.add_many("abcd")
    tracker.mark_done("a")
    tracker.abort("b")
    tracker.increment_tries("c")
    tracker.increment_tries("c")
    tracker.increment_tries("d")
    assert [tracker.should_do(k) for k in "abcd"] == [False, False, False, True]
    assert tracker.should_do("b", allow_aborted=True)
    tracker.max_tries = 0  # no limit
    assert tracker.should_do("c")


def test_should_try_counts_a_try_only_when_true(tracker):
    tracker.add_many("ab")
    tracker.mark_done("b")
    assert tracker.should_try("a") and tracker.tries("a") == 1
    assert not tracker.should_try("b") and tracker.tries("b") == 0
    assert tracker.should_try("a") and not tracker.should_try("a")  # max_tries=2
    assert tracker.tries("a") == 2


def test_should_try_writes_the_try_to_disk_at_once(local_tracker):
    local_tracker.add("a")
    assert local_tracker.should_try("a")
    assert fresh_items(local_tracker.path) == [("a", {**NEW, "_tries": 1})]


def test_should_do_add_and_should_try_add_add_absent_keys(tracker):
    assert tracker.should_do_add("a") and tracker.tries("a") == 0
    assert tracker.should_try_add("b") and tracker.tries("b") == 1
    tracker.add("c")
    tracker.abort("c")
    assert not tracker.should_try_add("c")
    assert tracker.should_try_add("c", allow_aborted=True)


# -- iteration -----------------------------------------------------------------


def test_todo_iterators_follow_insertion_order_and_skip_finished(folder):
    tracker = Tracker(folder, max_tries=1)
    tracker.add_many([3, 1, 2, 0])
    tracker.mark_done(1)
    tracker.abort(2)
    tracker.increment_tries(0)
    assert list(tracker.todo_keys()) == [3]
    assert list(tracker.todo_keys(allow_aborted=True)) == [3, 2]
    assert list(tracker.todo_items()) == [(3, NEW)]
    assert list(tracker.todo_values()) == [NEW]
    assert [t["_tries"] for t in tracker.todo_values()] == [0]  # todo counts no try


def test_try_iterators_count_a_try_for_each_yield(folder):
    tracker = Tracker(folder, max_tries=2)
    tracker.add_many("abc")
    assert list(tracker.try_keys()) == ["a", "b", "c"]
    assert [k for k, v in tracker.try_items()] == ["a", "b", "c"]
    assert [unwrap(v)["_tries"] for v in tracker.try_values()] == []  # max_tries reached
    assert [tracker.tries(k) for k in "abc"] == [2, 2, 2]
    tracker.abort("a")
    tracker.reset_tries("a")
    assert list(tracker.try_keys()) == []
    assert [v["_tries"] for v in tracker.try_values(allow_aborted=True)] == [1]


def test_try_items_yield_the_record_with_the_try_counted(tracker):
    tracker.add("a")
    [(key, record)] = list(tracker.try_items())
    assert key == "a" and record["_tries"] == 1


def test_aborted_iterators(tracker):
    tracker.add_many("abc")
    tracker.abort("c")
    tracker.abort("a")
    assert list(tracker.aborted_keys()) == ["a", "c"]
    assert [k for k, _ in tracker.aborted_items()] == ["a", "c"]
    assert all(v["_aborted"] for v in tracker.aborted_values())


def test_try_keys_reaches_keys_added_during_the_loop(folder):
    tracker = Tracker(folder, max_tries=3)
    tracker.add(0)
    seen = []
    for n in tracker.try_keys():
        seen.append(n)
        if n < 20:
            tracker.add_many_if_absent([2 * n + 1, 2 * n + 2])
        tracker.mark_done(n)
    assert seen == list(range(41))
    assert tracker.num_done() == 41 == len(tracker)


def test_keys_deleted_during_the_loop_are_passed_over(tracker):
    tracker.add_many(range(10))
    seen = []
    for n in tracker.try_keys():
        seen.append(n)
        if n == 2:
            del tracker[3]
            del tracker[2]  # the key in hand: the loop goes on after it
            tracker.add(3)  # re-added: now at the end
    assert seen == [0, 1, 2, 4, 5, 6, 7, 8, 9, 3]


def test_a_failing_key_is_not_retried_in_the_same_pass(tracker):
    tracker.add_many("ab")
    assert list(tracker.try_keys()) == ["a", "b"]
    assert list(tracker.try_keys()) == ["a", "b"]
    assert list(tracker.try_keys()) == []  # max_tries=2


def test_the_loop_survives_many_deletions(folder):
    # Dead slots are cleaned up in bulk while a loop holds a position.
    tracker = Tracker(folder)
    tracker.add_many(range(500))
    seen = []
    for n in tracker.todo_keys():
        seen.append(n)
        if n == 10:
            for m in range(11, 400):
                del tracker[m]
        tracker.mark_done(n)
    assert seen == list(range(11)) + list(range(400, 500))


def test_try_keys_goes_on_after_a_revert(local_tracker):
    local_tracker.add_many(range(5))
    local_tracker.sync()
    seen = []
    for n in local_tracker.try_keys():
        seen.append(n)
        local_tracker[n]["note"] = "lost"
        if n == 2:
            local_tracker.revert()
    assert seen == [0, 1, 2, 3, 4]
    assert "note" not in local_tracker[2] and local_tracker.tries(2) == 1


def test_next_to_try_hands_out_one_key_per_call_and_skips(local_tracker):
    local_tracker.add_many("abcd")
    local_tracker.mark_done("b")
    key, pos = local_tracker._next_to_try(0)
    assert key == "a" and local_tracker.tries("a") == 1
    assert local_tracker._next_to_try(pos + 1, skip={"c"})[0] == "d"
    assert local_tracker._next_to_try(pos + 1)[0] == "c"
    assert local_tracker._next_to_try(10**9) is None


# -- counts ------------------------------------------------------------------


def test_counts_fractions_and_percents(tracker):
    assert counts(tracker) == (0, 0, 0)
    assert tracker.fraction_done() == tracker.fraction_tried() == tracker.fraction_aborted() == 0.0
    assert tracker.percent_done() == tracker.percent_not_done() == "0.00 %"
    tracker.add_many(range(3))
    tracker.mark_done(0)
    tracker.increment_tries(0)
    tracker.increment_tries(1)
    tracker.abort(2)
    assert counts(tracker) == (1, 2, 1)
    assert tracker.fraction_tried() == pytest.approx(2 / 3)
    assert tracker.percent_done() == "33.33 %"
    assert tracker.percent_not_done(1) == "66.7 %"
    assert tracker.percent_tried(0) == "67 %"
    assert tracker.percent_not_tried(3) == "33.333 %"
    assert tracker.percent_aborted() == "33.33 %"
    assert tracker.percent_not_aborted() == "66.67 %"
    with pytest.raises(ValueError, match="decimals"):
        tracker.percent_done(-1)


def test_counts_follow_proxies_assignment_update_and_del(local_tracker):
    local_tracker.add_many("abc")
    local_tracker["a"]["_done"] = True
    record = local_tracker["b"]
    record["_tries"] += 1
    record.update({"_aborted": True})
    assert counts(local_tracker) == (1, 1, 1) == recount(local_tracker)
    local_tracker["c"] = {"_done": True, "_tries": 4, "note": 1}
    assert counts(local_tracker) == (2, 2, 1) == recount(local_tracker)
    local_tracker.update({"c": {"_done": False}, "d": {"_aborted": True}})
    assert counts(local_tracker) == (1, 2, 2) == recount(local_tracker)
    del local_tracker["b"]
    local_tracker.pop("d")
    assert counts(local_tracker) == (1, 1, 0) == recount(local_tracker)
    local_tracker.clear()
    assert counts(local_tracker) == (0, 0, 0)


def test_counts_follow_revert_and_reopen(folder):
    tracker = Tracker(folder)
    tracker.add_many("ab")
    tracker.mark_done("a")
    tracker.sync()
    tracker.mark_done("b")
    tracker.abort("a")
    tracker.revert()
    assert counts(tracker) == (1, 0, 0) == recount(tracker)
    tracker.close()
    again = Tracker(folder)
    assert counts(again) == (1, 0, 0)


def test_closed_tracker_says_so(tracker):
    tracker.close()
    with pytest.raises(ValueError, match="closed"):
        tracker.num_done()
    with pytest.raises(ValueError, match="closed"):
        tracker.done("a")


# -- validation --------------------------------------------------------------


def test_assigning_a_non_dict_is_a_type_error_naming_the_key(tracker):
    for bad in (1, None, [1], "x"):
        with pytest.raises(TypeError, match=r"tracker\['k'\].*must be a dict"):
            tracker["k"] = bad
    assert "k" not in tracker


def test_assigned_dict_gets_the_special_fields(tracker):
    tracker["k"] = {"url": "x", "_tries": 3}
    assert tracker["k"] == {"_done": False, "_tries": 3, "_aborted": False, "url": "x"}


@pytest.mark.parametrize(
    "record, error",
    [
        ({"_tries": -1}, ValueError),
        ({"_tries": 1.0}, TypeError),
        ({"_tries": True}, TypeError),
        ({"_tries": "1"}, TypeError),
        ({"_done": 1}, TypeError),
        ({"_aborted": None}, TypeError),
    ],
)
def test_bad_special_fields_are_refused_and_change_nothing(local_tracker, record, error):
    local_tracker.add("k")
    with pytest.raises(error, match=r"tracker\['k'\]\['_"):
        local_tracker["k"] = record
    with pytest.raises(error):
        local_tracker.update({"k": record, "other": {}})
    for field, value in record.items():
        with pytest.raises(error):
            local_tracker["k"][field] = value
        with pytest.raises(error):
            local_tracker["k"].update({field: value, "note": 1})
        record = local_tracker["k"]
        with pytest.raises(error):
            record |= {field: value}
    assert local_tracker["k"] == NEW and local_tracker.num_tried() == 0
    assert "other" not in local_tracker


def test_augmented_assignment_on_tries_is_checked(local_tracker):
    local_tracker.add("k")
    local_tracker["k"]["_tries"] += 2
    assert local_tracker.tries("k") == 2 and local_tracker.num_tried() == 1
    with pytest.raises(TypeError):
        local_tracker["k"]["_tries"] += 0.5
    with pytest.raises(ValueError):
        local_tracker["k"]["_tries"] -= 5
    assert local_tracker.tries("k") == 2


@pytest.mark.parametrize("field", ["_done", "_tries", "_aborted"])
def test_deleting_a_special_field_is_refused(local_tracker, field):
    local_tracker["k"] = {"note": [1]}
    local_tracker.sync()
    record = local_tracker["k"]
    with pytest.raises(TypeError, match=f"cannot delete tracker\\['k'\\]\\['{field}'\\]"):
        del record[field]
    with pytest.raises(TypeError, match="cannot delete"):
        record.pop(field)
    with pytest.raises(TypeError, match="cannot delete"):
        record.clear()
    assert local_tracker["k"] == {**NEW, "note": [1]} and local_tracker.dirty() == set()


def test_user_fields_are_free(local_tracker):
    local_tracker.add("k")
    record = local_tracker["k"]
    record["links"] = [1]
    record["links"].append(2)
    assert record.pop("links") == [1, 2]
    record["x"] = 1
    assert record.popitem() == ("x", 1)
    with pytest.raises(TypeError, match="cannot delete"):
        record.popitem()  # only the special fields are left
    assert local_tracker["k"] == NEW


def test_update_merges_into_records(tracker):
    tracker.add("a")
    tracker.increment_tries("a")
    tracker.update({"a": {"note": 1}}, b={"x": 2})
    tracker.update([("a", {"more": 2}), ("a", {"note": 3})])
    assert tracker["a"] == {**NEW, "_tries": 1, "note": 3, "more": 2}
    assert tracker["b"] == {**NEW, "x": 2}
    with pytest.raises(TypeError, match=r"tracker\['d'\]"):
        tracker.update({"c": {}, "d": 5})
    assert "c" not in tracker


def test_init_merges_like_update(folder):
    Tracker(folder, init={"a": {"n": 1}}).close()
    tracker = Tracker(folder, init={"a": {"m": 2}, "b": {}})
    assert tracker["a"] == {**NEW, "n": 1, "m": 2}


def test_max_tries_must_be_a_non_negative_int(folder):
    for bad in (-1, 1.5, None):
        with pytest.raises(ValueError, match="max_tries"):
            Tracker(folder, max_tries=bad)


# -- folders -----------------------------------------------------------------


def test_records_and_tries_survive_a_restart(folder):
    tracker = Tracker(folder, max_tries=2)
    tracker.add_many(["a", ("t", 1)])
    tracker.should_try(("t", 1))
    tracker["a"]["result"] = {"links": 3}
    tracker.mark_done("a")
    tracker.close()
    result = run_py(
        """
        import sys
        from tastypy import Tracker
        t = Tracker(sys.argv[1], max_tries=2)
        print(t.num_done(), t.num_tried(), t.tries(('t', 1)), t['a']['result']['links'])
        """,
        str(folder),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1", "1", "3"]


def test_records_and_tries_are_read_back_by_a_fresh_process(any_host):
    tracker = any_host.tracker(max_tries=2)
    tracker.add_many(["a", ("t", 1)])
    assert tracker.should_try(("t", 1))
    tracker.update({"a": {"result": {"links": 3}}})
    tracker.mark_done("a")
    assert any_host.fresh(tracker) == {
        "a": {**NEW, "_done": True, "result": {"links": 3}},
        ("t", 1): {**NEW, "_tries": 1},
    }


def test_a_bad_max_tries_is_refused_on_every_face(any_host):
    for bad in (-1, 1.5, None):
        with pytest.raises(ValueError, match="max_tries"):
            any_host.tracker(max_tries=bad)


@pytest.mark.parametrize(
    "values, problem",
    [
        ({"a": NEW, "b": 5}, "key 'b' holds a int, not a dict"),
        ({"a": {"_done": False, "_tries": 0}}, "key 'a' has no '_aborted' field"),
        ({"x": {**NEW, "_tries": "2"}}, r"key 'x' has a bad field"),
    ],
)
def test_a_folder_of_other_values_is_refused_naming_the_key(folder, values, problem):
    with POD(folder) as pod:
        pod.update(values)
    with pytest.raises(ValueError, match=problem):
        Tracker(folder)
    with POD(folder) as pod:  # the failed open left no lock and changed nothing
        assert pod == values


def test_a_tracker_folder_opens_as_a_pod_and_back(folder):
    with Tracker(folder) as tracker:
        tracker.add("a")
    with POD(folder) as pod:
        assert pod["a"] == NEW
    with Tracker(folder) as tracker:
        assert list(tracker) == ["a"]


def test_read_only_tracker_reads_and_refuses_changes(folder):
    writer = Tracker(folder)
    writer.add_many("ab")
    writer.mark_done("a")
    writer.sync()
    reader = Tracker(folder, mode="r")
    assert reader.num_done() == 1 and list(reader.todo_keys()) == ["b"]
    for change in (lambda: reader.mark_done("b"), lambda: reader.add("c"),
                   lambda: next(reader.try_keys()), lambda: reader["b"].update(x=1)):
        with pytest.raises(ReadOnlyError):
            change()
    assert reader.num_done() == 1


def test_recorded_ops_are_checked_like_proxy_changes(local_tracker):
    # What a SharedTracker server does with a client's ``.set`` operation.
    from tastypy.observe import Op, apply

    local_tracker.add("k")
    apply(Op(("k",), "__setitem__", ("_done", True)), local_tracker)
    apply(Op(("k", "_tries"), "__iadd__", (2,)), local_tracker)
    assert counts(local_tracker) == (1, 1, 0)
    for bad in (
        Op(("k",), "__delitem__", ("_aborted",)),
        Op(("k",), "pop", ("_done",)),
        Op(("k",), "clear"),
        Op(("k", "_tries"), "__iadd__", (0.5,)),
        Op((), "__setitem__", ("k", [1])),
    ):
        with pytest.raises((TypeError, ValueError)):
            apply(bad, local_tracker)
    assert local_tracker["k"] == {**NEW, "_done": True, "_tries": 2}


def test_try_items_with_progress_draw_a_bar(tracker, capsys):
    pytest.importorskip("tqdm")
    tracker.add_many("ab")
    assert [k for k, _ in tracker.try_items(progress=True) if tracker.mark_done(k) is None] == ["a", "b"]
    assert "2/2" in capsys.readouterr().err


def test_reopening_with_other_options_is_refused_and_changes_nothing(folder):
    first = Tracker(folder, max_tries=3)
    with pytest.raises(ValueError) as raised:
        Tracker(folder, max_tries=5, sync_at=500)
    message = str(raised.value)
    assert "max_tries=3" in message and "max_tries=5" in message and str(folder) in message
    assert first.max_tries == 3
    with pytest.raises(ValueError, match="sync_at=1000.*sync_at=500"):
        Tracker(folder, max_tries=3, sync_at=500)
    assert Tracker(folder, max_tries=3) is first
