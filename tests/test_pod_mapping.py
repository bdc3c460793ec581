"""A POD behaves like a dict: the MutableMapping API, order, key types."""

from __future__ import annotations

import collections.abc

import pytest

from helpers import fresh_items
from tastypy import POD, PersistentOrderedDict


def test_folder_is_created_with_parents(tmp_path):
    path = tmp_path / "a" / "b" / "c.pod"
    POD(path).close()
    assert path.is_dir()


def test_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("hi")
    with pytest.raises(Exception, match="file.txt"):
        POD(path)
    assert path.read_text() == "hi"


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with POD("~/home.pod") as pod:
        pod["a"] = 1
    assert (tmp_path / "home.pod").is_dir()


def test_is_a_mutable_mapping_and_has_short_name(folder):
    pod = POD(folder)
    assert isinstance(pod, collections.abc.MutableMapping)
    assert POD is PersistentOrderedDict


def test_basic_dict_operations(folder):
    pod = POD(folder)
    pod["a"] = 1
    pod["b"] = [1, 2]
    assert pod["a"] == 1 and pod["b"] == [1, 2]
    assert "a" in pod and "z" not in pod
    assert len(pod) == 2
    assert pod.get("z") is None and pod.get("z", 5) == 5
    del pod["a"]
    assert "a" not in pod
    with pytest.raises(KeyError):
        pod["a"]
    with pytest.raises(KeyError):
        del pod["a"]


def test_pop_popitem_setdefault_update_clear(folder):
    pod = POD(folder)
    pod.update({"a": {"x": 1}}, b=2)
    pod.update([("c", 3)])
    assert list(pod) == ["a", "b", "c"]
    value = pod.pop("a")
    assert value == {"x": 1} and type(value) is dict
    assert pod.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        pod.pop("a")
    assert pod.popitem() == ("c", 3)  # the last one, as dict.popitem()
    assert pod.setdefault("d", [1]) == [1]
    pod.setdefault("d", [2]).append(3)
    assert pod["d"] == [1, 3]
    pod.clear()
    assert len(pod) == 0
    with pytest.raises(KeyError):
        pod.popitem()


def test_equality_with_any_mapping(folder):
    pod = POD(folder)
    pod["a"] = {"x": [1]}
    assert pod == {"a": {"x": [1]}}
    assert pod == collections.OrderedDict(a={"x": [1]})
    assert pod != {"a": 1}
    assert pod != [("a", 1)]


def test_views_are_live(folder):
    pod = POD(folder)
    keys, values, items = pod.keys(), pod.values(), pod.items()
    pod["a"] = 1
    pod["b"] = [2]
    assert list(keys) == ["a", "b"]
    assert list(values) == [1, [2]]
    assert list(items) == [("a", 1), ("b", [2])]
    assert len(keys) == 2 and "a" in keys and ("b", [2]) in items


def test_old_iterator_names_still_work(folder):
    pod = POD(folder, init={"a": 1, "b": 2})
    assert list(pod.iterkeys()) == ["a", "b"]
    assert list(pod.itervalues()) == [1, 2]
    assert list(pod.iteritems()) == [("a", 1), ("b", 2)]


def test_init_takes_a_mapping_or_pairs(tmp_path):
    assert dict(POD(tmp_path / "1", init={"a": 1}).items()) == {"a": 1}
    assert list(POD(tmp_path / "2", init=[(2, "x"), (1, "y")]).items()) == [(2, "x"), (1, "y")]


def test_order_is_first_insertion_also_after_restart(folder):
    with POD(folder) as pod:
        for key in ["c", "a", "b", "d"]:
            pod[key] = key
        pod["a"] = "again"  # reassigning keeps the place
        del pod["c"]
        pod["c"] = "back"  # delete then re-add goes to the end
    expected = [("a", "again"), ("b", "b"), ("d", "d"), ("c", "back")]
    assert list(POD(folder, mode="r").items()) == expected
    assert fresh_items(folder) == expected


def test_key_types_survive_a_restart(folder):
    keys = ["s", 1, -7, 10**30, ("site", 3), (1, ("a", (2,))), ()]
    with POD(folder) as pod:
        for i, key in enumerate(keys):
            pod[key] = i
    items = fresh_items(folder)
    assert [k for k, _ in items] == keys
    assert [type(k) for k, _ in items] == [type(k) for k in keys]


@pytest.mark.parametrize("key", [True, 1.5, None, [1], b"x", frozenset(), ("a", 1.0)])
def test_bad_key_is_refused_and_changes_nothing(folder, key):
    pod = POD(folder, init={"a": 1})
    with pytest.raises(TypeError, match="key"):
        pod[key] = 1
    with pytest.raises(TypeError):
        pod.update([(key, 1)])
    assert dict(pod.items()) == {"a": 1} and pod.dirty() == {"a"}


def test_pod_cannot_be_pickled(folder):
    import pickle

    with pytest.raises(TypeError, match="SharedPOD"):
        pickle.dumps(POD(folder))


def test_closed_pod_says_so(folder):
    pod = POD(folder)
    pod.close()
    with pytest.raises(ValueError, match="closed"):
        pod["a"] = 1
    with pytest.raises(ValueError, match="closed"):
        len(pod)
    pod.close()  # closing twice is harmless


def test_bad_mode_and_sizes_are_refused(folder):
    with pytest.raises(ValueError, match="mode"):
        POD(folder, mode="x")
    with pytest.raises(ValueError, match="file_size"):
        POD(folder, file_size=0)
    with pytest.raises(ValueError, match="sync_at"):
        POD(folder, sync_at=0)
    assert not folder.exists()
