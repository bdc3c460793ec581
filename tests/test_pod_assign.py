"""Assignment keeps the encoder's text of a container: exactly normalize's outcome.

``pod[k] = v`` of a dict, list or tuple is checked and copied by the C JSON
encoder in one call when a walk of its types finds nothing the encoder would
change silently; else ``normalize`` decides. Either way the value stored, the
value read back (here and in a fresh process) and the error raised are
``normalize``'s.
"""

from __future__ import annotations

import enum
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import fresh_items
from strategies import loose_values, non_finite_floats, non_json_leaves, poison_leaves
from tastypy import POD, unwrap
from tastypy.observe import normalize


class Name(str):
    """A ``str`` subclass: ``json`` would write it as text, but it is not ``str``."""


class Ratio(float):
    pass


class Level(enum.IntEnum):
    HIGH = 2


def outcome(action):
    try:
        return "ok", action()
    except (TypeError, ValueError) as error:
        return type(error), str(error)


def assigned(pod, key, value):
    pod[key] = value
    return unwrap(pod[key])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        loose_values(),
        st.lists(
            loose_values() | non_json_leaves() | poison_leaves() | non_finite_floats(), max_size=3
        ).map(lambda items: {"x": items}),
    )
)
def test_an_assigned_container_is_what_normalize_makes_or_refuses(tmp_path_factory, value):
    pod = POD(tmp_path_factory.mktemp("pod"))
    try:
        container = {"v": value}
        assert outcome(lambda: assigned(pod, "k", container)) == outcome(
            lambda: normalize(container, ("k",))
        )
    finally:
        pod.close()


@pytest.mark.parametrize(
    "value, kind",
    [
        ({"a": Name("x")}, TypeError),
        ({Name("a"): 1}, TypeError),
        ([Ratio(0.5)], TypeError),
        ({"level": Level.HIGH}, TypeError),
        ({Level.HIGH: 1}, TypeError),
        ({1: "a", "1": "b"}, ValueError),
        ({"true": 1, True: 2}, ValueError),
        ({"s": "a\ud800"}, ValueError),
        ({"a\udc00": 1}, ValueError),
        ([math.nan], ValueError),
    ],
)
def test_what_the_encoder_would_write_silently_is_refused_with_its_place(folder, value, kind):
    pod = POD(folder, init={"k": {"old": 1}})
    pod.sync()
    with pytest.raises(kind, match=r"^value at \['k'\]"):
        pod["k"] = {"v": value}
    assert pod["k"] == {"old": 1} and pod.dirty() == set()


def test_an_assigned_value_reads_back_and_syncs_as_normalized(folder):
    pod = POD(folder)
    value = {"t": (1, (2, [3])), "s": "é\u20ac", "n": None, "f": -0.0, "i": 10**30, "d": {"x": []}}
    pod["k"] = value
    pod["l"] = [1, "a"]
    pod["l"] = {"replaced": True}  # the last text wins
    value["t"] = "changed after"  # the POD's copy is its own
    assert pod.dirty() == {"k", "l"}
    assert pod == {"k": normalize({**value, "t": (1, (2, [3]))}), "l": {"replaced": True}}
    pod["m"] = [1]
    pod.sync()
    pod["m"]
    pod["m"].append(2)  # read, then changed through its proxy: written as changed
    del pod["l"]
    pod.close()
    assert fresh_items(folder) == [
        ("k", {"t": [1, [2, [3]]], "s": "é\u20ac", "n": None, "f": -0.0, "i": 10**30, "d": {"x": []}}),
        ("m", [1, 2]),
    ]


def test_a_value_nested_deeper_than_the_walk_goes_is_left_to_normalize(folder):
    pod = POD(folder)
    deep: list = []
    inner = deep
    for _ in range(150):
        inner.append([])
        inner = inner[0]
    pod["k"] = deep
    assert unwrap(pod["k"]) == deep
