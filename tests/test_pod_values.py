"""Values: copy on write in JSON form, clear errors that change nothing."""

from __future__ import annotations

import copy
import enum
import json
import pickle

import pytest

from helpers import fresh_items
from tastypy import POD, unwrap


def test_json_quirks_apply_at_once(folder):
    pod = POD(folder)
    pod[1] = {2: 1, True: "t", None: "n", 2.5: "f"}
    pod["t"] = (1, (2, 3))
    assert pod[1] == {"2": 1, "true": "t", "null": "n", "2.5": "f"}
    assert pod["t"] == [1, [2, 3]]
    pod.sync()
    assert fresh_items(folder) == [(1, {"2": 1, "true": "t", "null": "n", "2.5": "f"}), ("t", [1, [2, 3]])]


def test_pod_keeps_its_own_copy(folder):
    pod = POD(folder)
    value = {"tags": ["a"]}
    pod["k"] = value
    value["tags"].append("b")
    value["new"] = 1
    assert pod["k"] == {"tags": ["a"]}
    pod["j"] = pod["k"]
    pod["j"]["tags"].append("c")
    assert pod["k"] == {"tags": ["a"]}


@pytest.mark.parametrize(
    "bad, kind, where",
    [
        ({1, 2}, TypeError, "['k']"),
        ({"a": [1, {"b": {3}}]}, TypeError, "['k']['a'][1]['b']"),
        ({"a": b"x"}, TypeError, "['k']['a']"),
        ({(1, 2): 1}, TypeError, "['k']"),
        ({"x": float("nan")}, ValueError, "['k']['x']"),
        ([float("inf")], ValueError, "['k'][0]"),
        ({1: "a", "1": "b"}, ValueError, "['k']"),
        (object(), TypeError, "['k']"),
    ],
)
def test_bad_value_is_refused_naming_the_place_and_changes_nothing(folder, bad, kind, where):
    pod = POD(folder, init={"k": {"tags": []}})
    pod.sync()
    with pytest.raises(kind) as info:
        pod["k"] = bad
    assert where in str(info.value)
    with pytest.raises(kind):
        pod["k"]["tags"].append(bad)
    with pytest.raises(kind):
        pod.update({"new": 1, "k2": bad})
    assert dict(pod.items()) == {"k": {"tags": []}}
    assert pod.dirty() == set()


def test_int_enum_is_not_silently_converted(folder):
    class Color(enum.IntEnum):
        RED = 1

    with pytest.raises(TypeError, match="Color"):
        POD(folder)["k"] = Color.RED


def test_reading_returns_proxies_that_look_like_the_value(folder):
    pod = POD(folder, init={"d": {"l": [1, {"x": 2}]}, "n": 3, "s": "x"})
    value = pod["d"]
    assert isinstance(value, dict) and isinstance(value["l"], list)
    assert value == {"l": [1, {"x": 2}]}
    assert repr(value) == repr({"l": [1, {"x": 2}]}) and str(value["l"]) == "[1, {'x': 2}]"
    assert type(pod["n"]) is int and type(pod["s"]) is str


def test_reading_never_marks_dirty(folder):
    pod = POD(folder, init={"d": {"l": [1, {"x": 2}]}})
    pod.sync()
    value = pod["d"]
    _ = value["l"][1]["x"], list(value.items()), list(pod.values()), len(value), value.get("l")
    _ = [x for x in value["l"]], copy.deepcopy(value), value == {}, "l" in value
    assert pod.dirty() == set()


def test_proxies_give_plain_data_to_copy_pickle_and_json(folder):
    pod = POD(folder, init={"d": {"l": [1, {"x": 2}]}})
    value = pod["d"]
    for plain in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert type(plain) is dict and plain == {"l": [1, {"x": 2}]}
        plain["l"][1]["x"] = 99
    assert pod["d"] == {"l": [1, {"x": 2}]}
    assert json.loads(json.dumps(unwrap(value))) == {"l": [1, {"x": 2}]}
    assert type(unwrap(value)) is dict and unwrap(5) == 5


def test_proxy_of_a_replaced_or_deleted_key_no_longer_writes(folder):
    pod = POD(folder, init={"a": [1], "b": [1]})
    pod.sync()
    old_a, old_b = pod["a"], pod["b"]
    pod["a"] = [2]
    del pod["b"]
    pod.sync()
    old_a.append(3)
    old_b.append(3)
    assert pod["a"] == [2] and "b" not in pod
    assert pod.dirty() == set()


def test_augmented_assignment_keeps_kept_proxies_live(folder):
    pod = POD(folder, init={"a": {"l": [1]}, "top": [1]})
    kept = pod["a"]["l"]
    pod["a"]["l"] += [2]
    kept.append(3)
    top = pod["top"]
    pod["top"] += [2]
    top.append(3)
    pod.sync()
    assert fresh_items(folder) == [("a", {"l": [1, 2, 3]}), ("top", [1, 2, 3])]


def test_numbers_and_strings_augmented_through_proxies(folder):
    pod = POD(folder, init={"a": {"n": 1, "s": "x"}, "n": 1})
    pod["a"]["n"] += 5
    pod["a"]["s"] += "y"
    pod["n"] += 1
    pod.sync()
    assert fresh_items(folder) == [("a", {"n": 6, "s": "xy"}), ("n", 2)]


def test_proxy_of_a_closed_pod_says_so(folder):
    pod = POD(folder, init={"a": [1]})
    kept = pod["a"]
    pod.close()
    with pytest.raises(ValueError, match="closed"):
        kept.append(2)
    assert fresh_items(folder) == [("a", [1])]


def test_bad_init_leaves_nothing_open(folder):
    with pytest.raises(TypeError):
        POD(folder, init={"a": {1, 2}})
    with POD(folder, init={"a": 1}) as pod:
        assert dict(pod.items()) == {"a": 1}
