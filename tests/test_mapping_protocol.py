"""CPython's own mapping-protocol tests (``test.mapping_tests``, written for
``dict`` and ``UserDict``) against a POD, a SharedPOD and a RedisPOD.

Adapted only where the documented JSON and storage differences demand:
reference values are JSON-invariant (lists, not tuples), a POD is made with
a folder (so ``POD(x=1)`` and ``POD.fromkeys`` do not apply), and
``copy()`` returns a plain ``dict``.
"""

from __future__ import annotations

import itertools
import tempfile
import unittest
from pathlib import Path

import pytest

import tastypy

mapping_tests = pytest.importorskip("test.mapping_tests", reason="this Python ships without its test package")

_names = itertools.count()


class _Adapted(mapping_tests.TestMappingProtocol):
    __test__ = False  # the hosts' classes below are the tests
    made: list

    def setUp(self) -> None:
        self.made = []

    def tearDown(self) -> None:
        for made in self.made:
            made.close()

    def _reference(self):
        return {"1": "2", "key1": "value1", "key2": [1, 2, 3]}

    def _new(self):
        raise NotImplementedError

    def _empty_mapping(self):
        made = self._new()
        self.made.append(made)
        return made

    def test_constructor(self):
        self.assertEqual(self._empty_mapping(), self._empty_mapping())
        self.assertIsNot(self._empty_mapping(), self._empty_mapping())

    def test_fromkeys(self):
        self.skipTest("a POD is made with a folder: there is no POD.fromkeys()")

    def test_copy(self):
        d = self._full_mapping({1: 1, 2: 2, 3: 3})
        self.assertEqual(d.copy(), {1: 1, 2: 2, 3: 3})
        self.assertIs(type(d.copy()), dict)  # documented: a plain dict of plain values
        d = self._empty_mapping()
        self.assertEqual(d.copy(), d)
        self.assertRaises(TypeError, d.copy, None)


class TestPOD(_Adapted):
    __test__ = True

    def _new(self):
        return tastypy.POD(Path(tempfile.mkdtemp()) / f"p{next(_names)}")


class TestSharedPOD(_Adapted):
    __test__ = True

    def _new(self):
        return tastypy.SharedPOD(Path(tempfile.mkdtemp()) / f"s{next(_names)}")


@pytest.fixture(scope="class")
def redis_class_url(request, redis_server):
    request.cls.url = redis_server.url


@pytest.mark.usefixtures("redis_class_url")
class TestRedisPOD(_Adapted):
    url: str
    __test__ = True


    def _new(self):
        pod = tastypy.RedisPOD(self.url, f"mapping{next(_names)}")
        pod.clear()
        return pod


def test_reversed_and_the_merge_operators_work_as_on_a_dict(tmp_path):
    pod = tastypy.POD(tmp_path / "p", init={"a": [1], "b": 2, "c": 3})
    assert list(reversed(pod)) == ["c", "b", "a"]
    merged = pod | {"c": 30, "d": 4}
    assert merged == {"a": [1], "b": 2, "c": 30, "d": 4} and type(merged) is dict
    assert ({"z": 0, "a": 0} | pod) == {"z": 0, "a": [1], "b": 2, "c": 3}
    merged["a"].append(2)
    assert pod["a"] == [1]  # a snapshot: changing it changes nothing stored
    pod |= {"e": 5}
    assert pod["e"] == 5 and list(pod)[-1] == "e"
    with pytest.raises(TypeError):
        pod | [("x", 1)]  # noqa: B018  (as dict: only a mapping)
    pod.close()
    assert dict(tastypy.POD(tmp_path / "p", mode="r")) == {"a": [1], "b": 2, "c": 3, "e": 5}


if __name__ == "__main__":
    unittest.main()


@pytest.mark.parametrize("kind", ["pod", "shared"])
def test_update_refuses_what_is_not_pairs_as_dict_does_and_changes_nothing(tmp_path, kind):
    pod = tastypy.POD(tmp_path / "p") if kind == "pod" else tastypy.SharedPOD(tmp_path / "s")
    try:
        pod["a"] = 1
        with pytest.raises(TypeError, match="mapping or .key, value. pairs, got 5"):
            pod.update([("b", 2), 5])
        with pytest.raises(ValueError, match="pairs of two, got .'x', 1, 2."):
            pod.update([("b", 2), ("x", 1, 2)])
        assert dict(pod) == {"a": 1}
    finally:
        pod.close()
