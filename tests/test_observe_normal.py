"""JSON normal form: values are stored as they read back, or refused with the place named."""

from __future__ import annotations

import copy
import json
import math
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
    to_json,
    top_keys,
    walk,
)
from tastypy.observe import check_key, encode, format_path, normalize

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
