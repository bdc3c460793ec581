"""A Tracker against a dict of records, counters checked against a recount after every step."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tastypy import Tracker, unwrap

NEW = {"_done": False, "_tries": 0, "_aborted": False}
KEYS = st.sampled_from(["a", "b", "c", 0, 1, ("t", 2)])
SPECIAL = st.one_of(
    st.tuples(st.just("_done"), st.booleans()),
    st.tuples(st.just("_aborted"), st.booleans()),
    st.tuples(st.just("_tries"), st.integers(0, 3)),
)
BAD = st.one_of(
    st.tuples(st.just("_tries"), st.sampled_from([-1, 1.5, "2", True, None])),
    st.tuples(st.sampled_from(["_done", "_aborted"]), st.sampled_from([0, 1, "yes", None])),
)
FIELDS = st.dictionaries(
    st.sampled_from(["_done", "_tries", "_aborted", "note", "links"]),
    st.one_of(st.booleans(), st.integers(0, 3)),
    max_size=4,
).filter(
    lambda d: all(type(d[f]) is bool for f in ("_done", "_aborted") if f in d)
    and (type(d.get("_tries", 0)) is int)
)
MAX_TRIES = 3


def recount(records):
    records = list(records)
    return (
        sum(r["_done"] for r in records),
        sum(r["_tries"] > 0 for r in records),
        sum(r["_aborted"] for r in records),
    )


class TrackerMachine(RuleBasedStateMachine):
    """``model`` holds what the tracker should hold; ``synced`` what the disk should."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.path = self.dir / "m.tracker"
        self.tracker = Tracker(self.path, max_tries=MAX_TRIES, sync_at=4)
        self.model: dict = {}
        self.synced: dict = {}

    def _after(self) -> None:
        if not self.tracker.dirty():  # an automatic sync: the disk holds the model
            self.synced = copy.deepcopy(self.model)

    def _absent(self, key) -> None:
        self.model.setdefault(key, dict(NEW))

    @rule(key=KEYS)
    def add_if_absent(self, key):
        assert self.tracker.add_if_absent(key) == (key not in self.model)
        self._absent(key)
        self._after()

    @rule(keys=st.lists(KEYS, max_size=4))
    def add_many_if_absent(self, keys):
        self.tracker.add_many_if_absent(keys)
        for key in keys:
            self._absent(key)
        self._after()

    @rule(key=KEYS, method=st.sampled_from(
        ["mark_done", "mark_not_done", "abort", "unabort", "increment_tries", "reset_tries"]))
    def method(self, key, method):
        if key not in self.model:
            with pytest.raises(KeyError):
                getattr(self.tracker, method)(key)
            return
        getattr(self.tracker, method)(key)
        record = self.model[key]
        field, value = {
            "mark_done": ("_done", True), "mark_not_done": ("_done", False),
            "abort": ("_aborted", True), "unabort": ("_aborted", False),
            "increment_tries": ("_tries", record["_tries"] + 1), "reset_tries": ("_tries", 0),
        }[method]
        record[field] = value
        self._after()

    @rule(key=KEYS, allow_aborted=st.booleans())
    def should_try(self, key, allow_aborted):
        self._absent(key)
        record = self.model[key]
        expected = not record["_done"] and (allow_aborted or not record["_aborted"]) and record["_tries"] < MAX_TRIES
        assert self.tracker.should_try_add(key, allow_aborted) == expected
        if expected:
            record["_tries"] += 1
        self._after()

    @rule(allow_aborted=st.booleans())
    def next_to_try(self, allow_aborted):
        todo = [
            k for k, r in self.model.items()
            if not r["_done"] and (allow_aborted or not r["_aborted"]) and r["_tries"] < MAX_TRIES
        ]
        found = self.tracker._next_to_try(0, allow_aborted)
        assert (found and found[0]) == (todo[0] if todo else None)
        if todo:
            self.model[todo[0]]["_tries"] += 1
        self._after()

    @rule(key=KEYS, change=SPECIAL)
    def set_through_proxy(self, key, change):
        if key in self.model:
            self.tracker[key][change[0]] = change[1]
            self.model[key][change[0]] = change[1]
            self._after()

    @rule(key=KEYS, note=st.integers(0, 3))
    def augmented_tries_through_a_kept_proxy(self, key, note):
        if key in self.model:
            record, model = self.tracker[key], self.model[key]
            record["_tries"] += 1
            model["_tries"] += 1
            self._after()  # each change may be the one that reaches sync_at
            record["note"] = note
            model["note"] = note
            self._after()

    @rule(key=KEYS, bad=BAD, how=st.sampled_from(["set", "update", "assign", "delete"]))
    def bad_change_is_refused(self, key, bad, how):
        if key not in self.model:
            return
        field, value = bad
        record = self.tracker[key]
        dirty = self.tracker.dirty()
        with pytest.raises((TypeError, ValueError)):
            if how == "set":
                record[field] = value
            elif how == "update":
                record.update({"note": 9, field: value})
            elif how == "assign":
                self.tracker[key] = {"note": 9, field: value}
            else:
                del record[field]
        assert self.tracker.dirty() == dirty

    @rule(key=KEYS, fields=FIELDS)
    def assign(self, key, fields):
        self.tracker[key] = fields
        self.model[key] = {**NEW, **fields}
        self._after()

    @rule(key=KEYS, fields=FIELDS, other=KEYS)
    def update(self, key, fields, other):
        self.tracker.update([(key, fields), (other, {"note": 1})])
        for k, f in ((key, fields), (other, {"note": 1})):
            self.model[k] = {**self.model.get(k, NEW), **f}
        self._after()

    @rule(key=KEYS)
    def delete(self, key):
        if key in self.model:
            del self.tracker[key]
            del self.model[key]
            self._after()

    @rule()
    def sync(self):
        self.tracker.sync()
        self.synced = copy.deepcopy(self.model)

    @rule()
    def revert(self):
        self.tracker.revert()
        self.model = copy.deepcopy(self.synced)

    @rule()
    def close_and_reopen(self):
        self.tracker.close()
        self.tracker = Tracker(self.path, max_tries=MAX_TRIES, sync_at=4)
        self.synced = copy.deepcopy(self.model)

    @precondition(lambda self: self.model)
    @rule()
    def loop_with_todo_keys(self):
        assert list(self.tracker.todo_keys(allow_aborted=True)) == [
            k for k, r in self.model.items() if not r["_done"] and r["_tries"] < MAX_TRIES
        ]
        assert list(self.tracker.aborted_keys()) == [k for k, r in self.model.items() if r["_aborted"]]

    @invariant()
    def counters_equal_a_recount(self):
        tracker = self.tracker
        counts = (tracker.num_done(), tracker.num_tried(), tracker.num_aborted())
        assert counts == recount(unwrap(v) for v in tracker.values())
        assert counts == recount(self.model.values())

    @invariant()
    def records_match_the_model_in_order(self):
        assert [(k, unwrap(v)) for k, v in self.tracker.items()] == list(self.model.items())

    def teardown(self):
        self.tracker.close()
        reopened = Tracker(self.path, max_tries=MAX_TRIES)
        assert [(k, unwrap(v)) for k, v in reopened.items()] == list(self.model.items())
        assert (reopened.num_done(), reopened.num_tried(), reopened.num_aborted()) == recount(self.model.values())
        reopened.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TrackerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestTrackerCountersAgainstARecount = TrackerMachine.TestCase
