"""JSON normal form: values are stored as they read back, or refused with the place named."""

from __future__ import annotations

import copy
import json
import math
import sys
from collections import OrderedDict, namedtuple

import pytest
from hypothesis import given, settings, strategies as st

from strategies import (
    Color,
    Owner,
    bad_top_keys,
    container_paths,
    json_values,
    loose_values,
    non_finite_floats,
    non_json_leaves,
    poison_leaves,
    to_json,
    top_keys,
    walk,
)
from helpers import fresh_items
from tastypy import POD
from tastypy.observe import Recorder, check_key, encode, format_path, normalize

# -- conversions ---------------------------------------------------------------

Point = namedtuple("Point", "x y")

CONVERSIONS = {
    "tuple": ((1, 2), [1, 2]),
    "nested_tuples": ((1, (2, (3,))), [1, [2, [3]]]),
    "namedtuple": (Point(1, 2), [1, 2]),
    "int_key": ({1: "a"}, {"1": "a"}),
    "negative_int_key": ({-7: "a"}, {"-7": "a"}),
    "true_key": ({True: 1}, {"true": 1}),
    "false_key": ({False: 1}, {"false": 1}),
    "none_key": ({None: 1}, {"null": 1}),
    "float_key": ({1.5: 1}, {"1.5": 1}),
    "float_key_exponent": ({1e16: 1}, {"1e+16": 1}),
    "keys_inside_lists": ([{2: (3,)}], [{"2": [3]}]),
    "ordered_dict": (OrderedDict(b=1, a=2), {"b": 1, "a": 2}),
    "scalars": ([None, True, 0, -1.5, "é\n", 10**30], [None, True, 0, -1.5, "é\n", 10**30]),
}


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_normalize_converts_like_json_does(name):
    given_value, expected = CONVERSIONS[name]
    result = normalize(given_value)
    assert result == expected
    assert json.dumps(result) == json.dumps(expected)  # exact types, key order
    assert result == to_json(given_value)


def test_dict_keys_keep_their_order():
    assert list(normalize({"b": 0, 1: 0, "a": 0, None: 0})) == ["b", "1", "a", "null"]


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_assignment_through_a_proxy_converts_at_once(name):
    given_value, expected = CONVERSIONS[name]
    owner = Owner({"k": {"l": []}})
    owner["k"]["v"] = given_value
    owner["k"]["l"].append(given_value)
    assert json.dumps(owner.data["k"]) == json.dumps({"l": [expected], "v": expected})


def test_the_encoder_writes_compact_json():
    assert encode({"a": [1, None, "é"]}) == '{"a":[1,null,"é"]}'
    with pytest.raises(ValueError):
        encode([math.nan])


# -- refusals ------------------------------------------------------------------

VALUE_ERRORS = {
    "int_and_str_key": {1: "a", "1": "b"},
    "str_and_int_key": {"1": "b", 1: "a"},
    "true_and_str_key": {True: 1, "true": 2},
    "none_and_str_key": {None: 1, "null": 2},
    "float_and_str_key": {1.5: 0, "1.5": 1},
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "nan_key": {math.nan: 1},
    "inf_key": {math.inf: 1},
}

TYPE_ERRORS = {
    "set": {1, 2},
    "frozenset": frozenset(),
    "bytes": b"x",
    "bytearray": bytearray(b"x"),
    "object": object(),
    "complex": 1j,
    "int_enum": Color.RED,
    "int_enum_key": {Color.RED: 1},
    "tuple_key": {(1, 2): 1},
    "bytes_key": {b"k": 1},
    "function": len,
    "type": int,
}


@pytest.mark.parametrize("name", sorted(VALUE_ERRORS))
def test_data_that_would_change_on_the_round_trip_is_a_value_error(name):
    with pytest.raises(ValueError, match=r"value at \['k'\]\['x'\]\[0\]"):
        normalize({"x": [VALUE_ERRORS[name]]}, ("k",))


@pytest.mark.parametrize("name", sorted(TYPE_ERRORS))
def test_what_is_not_json_data_is_a_type_error_naming_the_type(name):
    bad = TYPE_ERRORS[name]
    with pytest.raises(TypeError, match=r"value at \['k'\]\['x'\]\[0\]") as error:
        normalize({"x": [bad]}, ("k",))
    leaf = next(iter(bad)) if type(bad) is dict else bad
    assert type(leaf).__name__ in str(error.value)


def test_the_message_names_the_path_of_the_bad_object():
    value = {"tags": [1, 2, "x", {5}]}
    with pytest.raises(TypeError) as error:
        normalize(value, ("k",))
    assert str(error.value).startswith("value at ['k']['tags'][3]: set is not JSON data")
    with pytest.raises(TypeError, match=r"value at \[\('a', 1\)\]\[0\]\['1'\]: bytes"):
        normalize([{1: b""}], (("a", 1),))
    with pytest.raises(TypeError, match="value at top level: set"):
        normalize(set())


def test_a_value_that_contains_itself_is_refused():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"\['k'\].*contains itself"):
        normalize(loop, ("k",))


def test_format_path_writes_python_subscripts():
    assert format_path(("k", "tags", 3)) == "['k']['tags'][3]"
    assert format_path([(1, "a"), 0]) == "[(1, 'a')][0]"
    assert format_path(()) == ""


# -- errors through a proxy change nothing -------------------------------------

BAD = {"set": {1}, "nan": math.nan, "collision": {1: 0, "1": 0}, "bytes": b""}

THROUGH_PROXY = {
    "list.append": (lambda p, bad: p["l"].append([1, bad]), r"\['k'\]\['l'\]\[2\]\[1\]"),
    "list.extend": (lambda p, bad: p["l"].extend([1, 2, bad]), r"\['k'\]\['l'\]\[4\]"),
    "list.__iadd__": (lambda p, bad: p["l"].__iadd__([bad]), r"\['k'\]\['l'\]\[2\]"),
    "list.insert": (lambda p, bad: p["l"].insert(0, {"a": bad}), r"\['k'\]\['l'\]\[0\]\['a'\]"),
    "list.__setitem__": (lambda p, bad: p["l"].__setitem__(1, [bad]), r"\['k'\]\['l'\]\[1\]\[0\]"),
    "list.__setitem__slice": (
        lambda p, bad: p["l"].__setitem__(slice(0, 1), [0, bad]), r"\['k'\]\['l'\]\[1\]",
    ),
    "dict.__setitem__": (lambda p, bad: p.__setitem__("n", (1, bad)), r"\['k'\]\['n'\]\[1\]"),
    "dict.update": (lambda p, bad: p.update({"a": 2, "z": bad}), r"\['k'\]\['z'\]"),
    "dict.update_kwargs": (lambda p, bad: p.update(a=2, z=[bad]), r"\['k'\]\['z'\]\[0\]"),
    "dict.__ior__": (lambda p, bad: p["d"].__ior__({"x": bad}), r"\['k'\]\['d'\]\['x'\]"),
    "dict.setdefault": (lambda p, bad: p.setdefault("n", [[bad]]), r"\['k'\]\['n'\]\[0\]\[0\]"),
}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("how", sorted(THROUGH_PROXY))
def test_a_bad_element_through_a_proxy_changes_nothing_and_reports_nothing(how, bad):
    initial = {"a": 1, "l": [[0], 1], "d": {}}
    owner = Owner({"k": copy.deepcopy(initial)})
    mutate, where = THROUGH_PROXY[how]
    with pytest.raises((TypeError, ValueError), match=r"value at " + where) as error:
        mutate(owner["k"], BAD[bad])
    assert type(error.value) is (TypeError if bad in ("set", "bytes") else ValueError)
    assert owner.data["k"] == initial
    assert owner.ops == []


@pytest.mark.parametrize(
    "key, error", [(b"k", TypeError), ((1,), TypeError), (math.nan, ValueError)]
)
def test_a_bad_dict_key_through_a_proxy_changes_nothing(key, error):
    owner = Owner({"k": {"a": 1}})
    proxy = owner["k"]
    for mutate in (
        lambda: proxy.__setitem__(key, 1),
        lambda: proxy.setdefault(key, 1),
        lambda: proxy.update({"b": 2, key: 1}),
    ):
        with pytest.raises(error, match=r"value at \['k'\]"):
            mutate()
    assert owner.data["k"] == {"a": 1}
    assert owner.ops == []


def test_update_with_keys_that_collide_once_made_strings_is_refused():
    owner = Owner({"k": {"a": 1}})
    with pytest.raises(ValueError, match=r"value at \['k'\]: keys 1 and '1' both become '1'"):
        owner["k"].update({1: "x", "1": "y"})
    with pytest.raises(ValueError, match="both become 'true'"):
        owner["k"].update({True: 1}, true=2)
    assert owner.data["k"] == {"a": 1}
    assert owner.ops == []


def test_a_bad_value_for_a_new_key_leaves_no_key_behind():
    owner = Owner({"k": {}})
    with pytest.raises(TypeError):
        owner["k"]["new"] = [1, {2}]
    with pytest.raises(TypeError):
        owner["k"].setdefault("new", {3})
    assert owner.data["k"] == {} and owner.ops == []


# -- top-level keys ------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "a", 0, -3, 10**20, (), (1, "a"), ((1, ("b",)), 2)])
def test_check_key_accepts_str_int_and_nested_tuples_of_them(key):
    assert check_key(key) is key


@pytest.mark.parametrize(
    "key, name",
    [
        (True, "bool"),
        (False, "bool"),
        (1.5, "float"),
        ([1], "list"),
        (None, "NoneType"),
        ({}, "dict"),
        (b"k", "bytes"),
        (Color.RED, "Color"),
        ((1, (True,)), "bool"),
        (("a", [1]), "list"),
    ],
)
def test_check_key_refuses_other_types_naming_the_type(key, name):
    with pytest.raises(TypeError, match=name):
        check_key(key)


@given(top_keys())
def test_check_key_accepts_every_generated_key(key):
    assert check_key(key) is key


@given(bad_top_keys())
def test_check_key_refuses_every_generated_bad_key(key):
    with pytest.raises(TypeError, match="tastypy key"):
        check_key(key)


# -- properties ----------------------------------------------------------------


def _container_ids(value):
    if isinstance(value, (dict, list, tuple)):
        yield id(value)
        for child in value.values() if isinstance(value, dict) else value:
            yield from _container_ids(child)


@settings(max_examples=200)
@given(loose_values(max_leaves=15))
def test_normalize_equals_the_json_round_trip_and_never_aliases(value):
    result = normalize(value)
    assert result == to_json(value)
    assert json.dumps(result) == json.dumps(to_json(value))  # types and order too
    assert not set(_container_ids(result)) & set(_container_ids(value))
    assert normalize(result) == result  # idempotent


@settings(max_examples=100)
@given(json_values(max_leaves=15))
def test_data_in_normal_form_is_copied_unchanged(value):
    result = normalize(value)
    assert json.dumps(result) == json.dumps(value)
    assert json.loads(encode(result)) == value
    if isinstance(value, (dict, list)):
        assert result is not value


@settings(max_examples=100)
@given(st.data(), json_values(max_leaves=10), non_json_leaves() | non_finite_floats())
def test_a_bad_leaf_anywhere_is_refused_with_its_path(data, value, bad):
    holder = [value]
    path = data.draw(st.sampled_from(container_paths(holder)))
    container = walk(holder, path)
    if isinstance(container, dict):
        where = data.draw(st.text(max_size=3))
        container[where] = bad
    else:
        where = data.draw(st.integers(0, len(container)))
        container.insert(where, bad)
    snapshot = repr(holder)
    kind = ValueError if isinstance(bad, float) else TypeError
    with pytest.raises(kind) as error:
        normalize(holder, ("k",))
    assert str(error.value).startswith(f"value at {format_path(('k',) + path + (where,))}: ")
    assert repr(holder) == snapshot  # the input is left alone


# -- values that could never be written ----------------------------------------

#: A str with a lone surrogate (no UTF-8 for it) and an int longer than
#: sys.get_int_max_str_digits() (4,300 by default: Python will not print it)
#: look like JSON data but would fail every later sync: refused at once.
POISON = {
    "surrogate": "a\ud800b",
    "low_surrogate": "\udfff",
    "long_int": 10**4300,
    "long_negative_int": -(10**4300),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_value_that_could_never_be_written_is_a_value_error_naming_its_path(name):
    with pytest.raises(ValueError, match=r"value at \['k'\]\['tags'\]\[3\]: "):
        normalize({"tags": [1, 2, "x", POISON[name]]}, ("k",))


@pytest.mark.parametrize("key", ["\ud800", "ok\udc00", 10**4300], ids=["high", "low", "int"])
def test_a_dict_key_that_could_never_be_written_is_a_value_error(key):
    with pytest.raises(ValueError, match=r"value at \['k'\]\['d'\]"):
        normalize({"d": {"a": 1, key: 2}}, ("k",))


def test_the_longest_printable_int_and_any_other_text_are_kept():
    pair = "\ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16")
    value = [10**4299, -(10**4299), "é\u20ac\U0001f600", pair]
    assert normalize(value) == value
    assert json.loads(encode(normalize(value))) == value


def test_the_int_limit_is_the_process_setting():
    limit = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(1000)
        with pytest.raises(ValueError, match=r"value at \['k'\]"):
            normalize([10**1000], ("k",))
        assert normalize([10**999]) == [10**999]
        sys.set_int_max_str_digits(0)  # no limit
        assert normalize([10**5000]) == [10**5000]
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize(
    "key",
    ["\ud800", ("a", "b\udfff"), 10**4300, ("a", -(10**4300))],
    ids=["str", "str_in_tuple", "int", "int_in_tuple"],
)
def test_check_key_refuses_a_key_that_could_never_be_written(key):
    with pytest.raises(ValueError, match="tastypy key"):
        check_key(key)


POISON_THROUGH_PROXY = {
    "list.append": (lambda p, bad: p["l"].append(bad), r"\['k'\]\['l'\]\[2\]"),
    "list.append_nested": (lambda p, bad: p["l"][0].append([bad]), r"\['k'\]\['l'\]\[0\]\[1\]\[0\]"),
    "list.extend": (lambda p, bad: p["l"].extend([1, bad]), r"\['k'\]\['l'\]\[3\]"),
    "list.insert": (lambda p, bad: p["l"].insert(0, bad), r"\['k'\]\['l'\]\[0\]"),
    "list.__setitem__": (lambda p, bad: p["l"].__setitem__(1, bad), r"\['k'\]\['l'\]\[1\]"),
    "list.remove": (lambda p, bad: p["l"].remove(bad), r"\['k'\]\['l'\]"),
    "dict.__setitem__": (lambda p, bad: p.__setitem__("a", bad), r"\['k'\]\['a'\]"),
    "dict.__setitem__key": (lambda p, bad: p["d"].__setitem__(bad, 1), r"\['k'\]\['d'\]"),
    "dict.update": (lambda p, bad: p.update({"b": 2, "z": bad}), r"\['k'\]\['z'\]"),
    "dict.update_key": (lambda p, bad: p["d"].update({"b": 2, bad: 1}), r"\['k'\]\['d'\]"),
    "dict.setdefault": (lambda p, bad: p.setdefault("n", [bad]), r"\['k'\]\['n'\]\[0\]"),
    "dict.setdefault_key": (lambda p, bad: p.setdefault(bad, 1), r"\['k'\]"),
    "list.__iadd__": (lambda p, bad: p["l"].__iadd__([bad]), r"\['k'\]\['l'\]\[2\]"),
}


@pytest.mark.parametrize("bad", sorted(POISON))
@pytest.mark.parametrize("how", sorted(POISON_THROUGH_PROXY))
def test_a_value_that_could_never_be_written_through_a_proxy_changes_nothing(how, bad):
    initial = {"a": 1, "l": [[0], 1], "d": {}}
    owner = Owner({"k": copy.deepcopy(initial)})
    mutate, where = POISON_THROUGH_PROXY[how]
    with pytest.raises(ValueError, match=r"value at " + where):
        mutate(owner["k"], POISON[bad])
    assert owner.data["k"] == initial
    assert owner.ops == []


@pytest.mark.parametrize("bad", sorted(POISON))
def test_the_recorder_refuses_a_value_or_key_that_could_never_be_written(bad):
    ops = []
    r = Recorder(ops.append)
    value = POISON[bad]
    for record in (
        lambda: r["a"]["l"].append([1, value]),
        lambda: r["a"].__setitem__("x", {"y": value}),
        lambda: r["a"]["d"].update({value: 1}),
        lambda: r.__setitem__("a", value),
        lambda: r.__setitem__(value, 1),
        lambda: r.update({value: 1}),
        lambda: r.setdefault(value, 1),
        lambda: r[value].append(1),
    ):
        with pytest.raises(ValueError):
            record()
    assert ops == []


@pytest.mark.parametrize("bad", sorted(POISON))
def test_a_pod_refuses_what_it_could_never_write_and_keeps_syncing(folder, bad):
    pod = POD(folder)
    pod["k"] = {"tags": ["a"]}
    value = POISON[bad]
    for assign in (
        lambda: pod.__setitem__("x", value),
        lambda: pod["k"]["tags"].append(value),
        lambda: pod["k"].__setitem__("d", {value: 1}),
        lambda: pod.__setitem__(value, 1),
        lambda: pod.update({"y": 1, value: 2}),
    ):
        with pytest.raises(ValueError):
            assign()
    pod["k"]["tags"].append("b")
    pod.close()
    assert fresh_items(folder) == [("k", {"tags": ["a", "b"]})]


@settings(max_examples=100, deadline=None)  # long ints are slow to build and compare
@given(st.data(), json_values(max_leaves=10), poison_leaves())
def test_a_value_that_could_never_be_written_is_refused_anywhere(data, value, bad):
    holder = [value]
    path = data.draw(st.sampled_from(container_paths(holder)))
    container = walk(holder, path)
    if isinstance(container, dict):
        as_key = type(bad) is str and data.draw(st.booleans())
        where = bad if as_key else data.draw(st.text(max_size=3))
        container[where] = 0 if as_key else bad
        expected = path if as_key else path + (where,)
    else:
        where = data.draw(st.integers(0, len(container)))
        container.insert(where, bad)
        expected = path + (where,)
    snapshot = copy.deepcopy(holder)  # (repr would refuse the long int too)
    with pytest.raises(ValueError) as error:
        normalize(holder, ("k",))
    assert str(error.value).startswith(f"value at {format_path(('k',) + expected)}: ")
    assert holder == snapshot
    owner = Owner({"k": [0]})
    with pytest.raises(ValueError):
        owner["k"].append(holder)
    assert owner.data == {"k": [0]} and owner.ops == []
