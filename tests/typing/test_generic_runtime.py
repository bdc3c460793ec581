"""A face given type parameters is the same face at run time (annotations cost nothing)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import tastypy
from tastypy import RedisPOD, RedisTracker, SharedPOD, SharedTracker, TaskRecord

pytestmark = pytest.mark.timeout(120)


class Page(TaskRecord, total=False):
    url: str


def test_parameterized_shared_pod_works_and_pickles(tmp_path: Path) -> None:
    pod = SharedPOD[str, dict[str, int]](tmp_path / "pod")
    try:
        pod["a"] = {"n": 1}
        pod.set["a"]["n"] += 1
        assert type(pod) is SharedPOD
        assert pickle.loads(pickle.dumps(pod))["a"] == {"n": 2}
    finally:
        pod.close()


def test_tracker_typed_by_its_record_holds_plain_dict_records(tmp_path: Path) -> None:
    tracker = SharedTracker[str, Page](tmp_path / "tracker")
    try:
        tracker.add("k")
        tracker.set["k"]["url"] = "https://example.org"
        assert tracker["k"] == {"_done": False, "_tries": 0, "_aborted": False, "url": "https://example.org"}
    finally:
        tracker.close()


def test_parameterized_redis_pod_works_and_pickles(redis_url: str) -> None:
    pod = RedisPOD[str, dict[str, int]](redis_url, "words", {"a": {"n": 1}})
    try:
        pod.set["a"]["n"] += 1
        assert type(pod) is RedisPOD
        again = pickle.loads(pickle.dumps(pod))
        assert type(again) is RedisPOD
        assert again["a"] == {"n": 2}
        again.close()
    finally:
        pod.close()


def test_redis_tracker_typed_by_its_record_holds_plain_dict_records(redis_url: str) -> None:
    tracker = RedisTracker[str, Page](redis_url, "crawl", max_tries=2)
    try:
        assert type(tracker) is RedisTracker
        tracker.add("k")
        tracker.set["k"]["url"] = "https://example.org"
        assert list(tracker.try_keys()) == ["k"]
        assert tracker["k"] == {"_done": False, "_tries": 1, "_aborted": False, "url": "https://example.org"}
    finally:
        tracker.close()


def test_task_record_is_exported_with_the_three_fields() -> None:
    assert tastypy.TaskRecord.__required_keys__ == {"_done", "_tries", "_aborted"}
