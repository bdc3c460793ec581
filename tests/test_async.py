"""The asyncio faces: one suite over a folder (AsyncTracker), a shared server (AsyncSharedTracker) and Redis.

Each test runs its coroutines with ``asyncio.run(..., debug=True)``: a
callback that holds the loop too long, a task never awaited or a
coroutine never run is reported.
"""

from __future__ import annotations

import ast
import asyncio
import os
import random
import subprocess
import threading
import time

import pytest
from helpers import fresh_items, run_py, start_py
from test_shared_support import LEASE, _session_servers

import tastypy
import tastypy.aio

HOSTS = ["folder", "shared", "redis"]

#: The lease of the Redis objects of this suite. Their renewer is a task on
#: the loop (renewing every quarter of the lease), and under asyncio's debug
#: mode one turn of a loop with 200 ready tasks can take a second here (every
#: future records its stack): a 1 s lease would break the rule the docs give
#: (never block the loop for most of a lease). tests/test_async_redis.py
#: tests the leases themselves.
REDIS_LEASE = 10.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120), debug=True)


class Place:
    """Where one test's async objects live: a folder, a shared server's folder, or a name on Redis."""

    def __init__(self, kind: str, folder, url: str | None = None) -> None:
        self.kind, self.folder, self.url = kind, folder, url

    def _make(self, tracker: bool, where, options):
        if self.kind == "redis":
            options.pop("sync_at", None)  # nothing to sync: every call is on the server
            cls = tastypy.AsyncRedisTracker if tracker else tastypy.AsyncRedisPOD
            url, name = (self.url, "t") if where is None else (where, "t")
            return cls(url, name, lease=REDIS_LEASE, **options)
        if self.kind == "folder":
            cls = tastypy.AsyncTracker if tracker else tastypy.AsyncPOD
        else:
            cls = tastypy.AsyncSharedTracker if tracker else tastypy.AsyncSharedPOD
        return cls(self.folder if where is None else where, **options)

    def tracker(self, where=None, **options):
        return self._make(True, where, options)

    def pod(self, where=None, **options):
        return self._make(False, where, options)

    def fresh(self, tracker: bool = False) -> list:
        """The ``(key, value)`` pairs a brand-new process reads back."""
        if self.kind != "redis":
            return fresh_items(self.folder)
        result = run_py(
            """
            import sys, tastypy
            cls = tastypy.RedisTracker if sys.argv[3] else tastypy.RedisPOD
            pod = cls(sys.argv[1], sys.argv[2])
            print(repr([(k, tastypy.unwrap(v)) for k, v in pod.items()]))
            pod.close()
            """,
            self.url,
            "t",
            "1" if tracker else "",
        )
        assert result.returncode == 0, result.stderr
        return ast.literal_eval(result.stdout)

    @property
    def where(self) -> str:
        """One command-line argument naming the place."""
        return f"{self.url}#t" if self.kind == "redis" else str(self.folder)


@pytest.fixture(params=HOSTS)
def place(request, folder) -> Place:
    if request.param == "redis":
        _session_servers.add(request.getfixturevalue("redis_server").process.pid)
        return Place("redis", folder, request.getfixturevalue("redis_url"))
    return Place(request.param, folder)


# -- behaviour, as the sync faces ---------------------------------------------------


def test_pod_writes_are_read_back_by_a_fresh_process_and_values_read_are_copies(place):
    async def main():
        async with place.pod() as p:
            await p.setitem("a", {"tags": [1]})
            await p.update({"b": 2}, c=3)
            copy = await p.getitem("a")
            copy["tags"].append(99)  # a copy: changes nothing stored
            async with p.changes() as c:
                c["a"]["tags"].append(2)
                c["a"]["n"] = 1
            assert await p.get("zz", "missing") == "missing"
            assert await p.contains("b") and await p.length() == 3
            assert [k async for k in p] == ["a", "b", "c"]
            assert [v async for v in p.values()][1:] == [2, 3]
            assert await p.pop("c") == 3
            with pytest.raises(KeyError):
                await p.getitem("c")
            with pytest.raises(TypeError, match="set"):
                await p.setitem("bad", {1, 2})  # not JSON data: refused, nothing stored
            assert await p.equals({"a": {"tags": [1, 2], "n": 1}, "b": 2})

    run(main())
    assert place.fresh() == [("a", {"tags": [1, 2], "n": 1}), ("b", 2)]


def test_tracker_records_counters_and_failures_match_the_sync_tracker(place, tmp_path):
    def work_sync(t):
        t.add_many(["a", "b", "c", "d"])
        t.mark_done("a")
        t.abort("b")
        for key in t.try_keys(max_wait=0):
            if key == "c":
                t.mark_failed(key, TimeoutError("slow"))
            else:
                with t.attempt(key):
                    pass

    async def work_async(t):
        await t.add_many(["a", "b", "c", "d"])
        await t.mark_done("a")
        await t.abort("b")
        async for key in t.try_keys(max_wait=0):
            if key == "c":
                await t.mark_failed(key, TimeoutError("slow"))
            else:
                async with t.attempt(key):
                    pass
        return [await t.num_done(), await t.num_tried(), await t.num_aborted(), await t.tries("c")]

    sync = tastypy.Tracker(tmp_path / "sync", max_tries=1)
    work_sync(sync)
    expected = [sync.num_done(), sync.num_tried(), sync.num_aborted(), sync.tries("c")]
    sync.close()

    async def main():
        async with place.tracker(max_tries=1) as t:
            assert t.max_tries == 1
            return await work_async(t)

    assert run(main()) == expected

    def strip(items):  # times differ between runs
        for _, record in items:
            if "_error" in record:
                record["_error"] = {k: v for k, v in record["_error"].items() if k in ("type", "message")}
        return items

    assert strip(place.fresh(tracker=True)) == strip(fresh_items(tmp_path / "sync"))


def test_an_error_of_the_host_reaches_the_coroutine_that_made_it(place):
    async def main():
        async with place.tracker() as t:
            await t.add("a")
            with pytest.raises(tastypy.DuplicateKeyError):
                await t.add_many(["b", "a"])
            assert await t.length() == 1  # refused whole
            with pytest.raises(KeyError):
                await t.mark_done("nope")

    run(main())


def test_a_closed_or_unopened_face_says_what_to_do(place):
    async def main():
        t = place.tracker()
        with pytest.raises(ValueError, match="not open"):
            await t.add("a")
        await t.open()
        await t.aclose()
        with pytest.raises(ValueError, match="closed"):
            await t.add("a")

    run(main())


# -- claims ----------------------------------------------------------------------------


def test_200_coroutines_in_their_own_loops_never_hold_the_same_key(place):
    async def main():
        async with place.tracker(sync_at=50) as t:
            await t.add_many(range(2000))
            held: set = set()
            seen: list = []

            async def worker():
                async for key in t.try_keys():
                    assert key not in held
                    held.add(key)
                    await asyncio.sleep(random.random() / 1000)
                    held.discard(key)
                    seen.append(key)
                    await t.mark_done(key)

            await asyncio.gather(*(worker() for _ in range(200)))
            assert sorted(seen) == list(range(2000))
            assert await t.num_done() == 2000

    run(main())


def test_a_cancelled_or_raising_coroutine_gives_its_claim_back(place):
    async def main():
        async with place.tracker() as t:
            await t.add_many(["a", "b"])
            got = asyncio.Event()

            async def stuck():
                async for key in t.try_keys():
                    assert key == "a"
                    got.set()
                    await asyncio.sleep(3600)

            task = asyncio.create_task(stuck())
            await got.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

            async def raising():
                async for _key in t.try_keys():
                    raise RuntimeError("boom")

            with pytest.raises(RuntimeError):
                await raising()  # it was handed "a" again, or "b"
            await asyncio.sleep(0.05)  # the claims given back (sent without waiting) arrive
            rest = [key async for key in t.try_keys()]
            assert sorted(rest) == ["a", "b"]

            # In an attempt, cancellation is no failure: the try is given back.
            await t.add("c")
            entered = asyncio.Event()

            async def trying():
                async with t.attempt("c"):
                    entered.set()
                    await asyncio.sleep(3600)

            task = asyncio.create_task(trying())
            await entered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.05)
            record = await t.getitem("c")
            assert record["_tries"] == 0 and "_error" not in record and not record["_done"]

    run(main())


# -- the loop never waits ------------------------------------------------------------------


def test_no_fsync_runs_on_the_event_loops_thread(folder, monkeypatch):
    calls: list = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)

        def recording(fd, real=real):
            calls.append(threading.get_ident())
            return real(fd)

        monkeypatch.setattr(os, name, recording)

    async def main():
        loop_thread = threading.get_ident()
        async with tastypy.AsyncTracker(folder, sync_at=10) as t:
            await t.add_many(range(500))

            async def worker():
                async for key in t.try_keys():
                    await asyncio.sleep(0)
                    await t.mark_done(key)
                    await t.sync()

            await asyncio.gather(*(worker() for _ in range(50)))
            syncs = t._link.syncs
        return loop_thread, syncs

    loop_thread, _ = run(main())
    assert calls, "the workload synced"
    assert loop_thread not in calls


def test_coroutines_awaiting_durability_together_share_syncs(folder, monkeypatch):
    for name in ("fsync", "fdatasync"):  # as slow as a disk's, whatever the test's folder is on
        real = getattr(os, name)

        def slow(fd, real=real):
            time.sleep(0.005)
            return real(fd)

        monkeypatch.setattr(os, name, slow)

    async def main():
        async with tastypy.AsyncPOD(folder) as p:

            async def write(i):
                await p.setitem(i, i)
                await p.sync()  # on disk when this returns

            before = p._link.syncs
            await asyncio.gather(*(write(i) for i in range(200)))
            return p._link.syncs - before

    # Without debug mode: its bookkeeping slows each task step so much that
    # the writer keeps up with the requests one by one, and has nothing to group.
    syncs = asyncio.run(main())
    assert 1 <= syncs < 50, syncs  # one per batch, not one per coroutine
    assert fresh_items(folder) == [(i, i) for i in range(200)]


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def test_nothing_is_left_after_aclose(place):
    threads_before = set(threading.enumerate())
    sockets_before = _sockets()

    async def main():
        t = await place.tracker().open()
        await t.add_many(range(50))

        async def worker():
            async for key in t.try_keys():
                if place.kind == "redis":  # renewed by a task: no thread, even holding claims
                    assert set(threading.enumerate()) <= threads_before
                await t.mark_done(key)

        await asyncio.gather(*(worker() for _ in range(10)))
        await t.aclose()
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main(), debug=True)  # not run(): its wait_for is a task of its own
    assert set(threading.enumerate()) <= threads_before
    assert _sockets() <= sockets_before


# -- a kill at any moment ------------------------------------------------------------------

CRAWL = """
import asyncio, os, random, sys, tastypy
where, log, cls = sys.argv[1], sys.argv[2], getattr(tastypy, sys.argv[3])
out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
def note(line):
    os.write(out, (line + "\\n").encode())
async def main():
    if "Redis" in sys.argv[3]:
        url, name = where.rsplit("#", 1)
        opened = cls(url, name, max_tries=3, lease=float(sys.argv[4]))
    else:
        opened = cls(where, max_tries=3, sync_at=1)
    async with opened as t:
        await t.add_many_if_absent(range(5000))
        async def worker():
            async for key in t.try_keys():
                note(f"start {key}")
                await asyncio.sleep(random.random() / 100)
                if random.random() < 0.2:
                    await t.mark_failed(key, RuntimeError("flaky"), retry_after=0.01)
                else:
                    await t.mark_done(key)
                    note(f"done {key}")
        await asyncio.gather(*(worker() for _ in range(50)))
    note("finished")
asyncio.run(main())
"""


def test_sigkill_at_random_moments_then_resume(place, tmp_path):
    cls = {"folder": "AsyncTracker", "shared": "AsyncSharedTracker", "redis": "AsyncRedisTracker"}[place.kind]
    log = tmp_path / "log"
    rng = random.Random(7)
    kills = 0
    for _ in range(8):
        child = start_py(CRAWL, place.where, str(log), cls, str(LEASE))
        try:
            child.wait(rng.uniform(0.25, 1.0))
        except subprocess.TimeoutExpired:
            child.kill()
            kills += 1
        child.wait(60)
        if log.exists() and log.read_text().endswith("finished\n"):
            break
    assert kills >= 3, "the crawl was killed mid-way"
    if place.kind == "redis":
        time.sleep(1.5 * LEASE)  # the killed process's claims expire
    child = start_py(CRAWL, place.where, str(log), cls, str(LEASE))
    assert child.wait(120) == 0, child.stderr.read()

    lines = log.read_text().split("\n")
    done_at: dict = {}
    for index, line in enumerate(lines):
        word, _, key = line.partition(" ")
        if word == "done":
            done_at.setdefault(key, index)
        elif word == "start" and key in done_at:
            raise AssertionError(f"key {key} started again after its mark_done returned")

    check = run_py(
        """
        import sys, tastypy
        if sys.argv[1].startswith("unix:"):
            url, name = sys.argv[1].rsplit("#", 1)
            t = tastypy.RedisTracker(url, name, max_tries=3)
        else:
            t = tastypy.Tracker(sys.argv[1], max_tries=3)
        records = dict(t.items())
        assert all(r["_tries"] <= 3 for r in records.values()), "over max_tries"
        assert t.num_done() == sum(r["_done"] for r in records.values())
        assert t.num_tried() == sum(r["_tries"] > 0 for r in records.values())
        assert t.num_aborted() == sum(r["_aborted"] for r in records.values())
        # A key killed in flight on its last try keeps its tries and is tried no more.
        left = {k: r for k, r in records.items() if not (r["_done"] or r["_aborted"] or r["_tries"] == 3)}
        assert not left, f"work left: {left}"
        print(len(records))
        """,
        place.where,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "5000"


def test_a_failed_open_leaves_no_thread_and_says_why(place, tmp_path):
    threads_before = set(threading.enumerate())
    (tmp_path / "file").write_text("not a folder")

    async def main():
        with pytest.raises((OSError, ValueError, tastypy.TastypyError)):
            bad = f"unix://{tmp_path}/no.sock" if place.kind == "redis" else tmp_path / "file"
            await place.tracker(bad).open()

    asyncio.run(main(), debug=True)
    assert set(threading.enumerate()) <= threads_before


def test_locked_keeps_the_other_tasks_calls_out_for_the_block(place):
    async def main():
        async with place.pod() as p:
            await p.setitem("n", 0)
            order: list = []

            async def bump(name):
                async with p.locked():
                    n = await p.getitem("n")
                    await asyncio.sleep(0.01)  # another task's setitem would land here
                    await p.setitem("n", n + 1)
                    order.append(name)

            async def reader():
                await asyncio.sleep(0.002)
                order.append(("read", await p.getitem("n")))

            await asyncio.gather(bump("a"), bump("b"), reader())
            assert await p.getitem("n") == 2
            assert order[0] == "a" and ("read", 0) not in order[:1]
            assert await p.lock(timeout=0)  # free: taken at once

            async def other():
                return await p.lock(timeout=0.05)

            assert await asyncio.create_task(other()) is False  # held by this task
            await p.unlock()

    run(main())


def test_an_async_object_over_a_shared_tracker_made_elsewhere(folder):
    shared = tastypy.SharedTracker(folder)
    shared.add_many(range(100))

    async def main():
        async with tastypy.AsyncSharedTracker.over(shared) as t:
            seen = []

            async def worker():
                async for key in t.try_keys():
                    seen.append(key)
                    await t.mark_done(key)

            await asyncio.gather(*(worker() for _ in range(20)))
            return sorted(seen)

    try:
        assert run(main()) == list(range(100))
        assert shared.num_done() == 100  # its aclose() left the server to the others
    finally:
        shared.close()


def test_a_sync_loop_and_an_async_loop_of_one_process_never_hold_the_same_key(folder):
    shared = tastypy.SharedTracker(folder)
    shared.add_many(["a", "b"])
    loop = shared.try_keys()
    held = next(loop)  # this loop holds its key until it asks again (or is closed)

    async def main():
        async with tastypy.AsyncSharedTracker.over(shared) as t:
            async for key in t.try_keys():
                return key
        return None

    try:
        assert (held, run(main())) == ("a", "b")
        loop.close()
    finally:
        shared.close()
