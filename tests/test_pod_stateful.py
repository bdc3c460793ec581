"""A POD against a plain dict model, through syncs, reverts and restarts."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from helpers import fresh_items
from tastypy import POD

KEYS = st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), st.tuples(st.just("t"), st.integers(0, 2)))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2), inner, max_size=3)),
    max_leaves=6,
)


def json_form(value):
    return json.loads(json.dumps(value))


class PODMachine(RuleBasedStateMachine):
    """The model holds what the POD should hold; ``synced`` what the disk should."""

    kept = Bundle("kept")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.path = self.dir / "m.pod"
        self.pod = POD(self.path, file_size=2, sync_at=5)
        self.model: dict = {}
        self.synced: dict = {}
        self.generation: dict = {}
        self.incarnation = 0

    def _bump(self, key) -> None:
        self.generation[key] = self.generation.get(key, 0) + 1

    def _bump_all(self) -> None:
        for key in list(self.generation):
            self._bump(key)

    @rule(key=KEYS, value=VALUES)
    def set_value(self, key, value):
        self.pod[key] = value
        self._bump(key)
        self.model[key] = json_form(value)
        self._maybe_synced()

    @rule(key=KEYS)
    def delete(self, key):
        if key in self.model:
            del self.pod[key]
            del self.model[key]
            self._bump(key)
            self._maybe_synced()

    @rule(target=kept, key=KEYS)
    def keep_proxy(self, key):
        value = self.pod.get(key)
        return (key, value, self.generation.get(key, 0), self.incarnation)

    @rule(kept=kept, value=VALUES)
    def mutate_kept(self, kept, value):
        key, proxy, generation, incarnation = kept
        if not isinstance(proxy, (dict, list)):
            return
        if incarnation != self.incarnation:
            with pytest.raises(ValueError, match="closed"):
                proxy.append(value) if isinstance(proxy, list) else proxy.update(m=value)
            return
        live = key in self.model and self.generation.get(key, 0) == generation
        if isinstance(proxy, dict):
            proxy["m"] = value
            if live:
                self.model[key]["m"] = json_form(value)
        else:
            proxy.append(value)
            if live:
                self.model[key].append(json_form(value))
        if live:
            self._maybe_synced()

    @rule()
    def sync(self):
        self.pod.sync()
        self.synced = copy.deepcopy(self.model)

    @rule()
    def revert(self):
        self.pod.revert()
        self.model = copy.deepcopy(self.synced)
        self._bump_all()

    @rule()
    def reopen(self):
        self.pod.close()
        self.pod = POD(self.path, file_size=2, sync_at=5)
        self.synced = copy.deepcopy(self.model)
        self.incarnation += 1
        self._bump_all()

    def _maybe_synced(self) -> None:
        # An automatic sync empties the dirty set: the disk now holds the model.
        if not self.pod.dirty():
            self.synced = copy.deepcopy(self.model)

    @invariant()
    def same_items_in_same_order(self):
        assert list(self.pod.items()) == list(self.model.items())

    def teardown(self):
        self.pod.close()
        assert fresh_items(self.path) == list(self.model.items())
        shutil.rmtree(self.dir, ignore_errors=True)


PODMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestPODAgainstADict = PODMachine.TestCase
