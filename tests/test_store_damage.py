"""Damage is an IntegrityError naming the file and line; 0.x folders open unchanged."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tastypy.errors import IntegrityError
from tastypy.store import Store

LEGACY = Path(__file__).parent / "fixtures" / "legacy_0x"
LEGACY_PAIRS = [
    ("apple", {"_aborted": False, "_tries": 0, "_done": False}),
    (3, [1, 2, "three"]),
    (("pair", 1), "café"),
    ("zürich", None),
    ((("nested", (2, 3)), "x"), {"a": {"b": [True, 1.5]}}),
]


def decoded(store):
    return [(key, json.loads(text)) for key, text in store.load()]


def damaged(tmp_path, files: dict, match: str) -> IntegrityError:
    """Write a 0.x-style folder of ``files`` and check both reader and writer refuse it."""
    folder = tmp_path / "d"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    for readonly in (True, False):
        with pytest.raises(IntegrityError, match=match) as raised:
            Store(folder, read_only=readonly).load()
    assert "restore it from a backup" in str(raised.value)
    return raised.value


GOOD = '"a"\t1\n"b"\t2\n'


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('"a"\t1\n"b"\n', r"0\.json line 2: truncated line"),
        ('"a"\t1\n"b"\t\n', r"0\.json line 2: the value '' is empty"),
        ('"a"\t1\n"b"\t{"x": \n', r"0\.json line 2: the value .* is not valid JSON"),
        ('"a"\t[1\n"b"\t2]\n', r"0\.json line 1: the value '\[1' is not valid JSON"),
        ('"a"\t1\nb\t2\n', r"0\.json line 2: the key 'b' is not valid JSON"),
        ('"a"\t1\n1.5\t2\n', r"0\.json line 2: key 1\.5 is not a string, integer or array"),
        ('"a"\t1\nnull\t2\n', r"0\.json line 2: key null is not"),
        ('"a"\t1\n"b"\t2', r"0\.json line 2: last line has no newline"),
        ('"a"\t1\n"a"\t2\n', r"0\.json line 2: the key \"a\" appears a second time"),
        (b'"a"\t1\n"b"\t"\xff"\n', r"0\.json line 2: bytes that are not UTF-8"),
    ],
)
def test_damaged_shard_line(tmp_path, content, match):
    damaged(tmp_path, {"0.json": content}, match)


def test_key_in_two_shards(tmp_path):
    damaged(tmp_path, {"0.json": GOOD, "1.json": '"c"\t3\n"a"\t4\n'}, r"1\.json line 2: the key \"a\"")


def test_gap_in_legacy_shards(tmp_path):
    damaged(tmp_path, {"0.json": GOOD, "2.json": '"c"\t3\n'}, r"1\.json: missing, yet shards up to 2")


def test_gz_that_is_not_gzip(tmp_path):
    damaged(tmp_path, {"0.json.gz": GOOD}, r"0\.json\.gz: not a valid gzip file")


def test_manifest_damage(tmp_path):
    damaged(tmp_path, {"tastypy.manifest.json": '{"format": 1, "shards": ['}, "manifest is not JSON")


def written(tmp_path) -> Path:
    """A folder with shards and a journal of two batches."""
    folder = tmp_path / "w"
    store = Store(folder, file_size=2)
    store.commit([("a", "1"), ("b", "2"), ("c", "3")])
    store.commit([("a", "10")])
    store.commit([("d", "4")])
    store.close()
    return folder


def test_missing_shard_named_by_the_manifest(tmp_path):
    folder = written(tmp_path)
    shard = json.loads((folder / "tastypy.manifest.json").read_text())["shards"][1]
    (folder / shard).unlink()
    for readonly in (True, False):
        with pytest.raises(IntegrityError, match=rf"{shard}: missing, yet tastypy.manifest.json lists it"):
            Store(folder, read_only=readonly)


def journal_of(folder: Path) -> Path:
    return folder / json.loads((folder / "tastypy.manifest.json").read_text())["journal"]


def test_bad_batch_followed_by_a_good_one(tmp_path):
    folder = written(tmp_path)
    journal = journal_of(folder)
    journal.write_bytes(journal.read_bytes().replace(b'"a"\t10', b'"a"\t99'))
    for readonly in (True, False):
        with pytest.raises(IntegrityError, match=rf"{journal.name} line 1: a commit that does not match"):
            Store(folder, read_only=readonly)


@pytest.mark.parametrize("cut", [1, 10, 30])
def test_torn_journal_tail_is_an_interrupted_commit(tmp_path, cut):
    folder = written(tmp_path)
    journal = journal_of(folder)
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-cut])
    expected = [("a", "10"), ("b", "2"), ("c", "3")]
    assert Store(folder, read_only=True).load() == expected
    assert journal.read_bytes() == whole[:-cut]  # a reader changes nothing
    store = Store(folder)
    assert store.load() == expected
    assert len(journal.read_bytes()) < len(whole) - cut  # the writer cut the tail off
    store.commit([("e", "5")])
    store.close()
    assert Store(folder, read_only=True).load() == expected + [("e", "5")]


def test_messages_are_never_bare_json_errors(tmp_path):
    error = damaged(tmp_path, {"0.json": '"a"\t{\n'}, "not valid JSON")
    assert not isinstance(error, ValueError) and error.__cause__ is None


def test_legacy_fixture_reads_as_it_is(tmp_path):
    reader = Store(LEGACY, read_only=True, file_size=2)
    assert decoded(reader) == LEGACY_PAIRS
    assert [type(k) for k, _ in reader.load()] == [str, int, tuple, str, tuple]
    assert sorted(p.name for p in LEGACY.iterdir()) == ["0.json", "1.json", "2.json"]


def test_writer_adopts_a_legacy_folder_without_changing_it(tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(LEGACY, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    store = Store(folder, file_size=2)
    assert decoded(store) == LEGACY_PAIRS
    manifest = json.loads((folder / "tastypy.manifest.json").read_text())
    assert manifest["shards"] == ["0.json", "1.json", "2.json"] and manifest["next"] == 4
    assert {name: (folder / name).read_bytes() for name in before} == before
    store.commit([(3, "4"), ("new", "5")])
    store.close()
    reopened = Store(folder, file_size=2)
    assert decoded(reopened)[1] == (3, 4)
    assert decoded(reopened)[-1] == ("new", 5)
    reopened.close()


def test_gzipped_legacy_folder(tmp_path):
    folder = tmp_path / "gz"
    folder.mkdir()
    for src in LEGACY.iterdir():
        (folder / f"{src.name}.gz").write_bytes(gzip.compress(src.read_bytes()))
    reader = Store(folder, read_only=True)  # gzipped=False, but the files say otherwise
    assert reader.gzipped and decoded(reader) == LEGACY_PAIRS
    store = Store(folder, file_size=2)
    store.commit([(f"k{i}", str(i)) for i in range(5)])
    store.close()
    shards = json.loads((folder / "tastypy.manifest.json").read_text())["shards"]
    assert len(shards) == 5 and all(name.endswith(".json.gz") for name in shards)
    assert len(Store(folder, read_only=True).load()) == 10


def test_missing_commit_in_the_journal(tmp_path):
    folder = written(tmp_path)
    journal = journal_of(folder)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[2:]))  # drop the first batch (a line and its record)
    with pytest.raises(IntegrityError, match=rf"{journal.name} line 2: commit 2 follows commit 0"):
        Store(folder, read_only=True)


def test_writer_removes_only_its_own_leftovers(tmp_path):
    folder = written(tmp_path)
    leftovers = ["99.json", "98.json.gz", "journal.97.log", "tastypy.manifest.json.123.ab12.tmp"]
    for name in leftovers + ["README", "notes.tmp", "5.json.bak"]:
        (folder / name).write_text("x")
    Store(folder, read_only=True).close()
    assert all((folder / name).exists() for name in leftovers)  # readers write nothing
    Store(folder).close()
    assert not any((folder / name).exists() for name in leftovers)
    assert all((folder / name).exists() for name in ["README", "notes.tmp", "5.json.bak"])
