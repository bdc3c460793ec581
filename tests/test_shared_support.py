"""Helpers of the SharedPOD tests: contexts, bounded process runs, no orphans."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from tastypy.shared import client as shared_client

#: Seconds any one process of these tests may take.
JOIN = 60


def ctx(method: str):
    """The multiprocessing context of ``method``, or skip where it is missing."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    return multiprocessing.get_context(method)


def run_procs(context, target, argses, timeout: float = JOIN) -> None:
    """Run ``target`` once per args tuple in parallel; all must exit 0 in time."""
    procs = [context.Process(target=target, args=args) for args in argses]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
    late = [proc for proc in procs if proc.is_alive()]
    for proc in late:
        proc.kill()
        proc.join(10)
    assert not late, f"{len(late)} process(es) still running after {timeout} s"
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


def children() -> set:
    """Pids of this process's children, zombies included (from /proc)."""
    me, kids = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            kids.add(int(entry))
    return kids


def _helpers() -> set:
    # multiprocessing's own long-lived helpers, started once per session.
    from multiprocessing import forkserver, resource_tracker

    pids = {getattr(forkserver._forkserver, "_forkserver_pid", None)}
    pids.add(getattr(resource_tracker._resource_tracker, "_pid", None))
    return pids


def test_children_lists_a_child_until_it_is_reaped():
    proc = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    proc.start()
    assert proc.pid in children()
    proc.join(JOIN)
    assert proc.pid not in children()


@pytest.fixture(autouse=True)
def no_orphans():
    """Fail a test that leaves a process behind (and end that process)."""
    if not os.path.isdir("/proc"):
        yield
        return
    before = children()
    yield
    shared_client._stop_started()  # servers a failed test left open
    deadline = time.monotonic() + 10
    while True:
        multiprocessing.active_children()  # reaps the finished ones
        left = children() - before - _helpers()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    for proc in multiprocessing.active_children():
        proc.join(1)
    assert not left, f"processes left behind: {sorted(left)}"
