"""commit() then load() gives what the same operations give on a dict, across reopens."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tastypy.store import DELETE, Store, folder as store_folder

KEYS = [
    "a", "b", "é", "tab\there", 'quo"te', "back\\slash", "new\nline", "", "0",
    0, 1, -7, 10**20,
    ("a",), ("a", 1), ("a", ("b", (2,))), (), (1, "1"),
]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_commit_orders_like_a_dict(tmp_path):
    store = Store(tmp_path / "s", file_size=2)
    store.commit([("a", "1"), ("b", "2"), ("c", "3")])
    store.commit([("b", "20"), ("a", DELETE), ("d", "4"), ("a", "10"), ("zz", DELETE)])
    expected = [("b", "20"), ("c", "3"), ("d", "4"), ("a", "10")]
    assert store.load() == expected
    store.close()
    assert Store(tmp_path / "s", read_only=True).load() == expected


def test_keys_keep_their_type(tmp_path):
    store = Store(tmp_path / "s")
    store.commit([(key, str(i)) for i, key in enumerate(KEYS)])
    store.close()
    loaded = Store(tmp_path / "s", read_only=True).load()
    assert [k for k, _ in loaded] == KEYS
    assert [type(k) for k, _ in loaded] == [type(k) for k in KEYS]


def test_folder_and_attributes(tmp_path):
    path = tmp_path / "x" / "y"
    store = Store(path, gzipped=True, file_size=7)
    assert (store.path, store.read_only, store.gzipped, store.file_size) == (path, False, True, 7)
    store.commit([(i, "1") for i in range(20)])  # more than file_size: shards are written
    assert sorted(p.name for p in path.glob("*.json.gz"))
    info = store.info()
    assert info["entries"] == 20 and info["shards"] == 3 and info["gzipped"]
    assert info["bytes"] > 0 and info["last_sync"] is not None
    assert info["writer_pid"] == os.getpid()
    store.close()
    store.close()  # idempotent
    reader = Store(path, read_only=True, gzipped=False)
    assert reader.gzipped and reader.file_size == 7  # the folder's settings win
    assert reader.info()["writer_pid"] is None
    with pytest.raises(ValueError, match="closed"):
        store.commit([("a", "1")])


def test_bad_arguments(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        Store(tmp_path / "file")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Store(tmp_path / "missing", read_only=True)
    assert not (tmp_path / "missing").exists()
    store = Store(tmp_path / "s")
    for bad in [1.5, True, None, ("a", [1])]:
        with pytest.raises(TypeError, match="key"):
            store.commit([(bad, "1")])
    with pytest.raises(ValueError, match="newline"):
        store.commit([("a", "1\n2")])
    with pytest.raises(TypeError, match="JSON text"):
        store.commit([("a", 1)])
    assert store.load() == []


def test_reader_cannot_commit(tmp_path):
    from tastypy.errors import ReadOnlyError

    Store(tmp_path / "s").close()
    reader = Store(tmp_path / "s", read_only=True)
    with pytest.raises(ReadOnlyError):
        reader.commit([("a", "1")])
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(
        ["tastypy.lock", "tastypy.manifest.json", "journal.0.log"]
    )


class StoreMachine(RuleBasedStateMachine):
    """Random sets, replaces, deletes and re-adds; commits and reopens; compared to a model."""

    @initialize(
        gzipped=st.booleans(),
        file_size=st.sampled_from([1, 3, 8]),  # a batch larger than file_size compacts
        min_journal=st.sampled_from([0, 300, 1 << 20]),  # compact always, often, rarely
    )
    def open(self, gzipped, file_size, min_journal):
        self.tmp = Path(tempfile.mkdtemp())
        self.saved_min_journal = store_folder._MIN_JOURNAL
        store_folder._MIN_JOURNAL = min_journal
        self.options = {"gzipped": gzipped, "file_size": file_size}
        self.store = Store(self.tmp / "s", **self.options)
        self.model: OrderedDict = OrderedDict()
        self.pending: list = []

    @rule(key=st.sampled_from(KEYS), value=values)
    def set(self, key, value):
        self.pending.append((key, dumps(value)))

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key):
        self.pending.append((key, DELETE))

    @rule()
    def commit(self):
        for key, text in self.pending:
            if text is DELETE:
                self.model.pop(key, None)
            else:
                self.model[key] = text
        self.store.commit(self.pending)
        self.pending = []
        # A fresh reader replays the journal: checked after every commit.
        assert Store(self.tmp / "s", read_only=True).load() == list(self.model.items())

    @precondition(lambda self: not self.pending)
    @rule()
    def reopen(self):
        self.store.close()
        reader = Store(self.tmp / "s", read_only=True)
        assert reader.load() == list(self.model.items())
        self.store = Store(self.tmp / "s", **self.options)

    @invariant()
    def matches_model(self):
        assert self.store.load() == list(self.model.items())

    def teardown(self):
        self.store.close()
        store_folder._MIN_JOURNAL = self.saved_min_journal
        shutil.rmtree(self.tmp)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
