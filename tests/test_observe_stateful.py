"""Random mutations through proxies behave like the same mutations on plain data.

A rule-based machine mutates a value through proxies (fresh ones and ones
kept in variables across other mutations) and the same way a plain model,
then checks that the data equals the model, that an ``Op`` was reported iff
something changed, and that the reported ``Op``s, replayed with ``apply`` on
a copy of the start (as the SharedPOD server does), give the same data.
"""

from __future__ import annotations

import copy
import json
import pickle

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from strategies import (
    Mutation,
    Owner,
    container_paths,
    json_dicts,
    may_report_unchanged,
    mutation_of,
    mutations,
    perform,
    walk,
)
from tastypy.observe import apply, unwrap


def exact(value):
    """Equality that also tells ``1`` from ``1.0`` and ``True``, and sees key order."""
    return json.dumps(value)


def path_of(root, target, path=()):
    """Where ``target`` (by identity) sits inside ``root``: the test's own oracle."""
    if root is target:
        return path
    children = root.items() if isinstance(root, dict) else enumerate(root)
    for where, child in children:
        if isinstance(child, (dict, list)):
            found = path_of(child, target, path + (where,))
            if found is not None:
                return found
    return None


class ObservedMutations(RuleBasedStateMachine):
    """A value mutated through proxies, against a plain model and a replica."""

    @initialize(value=json_dicts(max_leaves=10))
    def start(self, value):
        self.initial = copy.deepcopy(value)
        self.owner = Owner({"k": copy.deepcopy(value)})
        self.model = copy.deepcopy(value)
        self.replica = {"k": copy.deepcopy(value)}  # what a server builds from the Ops
        self.applied = 0
        self.kept = []

    @property
    def data(self):
        return self.owner.data["k"]

    def check(self, m: Mutation, target, model_path: tuple) -> None:
        """Perform ``m`` on ``target`` (a proxy) and at ``model_path`` in the model."""
        before = copy.deepcopy(self.model)
        model = copy.deepcopy(self.model)
        try:
            expected = perform(m, walk(model, model_path), model=True)
            expected_error = None
        except Exception as error:  # noqa: BLE001 - the proxy must raise the same
            expected_error = error
        reported = len(self.owner.ops)
        try:
            got = perform(m, target)
        except Exception as error:  # noqa: BLE001
            assert expected_error is not None, f"{m!r} raised {error!r}, the model did not"
            assert type(error) is type(expected_error), (error, expected_error)
            assert self.owner.ops[reported:] == [], "an error reported an Op"
            assert exact(self.data) == exact(self.model), "an error changed the data"
            return
        assert expected_error is None, f"{m!r} did not raise {expected_error!r}"
        assert exact(unwrap(got)) == exact(expected)
        # JSON data is a tree: undo the sharing that ``*=`` leaves in a plain list.
        self.model = json.loads(json.dumps(model))
        assert exact(self.data) == exact(self.model)
        new_ops = self.owner.ops[reported:]
        if exact(self.model) != exact(before):
            assert new_ops, f"{m!r} changed the data and reported nothing"
        elif not may_report_unchanged(m):
            assert not new_ops, f"{m!r} changed nothing and reported {new_ops}"

    @rule(data=st.data())
    def mutate_through_fresh_proxies(self, data):
        m = data.draw(mutations(self.model), label="mutation")
        self.check(m, self.owner["k"], ())

    @rule(data=st.data())
    def keep_a_proxy(self, data):
        path = data.draw(st.sampled_from(container_paths(self.model)), label="keep")
        self.kept = [*self.kept[-4:], walk(self.owner["k"], path)]

    @precondition(lambda self: self.kept)
    @rule(data=st.data())
    def mutate_through_a_kept_proxy(self, data):
        proxy = data.draw(st.sampled_from(self.kept), label="kept")
        where = path_of(self.data, unwrap(proxy))
        if where is None:
            # Its container left the data: mutating it must change nothing here.
            m = data.draw(mutation_of(copy.deepcopy(unwrap(proxy))), label="detached")
            reported = len(self.owner.ops)
            try:
                perform(m, proxy)
            except Exception:  # noqa: BLE001, S110 - only what it reports matters
                pass
            assert self.owner.ops[reported:] == []
            assert exact(self.data) == exact(self.model)
            return
        m = data.draw(mutation_of(walk(self.model, where)), label="mutation")
        self.check(m, proxy, where)

    @invariant()
    def the_ops_replay_to_the_same_data(self):
        # As a SharedPOD server: each Op pickled, then applied to its own copy.
        for op in self.owner.ops[self.applied:]:
            apply(pickle.loads(pickle.dumps(op)), self.replica)
        self.applied = len(self.owner.ops)
        assert exact(self.replica["k"]) == exact(self.data)

    def teardown(self):
        if not hasattr(self, "initial"):
            return
        # The Ops as they were reported, all replayed on a copy of the start.
        replayed = {"k": copy.deepcopy(self.initial)}
        for op in self.owner.ops:
            apply(op, replayed)
        assert exact(replayed["k"]) == exact(self.data)


ObservedMutations.TestCase.settings = settings(
    max_examples=75,
    stateful_step_count=20,
    deadline=None,
    report_multiple_bugs=False,  # shrink one failure, not all at once
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_random_mutations_through_proxies_match_a_plain_model = ObservedMutations.TestCase
