"""Opening reads value texts and decodes each value on its first read (issue 11).

What users rely on: the same values, counts and errors as if every value had
been decoded at open, whatever order the fields of a record were written in.
"""

from __future__ import annotations

import gc
import json
import zlib
from pathlib import Path

import pytest
from helpers import fresh_items

import tastypy
from tastypy.errors import IntegrityError

MANIFEST = "tastypy.manifest.json"


def shard_of(folder: Path) -> Path:
    return folder / json.loads((folder / MANIFEST).read_text())["shards"][0]


def replace_shard(folder: Path, content: bytes) -> None:
    """Give the first shard ``content`` and the manifest the sums that match (a deliberate edit)."""
    shard = shard_of(folder)
    shard.write_bytes(content)
    fields = json.loads((folder / MANIFEST).read_text())
    del fields["crc32"]
    check = fields["checks"][shard.name]
    check.update(bytes=len(content), crc32=zlib.crc32(content), entries=content.count(b"\n"))
    body = json.dumps(fields, separators=(",", ":")).encode()[:-1]
    (folder / MANIFEST).write_bytes(body + b',"crc32":%d}\n' % zlib.crc32(body))


def recount(tracker) -> tuple:
    records = [tastypy.unwrap(tracker[key]) for key in tracker]
    return (
        sum(r["_done"] for r in records),
        sum(r["_tries"] > 0 for r in records),
        sum(r["_aborted"] for r in records),
    )


def counts(tracker) -> tuple:
    return tracker.num_done(), tracker.num_tried(), tracker.num_aborted()


def test_values_read_back_alike_after_a_reopen_in_a_fresh_process(tmp_path):
    values = {
        "big": 2**200, "neg": -(10**30), "float": 0.1, "tiny": 5e-324, "text": "café \u2028 \"q\"",
        "nested": {"a": [1, {"b": None}], "": True}, 7: [], ("t", 1): {},
        "esc\"aped": 1, "ctl\t": 2, "é": 3,
    }
    with tastypy.POD(tmp_path / "p", file_size=3) as pod:
        pod.update(values)
    assert fresh_items(tmp_path / "p") == list(values.items())
    for mode in ("r", "w"):
        with tastypy.POD(tmp_path / "p", mode=mode) as pod:
            assert list(pod) == list(values)
            assert {k: tastypy.unwrap(v) for k, v in pod.items()} == values
            assert type(pod["big"]) is int and pod["big"] == 2**200


def test_a_value_edited_into_bad_json_is_named_when_read(tmp_path):
    folder = tmp_path / "p"
    with tastypy.POD(folder) as pod:
        pod.update({"a": 1, "b": [2]})
    replace_shard(folder, b'"a"\t1\n"b"\t[2\n')
    with tastypy.POD(folder, mode="r") as pod:
        assert pod["a"] == 1  # the other values are fine
        with pytest.raises(IntegrityError, match=r"\.json \(key 'b'\): the value '\[2' is not valid JSON"):
            pod["b"]
    bad = pytest.raises(IntegrityError, match=r"\.json \(key 'b'\): the value '\[2' is not valid JSON")
    with tastypy.POD(folder, mode="r") as pod, bad:  # read a shard at a time
        list(pod.values())


def test_a_value_never_read_is_written_back_as_it_was(tmp_path):
    folder = tmp_path / "p"
    with tastypy.POD(folder, file_size=2) as pod:
        pod.update({"a": {"x": 1.5}, "b": 2, "c": 3})
    with tastypy.POD(folder, file_size=2) as pod:
        pod.mark_dirty("a")  # never read: written as it is on disk
        pod["c"] = 4
    with tastypy.POD(folder, mode="r") as pod:
        assert dict(pod) == {"a": {"x": 1.5}, "b": 2, "c": 4}


@pytest.mark.parametrize(
    "text",
    [
        '{"_tries":2,"_done":true,"_aborted":false}',  # 0.x: another order
        '{"_done": true, "_tries": 2, "_aborted": false}',  # spaces
        '{"note":1,"_done":true,"_tries":2,"_aborted":false}',
        '{"_done":true,"_tries":2,"_aborted":false,"_done":true}',
    ],
)
def test_records_not_written_by_this_tracker_count_alike(tmp_path, text):
    folder = tmp_path / "t"
    with tastypy.Tracker(folder) as tracker:
        tracker.add_many(["a", "b", "c"])
        tracker.mark_done("c")
    content = shard_of(folder).read_bytes().replace(
        b'"b"\t{"_done":false,"_tries":0,"_aborted":false}', b'"b"\t' + text.encode()
    )
    replace_shard(folder, content)
    with tastypy.Tracker(folder, mode="r") as tracker:
        assert counts(tracker) == (2, 1, 0) == recount(tracker)
        assert list(tracker.todo_keys()) == ["a"]


def test_a_repeated_special_field_is_counted_as_decoded(tmp_path):
    """JSON keeps the last of a repeated field: the count follows it once read."""
    folder = tmp_path / "t"
    with tastypy.Tracker(folder) as tracker:
        tracker.add_many(["a", "b"])
    text = b'{"_done":false,"_tries":0,"_aborted":false,"_done":true}'
    content = shard_of(folder).read_bytes().replace(
        b'"b"\t{"_done":false,"_tries":0,"_aborted":false}', b'"b"\t' + text
    )
    replace_shard(folder, content)
    with tastypy.Tracker(folder, mode="r") as tracker:
        assert tracker["b"]["_done"] is True
        assert counts(tracker) == recount(tracker) == (1, 0, 0)


def test_a_record_made_bad_by_a_repeated_field_is_refused_when_read(tmp_path):
    folder = tmp_path / "t"
    with tastypy.Tracker(folder) as tracker:
        tracker.add_many(["a", "b"])
    text = b'{"_done":false,"_tries":0,"_aborted":false,"_tries":"x"}'
    content = shard_of(folder).read_bytes().replace(
        b'"b"\t{"_done":false,"_tries":0,"_aborted":false}', b'"b"\t' + text
    )
    replace_shard(folder, content)
    with tastypy.Tracker(folder, mode="r") as tracker:
        for _ in range(2):
            with pytest.raises(ValueError, match=r"key 'b' has a bad field"):
                tracker["b"]
        assert counts(tracker) == (0, 0, 0)


def test_a_bad_record_refuses_the_open(tmp_path):
    folder = tmp_path / "t"
    with tastypy.Tracker(folder) as tracker:
        tracker.add("a")
    replace_shard(folder, b'"a"\t{"_done":false,"_tries":-1,"_aborted":false}\n')
    with pytest.raises(ValueError, match=r"key 'a' has a bad field"):
        tastypy.Tracker(folder, mode="r")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(tmp_path, enabled):
    folder = tmp_path / "t"
    with tastypy.Tracker(folder) as tracker:
        tracker.add("a")
    replace_shard(folder, b'"a"\t{"_done":0,"_tries":0,"_aborted":false}\n')
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError, match=r"key 'a' has a bad field"):
            tastypy.Tracker(folder, mode="r")  # fails while loading
        assert gc.isenabled() is enabled
        with tastypy.POD(folder, mode="r") as pod:
            assert pod["a"]["_done"] == 0
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
