"""Every mutating method of the proxies reaches the disk, at any depth."""

from __future__ import annotations

import copy

import pytest

from helpers import fresh_items
from tastypy import POD

INITIAL = {"d": {"a": 1, "b": [1, 2], "c": {"x": 0}}, "l": [3, 1, 2, [0]]}

MUTATIONS = {
    "dict.__setitem__": lambda v: v["d"].__setitem__("new", {"n": [1]}),
    "dict.__delitem__": lambda v: v["d"].__delitem__("a"),
    "dict.clear": lambda v: v["d"].clear(),
    "dict.pop": lambda v: v["d"].pop("b"),
    "dict.popitem": lambda v: v["d"].popitem(),
    "dict.setdefault": lambda v: v["d"].setdefault("z", [9]),
    "dict.update": lambda v: v["d"].update({"a": 2}, e=5),
    "dict.__ior__": lambda v: v["d"].__ior__({"a": 3}),
    "list.append": lambda v: v["l"].append({"x": 1}),
    "list.extend": lambda v: v["l"].extend([4, 5]),
    "list.insert": lambda v: v["l"].insert(1, "i"),
    "list.remove": lambda v: v["l"].remove(1),
    "list.pop": lambda v: v["l"].pop(0),
    "list.clear": lambda v: v["l"].clear(),
    "list.sort": lambda v: v["l"][:3].sort() or v["l"].__setitem__(slice(0, 3), [1, 2, 3]),
    "list.sort_in_place": lambda v: v["d"]["b"].sort(reverse=True),
    "list.reverse": lambda v: v["l"].reverse(),
    "list.__setitem__": lambda v: v["l"].__setitem__(0, [7]),
    "list.__setitem__slice": lambda v: v["l"].__setitem__(slice(1, 3), ["s"]),
    "list.__delitem__": lambda v: v["l"].__delitem__(-1),
    "list.__delitem__slice": lambda v: v["l"].__delitem__(slice(0, 2)),
    "list.__iadd__": lambda v: v["l"].__iadd__([8]),
    "list.__imul__": lambda v: v["l"].__imul__(2),
    "deep.__setitem__": lambda v: v["l"][3].__setitem__(0, {"deep": True}),
    "deep.dict_in_dict": lambda v: v["d"]["c"].__setitem__("x", 1),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_through_a_kept_proxy_is_persisted(folder, name):
    pod = POD(folder, init={"k": copy.deepcopy(INITIAL), "other": 0})
    pod.sync()
    kept = pod["k"]  # the old docs' pitfall: a value kept in a variable
    MUTATIONS[name](kept)
    expected = copy.deepcopy(INITIAL)
    MUTATIONS[name](expected)
    assert pod.dirty() == {"k"}
    assert pod["k"] == expected
    pod.sync()
    assert pod.dirty() == set()
    assert fresh_items(folder) == [("k", expected), ("other", 0)]


def test_the_readme_example_survives_a_fresh_process(folder):
    pod = POD(folder)
    pod["a"] = {"tries": 0, "tags": []}
    pod["a"]["tags"].append("x")
    tags = pod["a"]["tags"]
    tags.append("y")
    pod[("site", 3)] = [1, 2]
    pod["gone"] = 1
    del pod["gone"]
    pod.close()
    assert fresh_items(folder) == [("a", {"tries": 0, "tags": ["x", "y"]}), (("site", 3), [1, 2])]


@pytest.mark.parametrize(
    "noop",
    [
        lambda v: v["d"]["c"].clear() or v["d"]["c"].clear(),
        lambda v: v["l"].extend([]),
        lambda v: v["d"].update({}),
        lambda v: v["d"].setdefault("a", 5),
        lambda v: v["l"].__imul__(1),
        lambda v: v["d"]["c"].pop("missing", None),
    ],
)
def test_no_op_mutations_mark_nothing(folder, noop):
    pod = POD(folder, init={"k": {"d": {"a": 1, "c": {}}, "l": [1]}})
    pod.sync()
    noop(pod["k"])
    assert pod.dirty() == set()
