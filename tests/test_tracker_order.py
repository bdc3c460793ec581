"""The live key order and counts of a tracker, without a disk."""

from __future__ import annotations

from tastypy.order import TaskOrder
from tastypy.records import ABORTED, DONE, TRIED


def _all(order: TaskOrder, start: int = 0) -> list:
    keys = []
    while (found := order.first(start, lambda key: True)) is not None:
        keys.append(found[0])
        start = found[1] + 1
    return keys


def test_counts_follow_set_and_remove():
    order = TaskOrder()
    order.set("a", DONE | TRIED)
    order.set("b", ABORTED)
    order.set("c", 0)
    assert (order.done, order.tried, order.aborted, len(order)) == (1, 1, 1, 3)
    order.set("a", TRIED)  # no longer done
    order.remove("b")
    order.remove("missing")
    assert (order.done, order.tried, order.aborted, len(order)) == (0, 1, 0, 2)


def test_positions_hold_while_keys_are_added_and_deleted():
    order = TaskOrder()
    for key in "abc":
        order.set(key, 0)
    key, position = order.first(0, lambda key: True)
    assert key == "a"
    order.remove("b")
    order.set("d", 0)
    order.set("b", 0)  # re-added: goes to the end
    assert _all(order, position + 1) == ["c", "d", "b"]
    assert order.first(0, lambda key: key == "d")[0] == "d"


def test_dead_slots_are_swept_and_the_order_stays():
    order = TaskOrder()
    for n in range(1000):
        order.set(n, 0)
    for n in range(0, 1000, 3):
        order.remove(n)
    assert _all(order) == [n for n in range(1000) if n % 3]
    assert len(order._keys) <= 2 * len(order) + 64


def test_rebuild_keeps_known_positions_in_order():
    order = TaskOrder()
    for key in "abcd":
        order.set(key, 0)
    _, position_c = order.first(0, lambda key: key == "c")
    order.rebuild([("a", DONE), ("c", 0), ("e", TRIED)])
    assert order.first(0, lambda key: key == "c")[1] == position_c
    assert _all(order) == ["a", "c", "e"]
    assert _all(order, position_c + 1) == ["e"]
    assert (order.done, order.tried, order.aborted) == (1, 1, 0)
