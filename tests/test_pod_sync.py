"""When data reaches the disk: sync_at, sync, sync_key, hold, revert, close."""

from __future__ import annotations

import errno
import os
from unittest import mock

import pytest

from helpers import fresh_items
from tastypy import POD


def test_nothing_reaches_disk_before_sync_at(folder):
    pod = POD(folder, sync_at=3)
    pod["a"] = 1
    pod["b"] = 2
    assert pod.dirty() == {"a", "b"}
    assert fresh_items(folder) == []
    pod["c"] = 3  # the third dirty key triggers a sync
    assert pod.dirty() == set()
    assert fresh_items(folder) == [("a", 1), ("b", 2), ("c", 3)]


def test_nested_mutations_count_toward_sync_at(folder):
    pod = POD(folder, init={"a": [], "b": []}, sync_at=2)
    pod.sync()
    pod["a"].append(1)
    pod["a"].append(2)  # still one dirty key
    assert pod.dirty() == {"a"}
    pod["b"].append(1)
    assert pod.dirty() == set()
    assert fresh_items(folder) == [("a", [1, 2]), ("b", [1])]


def test_hold_suspends_automatic_sync_and_unhold_resumes(folder):
    pod = POD(folder, sync_at=2)
    pod.hold()
    for i in range(5):
        pod[i] = i
    assert len(pod.dirty()) == 5 and fresh_items(folder) == []
    pod.unhold()
    assert pod.dirty() == set()
    assert len(fresh_items(folder)) == 5


def test_sync_key_writes_only_that_change(folder):
    pod = POD(folder, init={"a": 1, "b": 2})
    pod.sync()
    pod["a"] = 10
    pod["b"] = 20
    pod.sync_key("b")
    assert pod.dirty() == {"a"}
    assert fresh_items(folder) == [("a", 1), ("b", 20)]
    pod.sync_key("not there")  # nothing to do


def test_sync_key_of_a_new_key_keeps_the_order(folder):
    pod = POD(folder, init={"a": 1})
    pod.sync()
    pod["x"] = 1
    pod["y"] = 2
    pod["a"] = 5
    pod.sync_key("y")
    assert fresh_items(folder) == [("a", 1), ("x", 1), ("y", 2)]
    assert pod.dirty() == {"a"}
    pod.sync()
    assert fresh_items(folder) == [("a", 5), ("x", 1), ("y", 2)]


def test_mark_dirty_after_changing_data_behind_the_proxies(folder):
    from tastypy import unwrap

    pod = POD(folder, init={"a": {"n": 1}})
    pod.sync()
    unwrap(pod["a"])["n"] = 2  # not observed
    assert pod.dirty() == set()
    pod.mark_dirty("a")
    assert pod.dirty() == {"a"}
    pod.sync()
    assert fresh_items(folder) == [("a", {"n": 2})]
    with pytest.raises(KeyError):
        pod.mark_dirty("missing")


def test_revert_drops_unsynced_changes(folder):
    pod = POD(folder, init={"a": {"l": [1]}, "b": 1})
    pod.sync()
    kept = pod["a"]["l"]
    kept.append(2)
    pod["c"] = 3
    del pod["b"]
    pod.revert()
    assert list(pod.items()) == [("a", {"l": [1]}), ("b", 1)]
    assert pod.dirty() == set()
    kept.append(3)  # a proxy from before the revert writes nothing
    assert pod["a"] == {"l": [1]} and pod.dirty() == set()


def test_context_manager_syncs_and_closes(folder):
    with POD(folder) as pod:
        pod["a"] = 1
    assert fresh_items(folder) == [("a", 1)]
    with pytest.raises(ValueError, match="closed"):
        pod["b"] = 1


def test_same_folder_in_one_process_shares_data(folder):
    first = POD(folder)
    second = POD(str(folder))
    first["a"] = [1]
    second["a"].append(2)
    assert first["a"] == [1, 2]
    first.close()
    second["b"] = 1  # still open through the other object
    second.close()
    assert fresh_items(folder) == [("a", [1, 2]), ("b", 1)]


def test_conflicting_options_in_one_process_are_refused(folder):
    POD(folder)
    with pytest.raises(ValueError, match="gzipped"):
        POD(folder, gzipped=True)
    with pytest.raises(ValueError, match="file_size"):
        POD(folder, file_size=10)


def test_reopening_with_another_sync_at_is_refused_and_changes_nothing(folder):
    first = POD(folder, sync_at=3)
    with pytest.raises(ValueError) as raised:
        POD(folder, sync_at=500)
    message = str(raised.value)
    assert "sync_at=3" in message and "sync_at=500" in message and str(folder) in message
    assert POD(folder, sync_at=3) is first
    first["a"], first["b"], first["c"] = 1, 2, 3  # still syncs at 3
    assert first.dirty() == set()


@pytest.mark.parametrize("gzipped", [False, True])
def test_shards_hold_about_file_size_entries(folder, gzipped):
    with POD(folder, gzipped=gzipped, file_size=10) as pod:
        for i in range(35):
            pod[f"key-{i}"] = {"i": i}
    suffix = ".json.gz" if gzipped else ".json"
    shards = [p for p in folder.iterdir() if p.name.split(".")[0].isdigit()]
    assert len(shards) == 4
    assert all(p.name.endswith(suffix) for p in shards)
    assert fresh_items(folder) == [(f"key-{i}", {"i": i}) for i in range(35)]


def test_an_existing_folder_keeps_its_format_and_reopening_alike_is_fine(folder):
    with POD(folder, file_size=10) as pod:
        pod.update((i, i) for i in range(25))
    first = POD(folder, gzipped=True, file_size=10)
    assert POD(folder, gzipped=True, file_size=10) is first
    first["new"] = 1
    first.close()
    first.close()
    assert not list(folder.glob("*.gz"))  # the folder's own format won
    assert len(fresh_items(folder)) == 26


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_close_on_a_failing_disk_raises_and_keeps_the_pod_open_and_dirty(folder, code):
    pod = POD(folder)
    pod["a"] = 1
    failure = OSError(code, os.strerror(code))
    with mock.patch.object(pod._store, "commit", side_effect=failure):
        with pytest.raises(OSError) as raised:
            pod.close()
    assert raised.value.errno == code
    assert pod.dirty() == {"a"} and pod["a"] == 1  # still open, changes kept
    pod.close()  # the disk is back: this close writes them
    assert fresh_items(folder) == [("a", 1)]


def test_with_block_on_a_failing_disk_raises_and_keeps_the_pod_open(folder):
    failure = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    pod = POD(folder)
    with mock.patch.object(pod._store, "commit", side_effect=failure):
        with pytest.raises(OSError), pod:
            pod["a"] = 1
    assert pod.dirty() == {"a"}
    pod.close()
    assert fresh_items(folder) == [("a", 1)]
