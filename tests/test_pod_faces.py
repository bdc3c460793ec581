"""The POD's behaviour on every face, sync and async (the ``any_host`` fixture).

The mapping API, errors that change nothing, order and key types read back
by a fresh process, values in their JSON form at once. What only one face
has (live proxies, ``.set``'s recorder, views) is tested in that face's file.
"""

from __future__ import annotations

import pytest
from hosts import any_host_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(120)


def test_the_mapping_api(any_host):
    pod = any_host.pod(init={"a": 1, (1, "x"): [1]})
    assert len(pod) == 2 and "a" in pod and (1, "x") in pod and 1.5 not in pod
    assert list(pod) == ["a", (1, "x")]
    assert pod.get("a") == 1 and pod.get("zz", 5) == 5 and pod.get("zz") is None
    assert pod == {"a": 1, (1, "x"): [1]} and pod != {"a": 2} and pod != {"a": 1}
    assert pod.setdefault("b", {"c": 1}) == {"c": 1} and pod.setdefault("b", {"c": 2}) == {"c": 1}
    with any_host.changes(pod) as c:
        c["b"]["c"] += 1
    assert pod["b"] == {"c": 2}
    assert pod.pop("b") == {"c": 2} and pod.pop("b", None) is None
    assert pod.popitem() == ((1, "x"), [1])  # the last one, as dict.popitem()
    pod.update({"x": 1}, y=2)
    pod.update([("w", 0)])
    del pod["x"]
    assert list(pod.keys()) == ["a", "y", "w"]
    assert list(pod.values()) == [1, 2, 0]
    assert list(pod.items()) == [("a", 1), ("y", 2), ("w", 0)]
    assert pod.copy() == {"a": 1, "y": 2, "w": 0} and type(pod.copy()) is dict
    pod.clear()
    assert len(pod) == 0 and list(pod) == []
    with pytest.raises(KeyError, match="empty"):
        pod.popitem()


def test_errors_have_their_types_and_change_nothing(any_host):
    pod = any_host.pod(init={"a": {"l": []}})
    with pytest.raises(KeyError) as err:
        pod["missing"]
    assert err.value.args == ("missing",)
    with pytest.raises(KeyError):
        del pod["missing"]
    with pytest.raises(KeyError):
        pod.pop("missing")
    with pytest.raises(TypeError, match="set"):
        pod.update([("ok", 1), ("bad", {3})])
    with pytest.raises(TypeError, match=r"\['b'\].*set"):
        pod["b"] = {"c": [{1, 2}]}  # deep inside: refused naming the key
    with pytest.raises(TypeError, match="float"):
        pod[1.5] = 1
    with pytest.raises(TypeError, match="bool"):
        pod[True] = 1
    with pytest.raises(KeyError), any_host.changes(pod) as c:
        c["missing"]["n"] += 1
    with pytest.raises(TypeError, match="set"), any_host.changes(pod) as c:
        c["a"]["l"].append({3})
    with pytest.raises(IndexError), any_host.changes(pod) as c:
        c["a"]["l"].pop()
    assert list(pod.items()) == [("a", {"l": []})]


def test_values_are_stored_in_their_json_form_at_once(any_host):
    pod = any_host.pod()
    value = {"t": (1, 2), 3: "three", "nested": [(4,)]}
    pod["k"] = value
    value["t"] = "changed later"  # the POD keeps its own copy
    assert pod["k"] == {"t": [1, 2], "3": "three", "nested": [[4]]}
    with pytest.raises(ValueError, match="collide"):
        pod["bad"] = {1: "a", "1": "b"}  # keys that collide once made strings
    assert "bad" not in pod


def test_order_and_key_types_are_read_back_by_a_fresh_process(any_host):
    pod = any_host.pod()
    keys = ["s", 1, -7, 10**30, ("site", 3), (1, ("a", (2,))), ()]
    for i, key in enumerate(keys):
        pod[key] = i
    pod["s"] = "again"  # reassigning keeps the place
    del pod[1]
    pod[1] = "back"  # delete then re-add goes to the end
    read = any_host.fresh(pod)
    assert list(read) == ["s", -7, 10**30, ("site", 3), (1, ("a", (2,))), (), 1]
    assert [type(key) for key in read] == [str, int, int, tuple, tuple, tuple, int]
    assert read["s"] == "again" and read[1] == "back"
