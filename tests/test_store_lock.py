"""One writer per folder, across processes; readers never wait and never block it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from store_helpers import CHILD_TIMEOUT, child_env, kill, wait_ready
from tastypy.errors import LockedError
from tastypy.store import Store, writer_pid

HOLD = """
import sys, time
from pathlib import Path
from tastypy.store import Store
store = Store(Path(sys.argv[1]))
store.commit([("held", "1")])
print("ready", flush=True)
time.sleep(60)
"""

OPEN_WRITER = """
import sys
from pathlib import Path
from tastypy.store import Store
Store(Path(sys.argv[1]))
"""


def start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
    )


def test_second_writer_in_another_process_fails_at_once(tmp_path):
    store = Store(tmp_path / "s")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", OPEN_WRITER, str(tmp_path / "s")],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=child_env(),
    )
    assert time.monotonic() - started < 5
    assert result.returncode != 0
    assert "LockedError" in result.stderr
    assert str(tmp_path / "s") in result.stderr and str(os.getpid()) in result.stderr
    store.close()


def test_lock_is_free_after_the_holder_is_killed(tmp_path):
    holder = start(HOLD, str(tmp_path / "s"))
    try:
        wait_ready(holder)
        assert writer_pid(tmp_path / "s") == holder.pid
        with pytest.raises(LockedError, match=str(holder.pid)):
            Store(tmp_path / "s")
        reader = Store(tmp_path / "s", read_only=True)  # a reader opens meanwhile
        assert reader.load() == [("held", "1")]
        assert reader.info()["writer_pid"] == holder.pid
    finally:
        kill(holder)
    assert writer_pid(tmp_path / "s") is None
    store = Store(tmp_path / "s")
    assert store.load() == [("held", "1")]
    store.close()


def test_close_releases_the_lock(tmp_path):
    store = Store(tmp_path / "s")
    assert writer_pid(tmp_path / "s") == os.getpid()
    with pytest.raises(LockedError):
        Store(tmp_path / "s")
    store.close()
    assert writer_pid(tmp_path / "s") is None
    Store(tmp_path / "s").close()


def test_a_forked_child_neither_holds_nor_uses_the_lock(tmp_path):
    store = Store(tmp_path / "s")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: may not write, then waits while the parent reopens
        code = 0
        try:
            store.commit([("a", "1")])
        except LockedError:
            code = 7
        os.write(write_end, b"x")
        time.sleep(2)
        os._exit(code)
    try:
        assert os.read(read_end, 1) == b"x"
        store.close()
        Store(tmp_path / "s").close()  # free although the child still has the fd
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(read_end)
        os.close(write_end)
    assert os.waitstatus_to_exitcode(status) == 7
    assert Store(tmp_path / "s", read_only=True).load() == []


def test_reader_never_writes(tmp_path):
    Store(tmp_path / "s").close()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()}
    reader = Store(tmp_path / "s", read_only=True)
    reader.load()
    reader.info()
    reader.close()
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s").iterdir()} == before
