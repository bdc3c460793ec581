"""A face given type parameters is the same face at run time (annotations cost nothing)."""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tastypy
from tastypy import POD, RedisPOD, RedisTracker, SharedPOD, SharedTracker, TaskRecord, Tracker
from tastypy.tracker import ProgressTracker

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


def fresh_items(path: Path) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs a brand-new process reads from the POD folder ``path``."""
    code = "import sys, tastypy; print([(k, tastypy.unwrap(v)) for k, v in tastypy.POD(sys.argv[1], mode='r').items()])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    items: list[tuple[Any, Any]] = ast.literal_eval(result.stdout)
    return items


class Page(TaskRecord, total=False):
    url: str


def test_parameterized_pod_is_the_one_pod_of_its_folder_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "pod"
    pod = POD[str, dict[str, int]](path)
    try:
        assert type(pod) is POD
        assert POD(path) is pod  # one object per folder, parameterized or not
        assert POD[str, dict[str, int]](path) is pod
        pod.close()
        pod.close()
        pod["a"] = {"n": 1}
        pod["a"]["n"] += 1
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(pod)
    finally:
        pod.close()
    assert fresh_items(path) == [("a", {"n": 2})]


def test_parameterized_tracker_works_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "tracker"
    tracker = ProgressTracker[str, Page](path, max_tries=2)
    try:
        assert type(tracker) is ProgressTracker
        assert Tracker(path, max_tries=2) is tracker
        tracker.close()
        tracker.add_many(["a", "b"])
        tracker["a"]["url"] = "https://example.org"
        for key in tracker.try_keys():
            tracker.mark_done(key)
        assert tracker.num_done() == 2
    finally:
        tracker.close()
    assert fresh_items(path) == [
        ("a", {"_done": True, "_tries": 1, "_aborted": False, "url": "https://example.org"}),
        ("b", {"_done": True, "_tries": 1, "_aborted": False}),
    ]


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
