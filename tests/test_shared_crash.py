"""SharedPOD under SIGKILL: dead lock holders, dead creators, no orphan server."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from helpers import CHILD_TIMEOUT, fresh_items, start_py
from test_shared_support import JOIN, ctx, face_fixture, no_orphans  # noqa: F401  (fixtures)

import tastypy
from tastypy.store import writer_pid

pytestmark = pytest.mark.timeout(120)


def hold_lock_and_hang(shared, holding):
    shared.lock()
    holding.put(True)
    time.sleep(600)


def increment_under_lock(shared, times):
    for _ in range(times):
        with shared.locked():
            shared.set["n"] += 1


def test_a_lock_holder_killed_does_not_block_the_others(face):
    """On Redis the others wait out the dead holder's lease (short here)."""
    context = ctx("fork")
    with face.pod(init={"n": 0}) as shared:
        holding = context.Queue()
        holder = context.Process(target=hold_lock_and_hang, args=(shared, holding))
        holder.start()
        assert holding.get(timeout=JOIN)
        others = [context.Process(target=increment_under_lock, args=(shared, 10)) for _ in range(2)]
        for proc in others:
            proc.start()
        time.sleep(0.3)  # let them queue up behind the lock
        assert shared.lock(timeout=0) is False
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(JOIN)
        for proc in others:
            proc.join(JOIN)
        assert [proc.exitcode for proc in others] == [0, 0]
        assert shared["n"] == 20


CREATOR = """
    import sys, time, tastypy
    shared = tastypy.SharedPOD(sys.argv[1], sync_at=10**6)
    shared['synced'] = [1, 2]
    shared.sync()
    shared['later'] = True
    print(shared._server.pid, flush=True)
    if sys.argv[2] == 'wait':
        time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float) -> float:
    began = time.monotonic()
    while not _gone(pid):
        assert time.monotonic() - began < timeout, f"server {pid} still running after {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - began


def _start_creator(folder, how):
    creator = start_py(CREATOR, str(folder), how)
    line = creator.stdout.readline()
    assert line.strip().isdigit(), creator.communicate(timeout=CHILD_TIMEOUT)
    return creator, int(line)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_the_server_stops_when_its_creator_is_killed(folder, how):
    creator, server = _start_creator(folder, "wait")
    try:
        creator.send_signal(getattr(signal, how))
        creator.wait(CHILD_TIMEOUT)
        # The contract is 5 s; the limit here is loose for a busy machine.
        _wait_gone(server, 30)
    finally:
        creator.kill()
        creator.communicate(timeout=CHILD_TIMEOUT)
    assert fresh_items(folder) == [("synced", [1, 2]), ("later", True)]  # it synced on the way out
    assert writer_pid(folder) is None  # the folder is free again


def test_the_server_stops_when_its_creator_ends(folder):
    creator, server = _start_creator(folder, "end")
    _, err = creator.communicate(timeout=CHILD_TIMEOUT)
    assert creator.returncode == 0, err
    assert _gone(server)  # closed at exit, before the creator ended
    assert fresh_items(folder) == [("synced", [1, 2]), ("later", True)]


def lock_fork_and_hang(shared, out):
    shared.lock()
    grandchild = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,))
    grandchild.start()  # it inherits this process's socket to the server
    out.put(grandchild.pid)
    time.sleep(600)


def test_a_forked_child_does_not_keep_a_dead_holder_alive(tmp_path):
    context = ctx("fork")
    with tastypy.SharedPOD(tmp_path / "p") as shared:
        out = context.Queue()
        holder = context.Process(target=lock_fork_and_hang, args=(shared, out))
        holder.start()
        grandchild = out.get(timeout=JOIN)
        try:
            os.kill(holder.pid, signal.SIGKILL)
            # Not join(): it waits for a pipe that the grandchild holds open too.
            while holder.exitcode is None:
                time.sleep(0.01)
            assert shared.lock(timeout=JOIN) is True
            shared.unlock()
        finally:
            os.kill(grandchild, signal.SIGKILL)
            holder.join(JOIN)


HELD_CREATOR = """
    import multiprocessing, sys, time, tastypy

    def hold(shared, held):
        with shared.locked():
            held.set()
            time.sleep(600)

    shared = tastypy.SharedPOD(sys.argv[1], sync_at=10**6)
    shared['before'] = 1
    context = multiprocessing.get_context('fork')
    held = context.Event()
    holder = context.Process(target=hold, args=(shared, held), daemon=True)
    holder.start()
    assert held.wait(60)
    print(shared._server.pid, holder.pid, flush=True)
    if sys.argv[2] == 'wait':
        time.sleep(600)
"""


@pytest.mark.parametrize("how", ["end", "SIGTERM"])
def test_the_creator_exits_while_another_process_holds_the_lock(folder, how):
    creator = start_py(HELD_CREATOR, str(folder), "wait" if how == "SIGTERM" else "end")
    line = creator.stdout.readline()
    server, holder = (int(pid) for pid in line.split()) if line.strip() else (None, None)
    try:
        assert server is not None, creator.communicate(timeout=CHILD_TIMEOUT)
        if how == "SIGTERM":
            creator.send_signal(signal.SIGTERM)
        began = time.monotonic()
        creator.wait(30)  # TimeoutExpired here is the hang being tested
        assert time.monotonic() - began < 15
        _wait_gone(server, 15)
    finally:
        # The holder and the server hold the creator's stdout open too.
        for pid in (creator.pid, holder, server):
            if pid is not None and not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        creator.communicate(timeout=CHILD_TIMEOUT)
    assert fresh_items(folder) == [("before", 1)]  # it synced on the way out
    assert writer_pid(folder) is None
