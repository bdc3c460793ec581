"""A writer SIGKILLed at random instants leaves exactly one whole commit; readers racing
a writer only ever see whole commits."""

from __future__ import annotations

import random
import time

import pytest

from store_helpers import crash_round, generation, kill, seed, start_writer, wait_ready
from tastypy.store import Store

NKEYS = 500


@pytest.mark.parametrize(
    ("file_size", "min_journal", "kills"),
    [
        (10, 1 << 20, 50),  # every commit is larger than file_size: compactions
        (1000, 64 * 1024, 20),  # journal appends, a compaction every dozen commits
    ],
)
def test_kill_at_any_instant_leaves_one_whole_commit(tmp_path, file_size, min_journal, kills):
    folder = tmp_path / "crash"
    seed(folder, file_size, NKEYS)
    rng = random.Random(file_size)
    last = 0
    for _ in range(kills):
        g = crash_round(folder, rng, file_size, NKEYS, min_journal)
        assert g >= last, "a completed commit was lost"
        last = g
    assert last > 0, "the writer never committed: the test proved nothing"
    # A writer opening after all those crashes cleans up, and the folder stays small.
    store = Store(folder, file_size=file_size)
    assert generation(store, NKEYS) == last
    store.close()
    names = [p.name for p in folder.iterdir()]
    assert not [n for n in names if n.endswith(".tmp")]
    assert len(names) <= NKEYS // file_size + 4, names


def test_reader_never_sees_half_a_commit(tmp_path):
    folder = tmp_path / "race"
    seed(folder, 20, 200)
    child = start_writer(folder, 20, 200, 16 * 1024)
    try:
        wait_ready(child)
        seen = set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            reader = Store(folder, read_only=True)
            seen.add(generation(reader, 200))
            reader.close()
        assert child.poll() is None, child.stderr.read().decode()
    finally:
        kill(child)
    assert len(seen) > 5, "the writer did not commit while the readers read"
