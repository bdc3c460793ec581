"""``Store.follow()``: a reader learns what a writer committed since its last read, at the cost of the change."""

from __future__ import annotations

import json
import random
from unittest import mock

import pytest

from tastypy.store import DELETE, Store
from tastypy.store import snapshot as snapshot_module


def _text(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _apply(model: dict, changes: list) -> None:
    for key, before, after in changes:
        assert model.get(key) == before, f"{key!r}: the reader held {model.get(key)!r}, follow() said {before!r}"
        if after is None:
            del model[key]
        else:
            model[key] = after


def _fresh(path) -> list:
    reader = Store(path, read_only=True)
    try:
        return list(reader.items())
    finally:
        reader.close()


@pytest.fixture
def pair(tmp_path):
    writer = Store(tmp_path / "f", file_size=10)
    writer.commit([(f"k{i}", _text({"n": i})) for i in range(35)])  # compacts: 4 shards
    reader = Store(tmp_path / "f", read_only=True)
    yield writer, reader
    reader.close()
    writer.close()


def test_follow_reports_each_journaled_change_with_its_text_before(pair):
    writer, reader = pair
    assert reader.follow() == []
    writer.commit([("k3", _text({"n": 30})), ("new", _text(1))])
    writer.commit([("k5", DELETE), ("new", _text(2))])
    assert reader.follow() == [
        ("k3", '{"n":3}', '{"n":30}'),
        ("new", None, "1"),
        ("k5", '{"n":5}', None),
        ("new", "1", "2"),
    ]
    assert list(reader.items()) == _fresh(writer.path)
    assert reader.follow() == []


def test_a_key_twice_in_one_commit_is_reported_in_its_order(pair):
    writer, reader = pair
    writer.commit([("k1", DELETE), ("k1", _text("back"))])
    assert reader.follow() == [("k1", '{"n":1}', None), ("k1", None, '"back"')]
    assert list(reader.items()) == _fresh(writer.path)


def test_the_tail_read_reads_no_shard(pair):
    writer, reader = pair
    writer.commit([("k7", _text(7))])
    with mock.patch.object(snapshot_module, "read_shard", side_effect=AssertionError("a shard was read")):
        assert reader.follow() == [("k7", '{"n":7}', "7")]


def test_after_a_compaction_only_the_rewritten_shards_are_read(pair):
    writer, reader = pair
    writer.commit([("k12", _text("x"))])
    assert writer.compact()
    read = []
    real = snapshot_module.read_shard

    def spy(path, expect):
        read.append(path.name)
        return real(path, expect)

    with mock.patch.object(snapshot_module, "read_shard", spy):
        changes = reader.follow()
    assert changes == [("k12", '{"n":12}', '"x"')]
    assert len(read) == 1  # the shard of k12; the three others were kept
    assert list(reader.items()) == _fresh(writer.path)


def test_random_commits_and_compactions_followed_step_by_step_equal_a_fresh_read(tmp_path):
    rng = random.Random(24)
    writer = Store(tmp_path / "f", file_size=7)
    reader = Store(tmp_path / "f", read_only=True)
    model: dict = dict(reader.items())
    try:
        for step in range(150):
            batch = []
            for _ in range(rng.choice([1, 2, 5, 30])):  # 30 > file_size: a compacting commit
                key = rng.choice([f"k{rng.randrange(40)}", rng.randrange(10), ("t", rng.randrange(5))])
                batch.append((key, DELETE if rng.random() < 0.2 else _text([step, rng.random()])))
            writer.commit(batch)
            if rng.random() < 0.1:
                writer.compact()
            if rng.random() < 0.5:
                changes = reader.follow()
                if changes is None:
                    model = dict(reader.items())
                else:
                    _apply(model, changes)
                assert model == dict(reader.items())
                assert list(reader.items()) == _fresh(writer.path)
    finally:
        reader.close()
        writer.close()


def test_follow_is_for_readers(tmp_path):
    writer = Store(tmp_path / "f")
    try:
        with pytest.raises(ValueError, match="read-only"):
            writer.follow()
    finally:
        writer.close()


def test_a_folder_of_tastypy_0x_follows_as_unchanged(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "0.json").write_text('"a"\t1\n"b"\t2\n')
    reader = Store(tmp_path / "old", read_only=True)
    try:
        assert reader.follow() == []
        assert list(reader.items()) == [("a", "1"), ("b", "2")]
    finally:
        reader.close()
