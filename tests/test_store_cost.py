"""A commit's cost follows what changed, not the size of the store."""

from __future__ import annotations

import os
import zlib
from unittest import mock

from tastypy.store import DELETE, Store, folder as store_folder


def folder_bytes(path) -> dict:
    return {p.name: p.stat().st_size for p in path.iterdir()}


def test_one_key_commit_in_a_big_store_writes_a_line(tmp_path):
    store = Store(tmp_path / "big")
    store.commit([(f"key{i}", f'{{"n":{i},"done":false}}') for i in range(100_000)])
    before = folder_bytes(tmp_path / "big")
    written = []
    real_write = os.write

    def counting_write(fd, data):
        written.append(len(data))
        return real_write(fd, data)

    with (
        mock.patch("os.write", counting_write),
        mock.patch("builtins.open") as no_open,
        mock.patch.object(store_folder, "create_file") as no_create,
        mock.patch("zlib.crc32", wraps=zlib.crc32) as crc32,
    ):
        store.commit([("key50000", '{"n":50000,"done":true}')])
    no_open.assert_not_called()  # no shard file was read or rewritten
    no_create.assert_not_called()
    assert all(len(call.args[0]) < 4096 for call in crc32.call_args_list)  # no shard re-summed
    after = folder_bytes(tmp_path / "big")
    changed = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name)}
    assert sum(written) < 4096, written
    assert list(changed) == [store._snap.manifest["journal"]] and sum(changed.values()) == sum(written)
    store.close()
    assert dict(Store(tmp_path / "big", read_only=True).load())["key50000"] == '{"n":50000,"done":true}'


def test_folder_stays_bounded_over_many_commits(tmp_path, monkeypatch):
    monkeypatch.setattr(store_folder, "_MIN_JOURNAL", 4 * 1024)
    store = Store(tmp_path / "s", file_size=100)
    store.commit([(i, "0") for i in range(1000)])
    shard_bytes = sum(size for name, size in folder_bytes(tmp_path / "s").items() if name.endswith(".json"))
    for n in range(1500):
        store.commit([(n % 1000, str(n))])
    sizes = folder_bytes(tmp_path / "s")
    assert len(sizes) <= 10 + 3, sorted(sizes)  # 10 shards, journal, manifest, lock
    assert sum(sizes.values()) < 2 * shard_bytes + 4 * 1024 + 1024
    store.close()


def test_compact_folds_the_journal(tmp_path):
    store = Store(tmp_path / "s", file_size=3)
    store.commit([(i, "0") for i in range(9)])
    assert not store.compact()  # nothing journaled yet
    store.commit([(4, DELETE)])
    store.commit([(1, "1")])
    journal = store._snap.manifest["journal"]
    assert store.compact()
    assert store.info()["shards"] == 3 and not (tmp_path / "s" / journal).exists()
    assert (tmp_path / "s" / store._snap.manifest["journal"]).stat().st_size == 0
    store.close()
    expected = [(0, "0"), (1, "1"), (2, "0"), (3, "0"), (5, "0"), (6, "0"), (7, "0"), (8, "0")]
    assert Store(tmp_path / "s", read_only=True).load() == expected
