"""What a type checker tells users of the generic faces: checked by mypy, never run.

``test_mypy.py`` runs mypy over this file (and the package). A line marked
``# type: ignore[code]`` must be an error of that code: mypy's
``warn_unused_ignores`` (on under ``strict``) fails if it is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typing_extensions import assert_type

import tastypy
from tastypy import POD, RedisPOD, RedisTracker, SharedPOD, SharedTracker, TaskRecord, Tracker


class Page(TaskRecord, total=False):
    """A crawl's task record: the three counted fields and the user's own."""

    url: str
    status: int


def counts_by_word(folder: Path) -> None:
    pod: SharedPOD[str, dict[str, int]] = SharedPOD(folder)
    pod["apple"] = {"n": 1}
    pod.set["apple"]["n"] += 1
    assert_type(pod["apple"], dict[str, int])
    assert_type(pod.get("apple"), dict[str, int] | None)
    assert_type(pod.pop("apple", None), dict[str, int] | None)
    for word, counts in pod.items():
        assert_type(word, str)
        assert_type(counts["n"], int)
    assert_type(pod.dirty(), set[str])
    with pod.locked() as locked:
        assert_type(locked, SharedPOD[str, dict[str, int]])
    pod[1] = {"n": 1}  # type: ignore[index]
    pod["pear"] = {"n": "one"}  # type: ignore[dict-item]
    pod.update({"pear": [1]})  # type: ignore[arg-type]
    pod.close()


def crawl(folder: Path) -> None:
    tracker: SharedTracker[str, Page] = SharedTracker(folder, max_tries=3)
    tracker.add("https://example.org")
    for url, page in tracker.try_items():
        assert_type(url, str)
        assert_type(page, Page)
        assert_type(page["_tries"], int)
        tracker.set[url]["status"] = 200
        tracker.mark_done(url)
    tracker.update({"https://example.org": {"status": 404}})  # partial records merge
    assert_type(tracker.done("https://example.org"), bool)
    assert_type(tracker.todo_values(), Iterator[Page])
    assert_type(tracker.num_done(), int)
    assert_type(tracker.percent_done(), str)
    tracker.add(("not", "a", "str"))  # type: ignore[arg-type]
    tracker.close()


def counts_by_word_here(folder: Path) -> None:
    pod: POD[str, dict[str, int]] = POD(folder)
    pod["apple"] = {"n": 1}
    pod["apple"]["n"] += 1
    assert_type(pod["apple"], dict[str, int])
    assert_type(pod.get("apple"), dict[str, int] | None)
    assert_type(pod.get("pear", {"n": 0}), dict[str, int])
    assert_type(pod.pop("apple", None), dict[str, int] | None)
    assert_type(pod.setdefault("pear", {"n": 0}), dict[str, int])
    for word, counts in pod.items():
        assert_type(word, str)
        assert_type(counts["n"], int)
    assert_type(pod.iteritems(), Iterator[tuple[str, dict[str, int]]])
    assert_type(pod.dirty(), set[str])
    assert_type(pod.popitem(), tuple[str, dict[str, int]])
    with POD[str, dict[str, int]](folder) as again:
        assert_type(again, POD[str, dict[str, int]])
    pod[1] = {"n": 1}  # type: ignore[index]
    pod["pear"] = {"n": "one"}  # type: ignore[dict-item]
    pod.update({"pear": [1]})  # type: ignore[arg-type]
    POD[str, int](folder, {"a": "big"})  # type: ignore[arg-type]
    pod.close()


def crawl_here(folder: Path) -> None:
    tracker: Tracker[str, Page] = Tracker(folder, max_tries=3)
    tracker.add("https://example.org")
    for url, page in tracker.try_items():
        assert_type(url, str)
        assert_type(page, Page)
        assert_type(page["_tries"], int)
        tracker[url]["status"] = 200
        tracker.mark_done(url)
    tracker.update({"https://example.org": {"status": 404}})  # partial records merge
    assert_type(tracker.done("https://example.org"), bool)
    assert_type(tracker.todo_values(), Iterator[Page])
    assert_type(tracker.aborted_keys(), Iterator[str])
    assert_type(tracker.num_done(), int)
    assert_type(tracker.percent_done(), str)
    with Tracker[str, Page](folder, max_tries=3) as again:
        assert_type(again, Tracker[str, Page])
    tracker.add(("not", "a", "str"))  # type: ignore[arg-type]
    Tracker(folder, "3")  # type: ignore[arg-type]
    tracker.close()


def counts_in_redis(url: str) -> None:
    pod: RedisPOD[str, dict[str, int]] = RedisPOD(url, "words", {"apple": {"n": 1}})
    pod.set["apple"]["n"] += 1
    assert_type(pod["apple"], dict[str, int])
    assert_type(pod.get("pear", {"n": 0}), dict[str, int])
    for word in pod:
        assert_type(word, str)
    with pod.locked() as locked:
        assert_type(locked, RedisPOD[str, dict[str, int]])
    assert_type(pod.url, str)
    assert_type(pod.name, str)
    pod[("a", 1)] = {"n": 1}  # type: ignore[index]
    pod["pear"] = {"n": 1.5}  # type: ignore[dict-item]
    RedisPOD[str, int](url, "sizes", {"a": "big"})  # type: ignore[arg-type]
    pod.drop()
    pod.close()


def crawl_across_machines(url: str) -> None:
    tracker: RedisTracker[str, Page] = RedisTracker(url, "crawl", max_tries=3, lease=10.0)
    tracker.add_many_if_absent(["https://example.org", "https://example.com"])
    for url_, page in tracker.try_items():
        assert_type(url_, str)
        assert_type(page, Page)
        assert_type(page.get("status"), int | None)
        tracker.update({url_: {"status": 200}})
        tracker.mark_done(url_)
    assert_type(tracker.aborted_keys(), Iterator[str])
    assert_type(tracker.should_try("https://example.org"), bool)
    assert_type(tracker.fraction_done(), float)
    assert_type(tracker.max_tries, int)
    tracker.mark_done(404)  # type: ignore[arg-type]
    RedisTracker(url, "crawl", "3")  # type: ignore[arg-type]
    tracker.close()


def unannotated(folder: Path) -> None:
    # Without parameters a face is what it was before: Any keys and values.
    pod = tastypy.SharedPOD(folder)
    assert_type(pod, SharedPOD[Any, Any])
    assert_type(pod["k"], Any)
    here = tastypy.POD(folder)
    assert_type(here, POD[Any, Any])
    assert_type(here["k"], Any)
    assert_type(tastypy.Tracker(folder)["k"], Any)
    tracker = tastypy.RedisTracker("redis://localhost:6379/0", "crawl")
    assert_type(tracker, RedisTracker[Any, Any])
    assert_type(tracker["k"], Any)


# Keys are str, int or tuples; a tracker's record extends TaskRecord.
WrongKey = SharedPOD[float, int]  # type: ignore[type-var]
WrongRecord = SharedTracker[str, dict[str, int]]  # type: ignore[type-var]
WrongRedisKey = RedisPOD[list[str], int]  # type: ignore[type-var]
WrongRedisRecord = RedisTracker[str, int]  # type: ignore[type-var]
WrongPODKey = POD[float, int]  # type: ignore[type-var]
WrongTrackerRecord = Tracker[str, dict[str, int]]  # type: ignore[type-var]
