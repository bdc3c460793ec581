"""Observable proxies: every mutator reports one ``Op``, reading reports nothing.

zope-persistent style: no ``Op`` before, mutate, exactly one ``Op`` after (and
the data changed); a mutation that changes nothing reports nothing.
"""

from __future__ import annotations

import copy
import json
import pickle
from decimal import Decimal

import pytest

from strategies import Owner
from tastypy.errors import ReadOnlyError
from tastypy.observe import (
    READ_ONLY,
    ObservableDict,
    ObservableList,
    Op,
    ReadOnlyDict,
    ReadOnlyList,
    apply,
    unwrap,
)
from tastypy.observe.proxy import MUTATORS

DICT = {"a": 1, "b": [1, 2], "c": {"x": 0}}
LIST = [3, 1, 2, [0]]
NUMBERS = [3, 1, 2]


def _ior(p):
    p |= {"a": 2, 5: (6,)}
    assert type(p) is ObservableDict  # still the same proxy


def _iadd(p):
    p += (8, (9,))
    assert type(p) is ObservableList


def _imul(p):
    p *= 2
    assert type(p) is ObservableList


def _setslice(p):
    p[1:3] = ("s", ("t",))


def _delslice(p):
    del p[0:2]


def _setindex(p):
    p[0] = (9, {1: None})


def _delindex(p):
    del p[-1]


# name: (initial, mutation, value after, the one Op reported, result returned)
MUTATIONS = {
    "dict.__setitem__": (
        DICT, lambda p: p.__setitem__("z", (1, {2: 3})),
        {**DICT, "z": [1, {"2": 3}]}, Op(("k",), "__setitem__", ("z", [1, {"2": 3}])), None,
    ),
    "dict.__setitem__non_str_key": (
        DICT, lambda p: p.__setitem__(1.5, None),
        {**DICT, "1.5": None}, Op(("k",), "__setitem__", ("1.5", None)), None,
    ),
    "dict.__delitem__": (
        DICT, lambda p: p.__delitem__("a"),
        {"b": [1, 2], "c": {"x": 0}}, Op(("k",), "__delitem__", ("a",)), None,
    ),
    "dict.clear": (DICT, lambda p: p.clear(), {}, Op(("k",), "clear"), None),
    "dict.pop": (
        DICT, lambda p: p.pop("b"), {"a": 1, "c": {"x": 0}}, Op(("k",), "pop", ("b",)), [1, 2],
    ),
    "dict.pop_with_default": (
        DICT, lambda p: p.pop("a", 7), {"b": [1, 2], "c": {"x": 0}}, Op(("k",), "pop", ("a",)), 1,
    ),
    "dict.popitem": (
        DICT, lambda p: p.popitem(), {"a": 1, "b": [1, 2]}, Op(("k",), "pop", ("c",)),
        ("c", {"x": 0}),
    ),
    "dict.setdefault": (
        DICT, lambda p: p.setdefault("n", (1,)),
        {**DICT, "n": [1]}, Op(("k",), "__setitem__", ("n", [1])), [1],
    ),
    "dict.setdefault_none": (
        DICT, lambda p: p.setdefault(True),
        {**DICT, "true": None}, Op(("k",), "__setitem__", ("true", None)), None,
    ),
    "dict.update": (
        DICT, lambda p: p.update({1: "x", "a": 2}, y=(2,)),
        {"a": 2, "b": [1, 2], "c": {"x": 0}, "1": "x", "y": [2]},
        Op(("k",), "update", ({"1": "x", "a": 2, "y": [2]},)), None,
    ),
    "dict.update_pairs": (
        DICT, lambda p: p.update([("a", 5), (None, (1,))]),
        {**DICT, "a": 5, "null": [1]}, Op(("k",), "update", ({"a": 5, "null": [1]},)), None,
    ),
    "dict.__ior__": (
        DICT, _ior, {**DICT, "a": 2, "5": [6]}, Op(("k",), "update", ({"a": 2, "5": [6]},)), None,
    ),
    "list.append": (
        LIST, lambda p: p.append({"x": (1,)}),
        LIST + [{"x": [1]}], Op(("k",), "append", ({"x": [1]},)), None,
    ),
    "list.extend": (
        LIST, lambda p: p.extend((4, (5,))), LIST + [4, [5]],
        Op(("k",), "extend", ([4, [5]],)), None,
    ),
    "list.extend_generator": (
        LIST, lambda p: p.extend(x for x in "ab"), LIST + ["a", "b"],
        Op(("k",), "extend", (["a", "b"],)), None,
    ),
    "list.insert": (
        LIST, lambda p: p.insert(1, ("i",)), [3, ["i"], 1, 2, [0]],
        Op(("k",), "insert", (1, ["i"])), None,
    ),
    "list.remove": (LIST, lambda p: p.remove(1), [3, 2, [0]], Op(("k",), "remove", (1,)), None),
    "list.remove_container": (
        LIST, lambda p: p.remove([0]), [3, 1, 2], Op(("k",), "remove", ([0],)), None,
    ),
    "list.pop": (LIST, lambda p: p.pop(), [3, 1, 2], Op(("k",), "pop", (-1,)), [0]),
    "list.pop_index": (LIST, lambda p: p.pop(0), [1, 2, [0]], Op(("k",), "pop", (0,)), 3),
    "list.clear": (LIST, lambda p: p.clear(), [], Op(("k",), "clear"), None),
    "list.sort": (
        NUMBERS, lambda p: p.sort(), [1, 2, 3], Op(("k",), "__setitem__", (slice(None), [1, 2, 3])),
        None,
    ),
    "list.sort_reverse": (
        NUMBERS, lambda p: p.sort(reverse=True), [3, 2, 1],
        Op(("k",), "__setitem__", (slice(None), [3, 2, 1])), None,
    ),
    "list.sort_key": (
        LIST, lambda p: p.sort(key=str), [1, 2, 3, [0]],
        Op(("k",), "__setitem__", (slice(None), [1, 2, 3, [0]])), None,
    ),
    "list.reverse": (LIST, lambda p: p.reverse(), [[0], 2, 1, 3], Op(("k",), "reverse"), None),
    "list.__setitem__index": (
        LIST, _setindex, [[9, {"1": None}], 1, 2, [0]],
        Op(("k",), "__setitem__", (0, [9, {"1": None}])), None,
    ),
    "list.__setitem__slice": (
        LIST, _setslice, [3, "s", ["t"], [0]],
        Op(("k",), "__setitem__", (slice(1, 3), ["s", ["t"]])), None,
    ),
    "list.__setitem__extended_slice": (
        LIST, lambda p: p.__setitem__(slice(None, None, 2), [7, 8]), [7, 1, 8, [0]],
        Op(("k",), "__setitem__", (slice(None, None, 2), [7, 8])), None,
    ),
    "list.__delitem__index": (LIST, _delindex, [3, 1, 2], Op(("k",), "__delitem__", (-1,)), None),
    "list.__delitem__slice": (
        LIST, _delslice, [2, [0]], Op(("k",), "__delitem__", (slice(0, 2),)), None,
    ),
    "list.__iadd__": (LIST, _iadd, LIST + [8, [9]], Op(("k",), "extend", ([8, [9]],)), None),
    "list.__imul__": (LIST, _imul, LIST + LIST, Op(("k",), "__imul__", (2,)), None),
    "list.__imul__zero": (LIST, lambda p: p.__imul__(0), [], Op(("k",), "__imul__", (0,)), []),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_mutator_reports_exactly_one_op_after_changing_the_data(name):
    initial, mutate, after, op, result = MUTATIONS[name]
    owner = Owner({"k": copy.deepcopy(initial), "other": [0]})
    proxy = owner["k"]
    assert owner.ops == []
    returned = mutate(proxy)
    assert owner.ops == [op]
    assert owner.data["k"] == after
    assert json.dumps(owner.data["k"]) == json.dumps(after)  # also types: [1] not (1,)
    assert returned == result
    # Replaying the Op on the data as it was gives the same data.
    replica = {"k": copy.deepcopy(initial)}
    apply(op, replica)
    assert replica["k"] == after


def test_every_mutator_of_the_design_is_in_the_table():
    assert set(MUTATORS[dict]) == set(
        "__setitem__ __delitem__ clear pop popitem setdefault update __ior__".split()
    )
    assert set(MUTATORS[list]) == set(
        "append extend insert remove pop clear sort reverse __setitem__ __delitem__ "
        "__iadd__ __imul__".split()
    )
    for kind, methods in MUTATORS.items():
        for method in methods:
            assert any(name.startswith(f"{kind.__name__}.{method}") for name in MUTATIONS)


def _no_ior(p):
    p |= {}


def _no_iadd(p):
    p += []


def _no_imul(p):
    p *= 1


# name: (initial, mutation that changes nothing, what it returns or raises)
NO_OPS = {
    "dict.clear_empty": ({}, lambda p: p.clear(), None),
    "dict.update_empty": (DICT, lambda p: p.update({}), None),
    "dict.update_nothing": (DICT, lambda p: p.update(), None),
    "dict.update_with_its_own_containers": (DICT, lambda p: p.update(b=p["b"], c=p["c"]), None),
    "dict.__ior__empty": (DICT, _no_ior, None),
    "dict.setdefault_existing": (DICT, lambda p: p.setdefault("a", 5), 1),
    "dict.pop_absent_with_default": (DICT, lambda p: p.pop("z", 5), 5),
    "dict.pop_absent": (DICT, lambda p: p.pop("z"), KeyError),
    "dict.popitem_empty": ({}, lambda p: p.popitem(), KeyError),
    "dict.__delitem__absent": (DICT, lambda p: p.__delitem__("z"), KeyError),
    "dict.__setitem__same_value_object": (DICT, lambda p: p.__setitem__("b", p["b"]), None),
    "list.clear_empty": ([], lambda p: p.clear(), None),
    "list.extend_empty": (LIST, lambda p: p.extend([]), None),
    "list.extend_empty_generator": (LIST, lambda p: p.extend(iter(())), None),
    "list.__iadd__empty": (LIST, _no_iadd, None),
    "list.__imul__one": (LIST, _no_imul, None),
    "list.__imul__empty": ([], lambda p: p.__imul__(3), []),
    "list.sort_empty": ([], lambda p: p.sort(), None),
    "list.sort_one": ([[2, 1]], lambda p: p.sort(reverse=True), None),
    "list.reverse_empty": ([], lambda p: p.reverse(), None),
    "list.reverse_one": ([5], lambda p: p.reverse(), None),
    "list.pop_empty": ([], lambda p: p.pop(), IndexError),
    "list.pop_out_of_range": (LIST, lambda p: p.pop(9), IndexError),
    "list.remove_absent": (LIST, lambda p: p.remove(9), ValueError),
    "list.remove_tuple_is_not_a_list": (LIST, lambda p: p.remove((0,)), ValueError),
    "list.__delitem__empty_slice": (LIST, lambda p: p.__delitem__(slice(2, 2)), None),
    "list.__delitem__out_of_range": (LIST, lambda p: p.__delitem__(9), IndexError),
    "list.__setitem__out_of_range": (LIST, lambda p: p.__setitem__(9, 1), IndexError),
    "list.__setitem__extended_slice_wrong_size": (
        LIST, lambda p: p.__setitem__(slice(None, None, 2), [1]), ValueError,
    ),
    "list.__setitem__same_value_object": (LIST, lambda p: p.__setitem__(3, p[3]), None),
    "list.insert_bad_index": (LIST, lambda p: p.insert("0", 1), TypeError),
    "list.__imul__bad_factor": (LIST, lambda p: p.__imul__(1.5), TypeError),
    "list.sort_mixed_types": ([2, 1, "a", 0], lambda p: p.sort(), TypeError),
}


@pytest.mark.parametrize("name", sorted(NO_OPS))
def test_a_mutation_that_changes_nothing_reports_nothing(name):
    initial, mutate, outcome = NO_OPS[name]
    owner = Owner({"k": copy.deepcopy(initial)})
    proxy = owner["k"]
    if isinstance(outcome, type) and issubclass(outcome, Exception):
        with pytest.raises(outcome):
            mutate(proxy)
    else:
        assert mutate(proxy) == outcome
    assert owner.ops == []
    assert owner.data["k"] == initial


def test_a_failed_sort_leaves_the_list_as_it_was():
    # list.sort() that raises half-way leaves a plain list partly sorted.
    plain = [1, 3, 2, "a"]
    with pytest.raises(TypeError):
        plain.sort()
    assert plain != [1, 3, 2, "a"]
    owner = Owner({"k": [1, 3, 2, "a"]})
    with pytest.raises(TypeError):
        owner["k"].sort()
    assert owner.data["k"] == [1, 3, 2, "a"]
    assert owner.ops == []


def test_remove_of_a_non_json_value_equal_to_an_element_changes_nothing():
    owner = Owner({"k": [1, 2]})
    with pytest.raises(TypeError, match="Decimal"):
        owner["k"].remove(Decimal(1))
    assert owner.data["k"] == [1, 2]
    assert owner.ops == []


# -- nested containers ---------------------------------------------------------

DEEP = {"a": {"b": [{"c": [1]}, {"d": {"e": {}}}]}}


def test_a_mutation_at_depth_reports_the_path_from_the_top_level_key():
    owner = Owner({"k": copy.deepcopy(DEEP)})
    owner["k"]["a"]["b"][0]["c"].append(2)
    owner["k"]["a"]["b"][-1]["d"]["e"]["f"] = (3,)
    assert owner.ops == [
        Op(("k", "a", "b", 0, "c"), "append", (2,)),
        Op(("k", "a", "b", 1, "d", "e"), "__setitem__", ("f", [3])),
    ]
    assert owner.data["k"]["a"]["b"] == [{"c": [1, 2]}, {"d": {"e": {"f": [3]}}}]


def test_a_proxy_kept_in_a_variable_still_reports():
    owner = Owner({"k": copy.deepcopy(DEEP)})
    kept = owner["k"]["a"]["b"][0]["c"]
    deeper = owner["k"]["a"]["b"][1]["d"]
    kept.append(2)
    kept.append(3)
    deeper["e"]["x"] = 1
    assert owner.ops == [
        Op(("k", "a", "b", 0, "c"), "append", (2,)),
        Op(("k", "a", "b", 0, "c"), "append", (3,)),
        Op(("k", "a", "b", 1, "d", "e"), "__setitem__", ("x", 1)),
    ]
    assert owner.data["k"]["a"]["b"][0]["c"] == [1, 2, 3]


def test_proxies_look_like_the_plain_values():
    owner = Owner({"d": copy.deepcopy(DEEP), "l": [1, [2, "x"], {"y": None}]})
    d, l = owner["d"], owner["l"]
    assert isinstance(d, dict) and isinstance(d["a"], dict) and isinstance(d["a"]["b"], list)
    assert isinstance(l, list) and isinstance(l[1], list) and isinstance(l[2], dict)
    assert d == DEEP and DEEP == d and not (d != DEEP)
    assert l == [1, [2, "x"], {"y": None}] and [1, [2, "x"], {"y": None}] == l
    assert d != {} and l != []
    for proxy, plain in ((d, DEEP), (l, owner.data["l"]), (d["a"]["b"], DEEP["a"]["b"])):
        assert repr(proxy) == repr(plain)
        assert str(proxy) == str(plain)
        assert f"{proxy}" == f"{plain}"
        assert len(proxy) == len(plain)
        assert bool(proxy) == bool(plain)
    assert "a" in d and [2, "x"] in l and 3 not in l
    assert l.index([2, "x"]) == 1 and l.count(1) == 1
    assert list(d) == ["a"] and list(d.keys()) == ["a"]
    assert owner.ops == []


def test_reading_never_reports():
    owner = Owner({"d": copy.deepcopy(DEEP), "l": [3, [2, 1], {"y": [0]}]})
    d, l = owner["d"], owner["l"]
    d["a"]["b"][1]["d"]
    d.get("a"), d.get("zz"), d.get("zz", [1])
    list(d.items()), list(d.values()), list(d.keys()), list(reversed(d))
    list(l), list(reversed(l)), l[1:], l[::-1], l[-1]["y"], len(l), 2 in l
    l + [1], [1] + l, l * 2, 2 * l, d | {}, {} | d
    d.copy(), l.copy(), copy.copy(d), copy.deepcopy(l), pickle.dumps(d), pickle.dumps(l)
    json.dumps(unwrap(d)), repr(l), str(d), d == DEEP, l != [], hash(Op(("k",), "x"))
    sorted(l[1]), max(l[1]), sum(l[1])
    assert owner.ops == []
    assert owner.data["l"] == [3, [2, 1], {"y": [0]}]


def test_iteration_and_views_yield_proxies_that_report_their_own_path():
    owner = Owner({"l": [[0], {"a": []}], "d": {"x": [1], "y": {"z": 0}}})
    l, d = owner["l"], owner["d"]
    first, second = list(l)
    assert isinstance(first, ObservableList) and isinstance(second, ObservableDict)
    first.append(1)
    next(reversed(l))["a"].append(2)
    list(d.values())[0].append(2)
    dict(d.items())["y"]["z"] = 1
    d.get("x").append(3)
    for key, value in d.items():
        assert type(value) in (ObservableList, ObservableDict)
    assert owner.ops == [
        Op(("l", 0), "append", (1,)),
        Op(("l", 1, "a"), "append", (2,)),
        Op(("d", "x"), "append", (2,)),
        Op(("d", "y"), "__setitem__", ("z", 1)),
        Op(("d", "x"), "append", (3,)),
    ]
    assert owner.data == {"l": [[0, 1], {"a": [2]}], "d": {"x": [1, 2, 3], "y": {"z": 1}}}


def test_scalars_come_back_plain():
    owner = Owner({"l": [1, "s", None, 1.5, True], "d": {"n": 2}})
    assert [type(v) for v in owner["l"]] == [int, str, type(None), float, bool]
    assert type(owner["d"]["n"]) is int and type(owner["d"].get("n")) is int


DERIVED = {
    "slice": lambda l, d: l[:],
    "slice_step": lambda l, d: l[::1],
    "add": lambda l, d: l + [],
    "radd": lambda l, d: [] + l,
    "mul": lambda l, d: l * 1,
    "rmul": lambda l, d: 1 * l,
    "list.copy": lambda l, d: l.copy(),
    "dict.copy": lambda l, d: d.copy(),
    "or": lambda l, d: d | {},
    "ror": lambda l, d: {} | d,
    "copy.copy(list)": lambda l, d: copy.copy(l),
    "copy.copy(dict)": lambda l, d: copy.copy(d),
    "copy.deepcopy(list)": lambda l, d: copy.deepcopy(l),
    "copy.deepcopy(dict)": lambda l, d: copy.deepcopy(d),
    "copy.deepcopy(inside_plain)": lambda l, d: copy.deepcopy({"in": d})["in"],
    **{
        f"pickle{protocol}({kind})": (
            lambda l, d, protocol=protocol, kind=kind:
            pickle.loads(pickle.dumps(l if kind == "list" else d, protocol))
        )
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
        for kind in ("list", "dict")
    },
}


def _containers(value):
    yield value
    children = value.values() if isinstance(value, dict) else value
    for child in children:
        if isinstance(child, (dict, list)):
            yield from _containers(child)


@pytest.mark.parametrize("how", sorted(DERIVED))
def test_derived_values_are_plain_data_that_does_not_alias_the_wrapped_data(how):
    owner = Owner({"l": [[1], {"a": [2]}], "d": {"x": [1], "y": {"z": [0]}}})
    value = DERIVED[how](owner["l"], owner["d"])
    source = owner.data["l" if isinstance(value, list) else "d"]
    assert value == source
    live = {id(c) for c in _containers(source)}
    for container in _containers(value):
        assert type(container) in (dict, list)
        assert id(container) not in live
    json.dumps(value)
    snapshot = copy.deepcopy(owner.data)
    for container in _containers(value):  # changing the copy changes nothing
        container.clear()
    assert owner.data == snapshot
    assert owner.ops == []


def test_unwrap_gives_the_plain_object_and_json_can_dump_it():
    owner = Owner({"k": copy.deepcopy(DEEP)})
    proxy = owner["k"]
    assert unwrap(proxy) is owner.data["k"]
    assert unwrap(proxy["a"]["b"]) is owner.data["k"]["a"]["b"]
    assert unwrap(proxy["a"]["b"][0]) is owner.data["k"]["a"]["b"][0]
    assert type(unwrap(proxy)) is dict
    assert json.loads(json.dumps(unwrap(proxy))) == DEEP
    plain = [1]
    assert unwrap(plain) is plain and unwrap(3) == 3 and unwrap(None) is None


# -- ``pod['k']['l'] += [1]`` ---------------------------------------------------


def test_augmented_assignment_of_a_list_item_extends_in_place_and_reports_once():
    owner = Owner({"k": {"l": [0], "n": 1}})
    d = owner["k"]
    kept = d["l"]
    d["l"] += [1]
    assert owner.ops == [Op(("k", "l"), "extend", ([1],))]
    assert unwrap(kept) is owner.data["k"]["l"]  # no copy orphaned the kept proxy
    kept.append(2)
    assert owner.data["k"]["l"] == [0, 1, 2]
    assert owner.ops[1:] == [Op(("k", "l"), "append", (2,))]


def test_augmented_assignment_through_two_levels_reports_once():
    owner = Owner({"k": {"l": [0]}})
    kept = owner["k"]["l"]
    owner["k"]["l"] += [1]
    owner["k"]["l"] *= 2
    assert owner.ops == [Op(("k", "l"), "extend", ([1],)), Op(("k", "l"), "__imul__", (2,))]
    kept.append(9)
    assert owner.data["k"] == {"l": [0, 1, 0, 1, 9]}


def test_augmented_assignment_of_items_of_a_list_and_of_a_dict():
    owner = Owner({"k": [[0], {"a": 1}, 5, "s"]})
    l = owner["k"]
    l[0] += (1,)
    l[1] |= {"b": 2}
    l[2] += 1
    l[3] += "t"
    l[-2] -= 3
    assert owner.data["k"] == [[0, 1], {"a": 1, "b": 2}, 3, "st"]
    assert owner.ops == [
        Op(("k", 0), "extend", ([1],)),
        Op(("k", 1), "update", ({"b": 2},)),
        Op(("k",), "__setitem__", (2, 6)),
        Op(("k",), "__setitem__", (3, "st")),
        Op(("k",), "__setitem__", (-2, 3)),
    ]


def test_assigning_a_proxy_to_another_place_copies_it():
    owner = Owner({"k": {"a": [1], "l": [[2]]}})
    d = owner["k"]
    d["b"] = d["a"]
    d["l"][0] = d["a"]
    d["a"].append(3)
    assert owner.data["k"] == {"a": [1, 3], "b": [1], "l": [[1]]}
    assert owner.data["k"]["b"] is not owner.data["k"]["a"]


# -- proxies whose container moved or left ------------------------------------


def _replays(owner, initial):
    replica = copy.deepcopy(initial)
    for op in owner.ops:
        apply(op, replica)
    return replica == owner.data


MOVES = {
    "insert": lambda l: l.insert(0, "x"),
    "pop": lambda l: l.pop(0),
    "remove": lambda l: l.remove("first"),
    "del": lambda l: l.__delitem__(0),
    "reverse": lambda l: l.reverse(),
    "sort": lambda l: l.sort(key=str, reverse=True),
    "slice": lambda l: l.__setitem__(slice(0, 1), ["y", "z"]),
}


@pytest.mark.parametrize("how", sorted(MOVES))
def test_a_kept_proxy_whose_list_moved_reports_where_it_is_now(how):
    initial = {"k": ["first", [1], [2]]}
    owner = Owner(copy.deepcopy(initial))
    l = owner["k"]
    kept = l[1]
    MOVES[how](l)
    kept.append(9)
    kept.append(10)
    assert [9, 10] == owner.data["k"][owner.data["k"].index([1, 9, 10])][1:]
    assert owner.ops[-1].path == ("k", owner.data["k"].index([1, 9, 10]))
    assert _replays(owner, initial)


def test_a_kept_proxy_inside_a_moved_list_reports_where_it_is_now():
    initial = {"k": [{"a": [[0]]}, "x"]}
    owner = Owner(copy.deepcopy(initial))
    deep = owner["k"][0]["a"][0]
    owner["k"].reverse()
    deep.append(1)
    assert owner.ops[-1] == Op(("k", 1, "a", 0), "append", (1,))
    assert _replays(owner, initial)


LEAVES = {
    "dict.__setitem__": lambda d: d.__setitem__("a", [5]),
    "dict.__delitem__": lambda d: d.__delitem__("a"),
    "dict.pop": lambda d: d.pop("a"),
    "dict.clear": lambda d: d.clear(),
    "dict.update": lambda d: d.update(a=[5]),
    "list.__setitem__": lambda d: d["l"].__setitem__(0, [5]),
    "list.pop": lambda d: d["l"].pop(0),
    "list.clear": lambda d: d["l"].clear(),
    "list.__imul__": lambda d: d["l"].__imul__(0),
}


@pytest.mark.parametrize("how", sorted(LEAVES))
def test_a_kept_proxy_of_a_container_that_left_the_data_reports_nothing(how):
    initial = {"k": {"a": [1], "l": [[1]]}}
    owner = Owner(copy.deepcopy(initial))
    gone = owner["k"]["l" if how.startswith("list") else "a"]
    if how.startswith("list"):
        gone = gone[0]
    LEAVES[how](owner["k"])
    reported = list(owner.ops)
    snapshot = copy.deepcopy(owner.data)
    gone.append(2)
    gone.extend([3])
    assert owner.ops == reported
    assert owner.data == snapshot
    assert _replays(owner, initial)


def test_a_proxy_of_a_replaced_top_level_value_is_ignored_by_its_owner():
    owner = Owner({"k": [1]})
    old = owner["k"]
    owner["k"] = [2]
    old.append(3)
    assert owner.data["k"] == [2]
    assert owner.ops == [Op((), "__setitem__", ("k", [2]))]


def test_the_args_of_a_reported_op_never_change_afterwards():
    owner = Owner({"k": {}})
    d = owner["k"]
    d["a"] = []
    d.setdefault("s", {})
    d.update(u=[])
    d["l"] = [[]]
    d["l"].append([])
    d["l"].extend([[]])
    d["l"].insert(0, [])
    d["l"][1:2] = [[]]
    frozen = pickle.dumps(owner.ops)
    for container in list(_containers(owner.data["k"])):
        if isinstance(container, list):
            container.append("changed")
        else:
            container["changed"] = True
    assert pickle.dumps(owner.ops) == frozen


def test_repeated_elements_of_imul_are_independent_copies():
    initial = {"k": [[1], {"a": 0}]}
    owner = Owner(copy.deepcopy(initial))
    l = owner["k"]
    l *= 2
    l[0].append(2)
    l[3]["a"] = 1
    assert owner.data["k"] == [[1, 2], {"a": 0}, [1], {"a": 1}]
    assert _replays(owner, initial)


# -- read-only proxies ---------------------------------------------------------

_READ_ONLY_CALLS = {
    "__setitem__": ("k", 1),
    "__delitem__": ("a",),
    "clear": (),
    "pop": ("a",),
    "popitem": (),
    "setdefault": ("z", 1),
    "update": ({"z": 1},),
    "__ior__": ({"z": 1},),
    "append": (1,),
    "extend": ([1],),
    "insert": (0, 1),
    "remove": (1,),
    "sort": (),
    "reverse": (),
    "__iadd__": ([1],),
    "__imul__": (2,),
}


@pytest.mark.parametrize(
    "kind, method",
    [(dict, m) for m in MUTATORS[dict]] + [(list, m) for m in MUTATORS[list]],
)
def test_every_mutator_of_a_read_only_proxy_raises_and_changes_nothing(kind, method):
    initial = {"a": [3, 1, 2]} if kind is dict else [3, 1, [2]]
    owner = Owner({"k": copy.deepcopy(initial)}, kinds=READ_ONLY)
    proxy = owner["k"]
    assert type(proxy) is (ReadOnlyDict if kind is dict else ReadOnlyList)
    args = _READ_ONLY_CALLS[method]
    if kind is list:
        args = {"__setitem__": (0, 1), "__delitem__": (0,), "pop": ()}.get(method, args)
    with pytest.raises(ReadOnlyError, match=method):
        getattr(proxy, method)(*args)
    assert owner.data["k"] == initial
    assert owner.ops == []


def test_containers_read_from_a_read_only_proxy_are_read_only():
    owner = Owner({"k": {"a": [1, {"b": []}]}}, kinds=READ_ONLY)
    inner = owner["k"]["a"][1]["b"]
    assert type(inner) is ReadOnlyList and inner == []
    with pytest.raises(ReadOnlyError, match=r"\['k'\]\['a'\]\[1\]\['b'\]"):
        inner.append(1)
    with pytest.raises(ReadOnlyError):
        owner["k"]["a"] += [1]
    assert [type(v) for v in owner["k"]["a"]] == [int, ReadOnlyDict]
    assert owner.data == {"k": {"a": [1, {"b": []}]}}
