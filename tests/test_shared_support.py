"""Helpers of the SharedPOD tests: contexts, bounded process runs, no orphans."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from typing import Any

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


#: The session's redis-server, started by the first test that needs it.
_session_servers: set = set()


def _helpers() -> set:
    # multiprocessing's own long-lived helpers, started once per session.
    from multiprocessing import forkserver, resource_tracker

    pids = {getattr(forkserver._forkserver, "_forkserver_pid", None)}
    pids.add(getattr(resource_tracker._resource_tracker, "_pid", None))
    return pids | _session_servers


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


# -- one behaviour test, both hosts ----------------------------------------------------

#: Seconds a Redis claim or lock outlives its holder in the tests of both faces.
LEASE = 1.0


class Faces:
    """Makes SharedPODs/SharedTrackers, or RedisPODs/RedisTrackers: one test, both hosts."""

    def __init__(self, kind: str, where: Any) -> None:
        self.kind, self.where = kind, where
        self.made: list = []
        self._names = itertools.count()

    @property
    def link(self) -> type:
        """The class whose ``call`` every operation of this face goes through."""
        if self.kind == "shared":
            from tastypy.shared.link import Link

            return Link
        from tastypy.redis.link import RedisLink

        return RedisLink

    def pod(self, init: Any = None) -> Any:
        import tastypy

        name = f"p{next(self._names)}"
        if self.kind == "shared":
            made = tastypy.SharedPOD(self.where / name, init=init)
        else:
            made = tastypy.RedisPOD(self.where, name, init=init, lease=LEASE)
        self.made.append(made)
        return made

    def tracker(self, max_tries: int = 0, init: Any = None) -> Any:
        import tastypy

        name = f"t{next(self._names)}"
        if self.kind == "shared":
            made = tastypy.SharedTracker(self.where / name, max_tries=max_tries, init=init)
        else:
            made = tastypy.RedisTracker(self.where, name, max_tries=max_tries, init=init, lease=LEASE)
        self.made.append(made)
        return made

    def orphans_free(self) -> None:
        """Wait until a dead worker's key is free: its socket closing (shared), its lease (Redis)."""
        time.sleep(1.5 * LEASE if self.kind == "redis" else 0.2)

    def close(self) -> None:
        for made in self.made:
            made.close()


@pytest.fixture(name="face", params=["shared", "redis"])
def face_fixture(request, tmp_path):
    """A maker of PODs and Trackers on one host: a SharedPOD server, or the session's redis-server."""
    where = tmp_path
    if request.param == "redis":
        where = request.getfixturevalue("redis_url")
        _session_servers.add(request.getfixturevalue("redis_server").process.pid)
    faces = Faces(request.param, where)
    yield faces
    faces.close()
