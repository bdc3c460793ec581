"""A commit that fails (full disk, I/O error, Ctrl-C) changes nothing, on disk or in memory."""

from __future__ import annotations

import builtins
import errno
import os
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tastypy.store import DELETE, Store

BEFORE = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]
# Small: journaled. Large (more than file_size lines): compacted into new shards.
SMALL = [("b", "20"), ("a", DELETE), ("e", "5")]
LARGE = [("b", "20"), ("a", DELETE)] + [(f"n{i}", str(i)) for i in range(6)]
JOURNAL_CALLS = ["os.write", "os.fdatasync"]
# Shards are created with os.open (no link followed) and checked with os.fstat.
COMPACTION_CALLS = ["os.write", "os.fsync", "os.replace", "os.open", "os.fstat"]


def expected(changes, before=BEFORE):
    """What a dict holding ``before`` holds after ``changes``, as pairs."""
    model = dict(before)
    for key, text in changes:
        if text is DELETE:
            model.pop(key, None)
        else:
            model[key] = text
    return list(model.items())


def failing_on(target: str, call: int, exc: BaseException):
    """A stand-in for ``target`` that raises ``exc`` on its ``call``-th call only."""
    module, name = target.split(".")
    real = getattr(builtins if module == "builtins" else os, name)
    count = [0]

    def fake(*args, **kwargs):
        count[0] += 1
        if count[0] == call:
            raise exc
        return real(*args, **kwargs)

    return mock.patch(target, fake), count


def opened(tmp_path):
    store = Store(tmp_path / "s", file_size=4)
    store.commit(BEFORE)
    store.commit([("c", "3")])  # a journaled batch, so compaction also drops a journal
    return store


def check_failure_leaves_previous_state(tmp_path, target, call, exc, changes):
    store = opened(tmp_path)
    patch, count = failing_on(target, call, exc)
    with patch:
        with pytest.raises(type(exc)) as raised:
            store.commit(changes)
    assert raised.value is exc  # the original exception, not a wrapper
    folder = tmp_path / "s"
    assert not list(folder.glob("*.tmp"))
    assert store.load() == BEFORE
    assert Store(folder, read_only=True).load() == BEFORE
    store.commit(changes)  # the retry works
    assert store.load() == expected(changes)
    store.close()
    assert Store(folder, read_only=True).load() == expected(changes)
    reopened = Store(folder)
    assert reopened.load() == expected(changes)
    reopened.close()


@pytest.mark.parametrize(
    ("changes", "target"),
    [(SMALL, target) for target in JOURNAL_CALLS] + [(LARGE, target) for target in COMPACTION_CALLS],
    ids=[f"journal-{t}" for t in JOURNAL_CALLS] + [f"compaction-{t}" for t in COMPACTION_CALLS],
)
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EACCES])
def test_failing_call(tmp_path, changes, target, code):
    exc = OSError(code, os.strerror(code))
    check_failure_leaves_previous_state(tmp_path, target, 1, exc, changes)


@pytest.mark.parametrize("target", COMPACTION_CALLS)
def test_every_step_of_a_compaction(tmp_path, target):
    """Fail the 1st, 2nd, … call in turn: every step of a compaction rolls back."""
    call = 1
    while True:
        exc = OSError(errno.EIO, "injected")
        patch, count = failing_on(target, call, exc)
        store = opened(tmp_path / str(call))
        with patch:
            try:
                store.commit(LARGE)
            except OSError as raised:
                assert raised is exc
            else:
                store.close()
                break
        store.close()
        check_failure_leaves_previous_state(tmp_path / f"{call}b", target, call, exc, LARGE)
        call += 1
    assert call > 1, f"a compaction never called {target}"


@pytest.mark.parametrize("changes", [SMALL, LARGE], ids=["journal", "compaction"])
def test_keyboard_interrupt_during_sync(tmp_path, changes):
    target = "os.fdatasync" if changes is SMALL else "os.replace"
    check_failure_leaves_previous_state(tmp_path, target, 1, KeyboardInterrupt(), changes)


def test_after_a_failed_fsync_the_journal_is_not_trusted(tmp_path):
    store = opened(tmp_path)
    journal = store._snap.manifest["journal"]
    with mock.patch("os.fdatasync", side_effect=OSError(errno.EIO, "injected")):
        with pytest.raises(OSError):
            store.commit(SMALL)
    store.commit(SMALL)
    assert store._snap.manifest["journal"] != journal  # compacted to a fresh journal
    assert not (tmp_path / "s" / journal).exists()
    store.close()
    assert Store(tmp_path / "s", read_only=True).load() == expected(SMALL)


KEYS = ["a", "b", "c", "d", "e", "f", "g", "h", "x", "y"]


@settings(max_examples=150, deadline=None)
@example(batch=[("d", "1"), ("d", DELETE)])  # added then deleted: the index must not trip
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(KEYS), st.one_of(st.just(DELETE), st.sampled_from(["1", "2"]))),
        min_size=1,
        max_size=12,
    )
)
def test_any_failed_commit_restores_memory_exactly(tmp_path_factory, batch):
    # Replaces, adds, deletes and re-adds mixed in one batch, in slots of 3.
    store = Store(tmp_path_factory.mktemp("s") / "s", file_size=3)
    store.commit([(key, "0") for key in KEYS[:8]])
    store.commit([("b", "9"), ("d", DELETE)])
    before = store.load()
    error = OSError(errno.EIO, "I/O error")
    with mock.patch("os.fdatasync", side_effect=error), mock.patch("os.fsync", side_effect=error):
        with pytest.raises(OSError):
            store.commit(batch)
    assert store.load() == before
    store.commit(batch)
    assert store.load() == expected(batch, before)
    store.close()
    assert Store(store.path, read_only=True).load() == expected(batch, before)
