"""One object, many threads, on every host: nothing lost, no key held twice.

Each test runs on a folder (``POD``/``Tracker``), a shared server
(``SharedPOD``/``SharedTracker``) and Redis (``RedisPOD``/``RedisTracker``),
with ``sys.setswitchinterval(1e-6)`` so that threads switch as often as the
interpreter allows, and what a *fresh process* reads back is the judge.
"""

from __future__ import annotations

import collections
import itertools
import random
import signal
import sys
import threading
import time

import pytest
from helpers import fresh_items, start_py
from hosts import host_fixture, recount  # noqa: F401  (fixture)
from test_shared_support import LEASE, no_orphans  # noqa: F401  (fixture)

import tastypy

pytestmark = pytest.mark.timeout(180)

#: Seconds any thread of these tests may take.
JOIN = 60


@pytest.fixture(autouse=True)
def _switch_often():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(target, count: int) -> None:
    """Run ``target(n)`` in ``count`` threads; every one must end in time without an error."""
    errors: list = []

    def guarded(n: int) -> None:
        try:
            target(n)
        except BaseException as error:  # reported below, with its thread
            errors.append((n, error))

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a thread did not end in time"
    assert not errors, f"threads raised: {errors[:3]}"


# -- nothing lost -------------------------------------------------------------------


def test_appends_of_many_threads_all_reach_the_disk(host):
    """The issue's loss: setdefault then a nested append, 8 threads, a small sync_at."""
    pod = host.pod()
    per_thread = 3000 if host.kind == "local" else 400

    def work(n: int) -> None:
        rnd = random.Random(n)
        for i in range(per_thread):
            key = f"k{rnd.randrange(200)}"
            pod.setdefault(key, {"hits": [], "n": 0})
            pod[key]["hits"].append(f"{n}-{i}")

    run_threads(work, 8)
    read = host.fresh(pod)
    hits = sorted(hit for value in read.values() for hit in value["hits"])
    assert hits == sorted(f"{n}-{i}" for n in range(8) for i in range(per_thread))


def test_random_mutations_of_many_threads_leave_exactly_the_models_state(host):
    """Assign, nested append, delete, setdefault, pop, update (and .set on a server),
    on keys of each thread's own and on keys all threads share."""
    pod = host.pod()
    pod.update({f"common{c}": {"log": [], "n": 0} for c in range(5)})
    per_thread = 600 if host.kind == "local" else 150
    models: list[dict] = [{} for _ in range(6)]
    appended: collections.Counter = collections.Counter()
    appended_lock = threading.Lock()

    def work(n: int) -> None:
        rnd = random.Random(1000 + n)
        mine = models[n]
        for i in range(per_thread):
            key = f"t{n}-{rnd.randrange(12)}"
            move = rnd.randrange(7)
            if move == 0:
                value = {"i": i, "tags": [n, i]}
                pod[key] = value
                mine[key] = {"i": i, "tags": [n, i]}
            elif move == 1:
                pod.setdefault(key, {"tags": []})
                mine.setdefault(key, {"tags": []})
            elif move == 2 and key in mine:
                pod[key]["tags"].append(i)
                mine[key]["tags"].append(i)
            elif move == 3 and key in mine:
                del pod[key]
                del mine[key]
            elif move == 4:
                assert pod.pop(key, None) == mine.pop(key, None)
            elif move == 5:
                pod.update({key: {"tags": [i]}})
                mine[key] = {"tags": [i]}
            else:
                common = f"common{rnd.randrange(5)}"
                if host.kind == "local":
                    pod[common]["log"].append(f"{n}-{i}")
                else:
                    pod.set[common]["log"].append(f"{n}-{i}")
                with appended_lock:
                    appended[common, f"{n}-{i}"] += 1

    run_threads(work, 6)
    read = host.fresh(pod)
    expected = {key: value for model in models for key, value in model.items()}
    assert {k: v for k, v in read.items() if not k.startswith("common")} == expected
    logged = collections.Counter((key, entry) for key in read if key.startswith("common") for entry in read[key]["log"])
    assert logged == appended


def test_a_proxy_kept_by_one_thread_and_changed_by_another_is_recorded(host):
    pod = host.pod()
    pod["k"] = {"l": []}
    kept = pod["k"]["l"]
    if host.kind == "local":
        kept.append("main")  # a local proxy is the POD's own value

    def other(n: int) -> None:
        for i in range(50):
            kept.append(f"other-{i}")

    run_threads(other, 1)
    read = host.fresh(pod)
    assert [x for x in read["k"]["l"] if x != "main"] == [f"other-{i}" for i in range(50)]


def test_iterating_while_other_threads_write_raises_nothing_and_reaches_added_keys(host):
    pod = host.pod()
    pod.update({f"old{i}": i for i in range(300)})
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set() and i < 5000:
            pod[f"w{n}-{i}"] = i
            if i % 3 == 0:
                pod.pop(f"w{n}-{i - 3}", None)
            i += 1

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in writers:
        thread.start()
    try:
        for _ in range(3):
            assert len(list(pod)) > 0
            assert all(isinstance(key, str) for key, _ in pod.items())
            assert sum(1 for _ in pod.values()) > 0
    finally:
        stop.set()
        for thread in writers:
            thread.join(JOIN)

    # Added meanwhile: reached by the same loop.
    seen = []
    for key in pod:
        seen.append(key)
        if key == "old0":
            adder = threading.Thread(target=pod.__setitem__, args=("added-during", 1))
            adder.start()
            adder.join(JOIN)
    assert "added-during" in seen


def test_locked_blocks_of_threads_exclude_each_other(host):
    pod = host.pod()
    pod["n"] = 0
    times = 200 if host.kind == "local" else 40

    def work(n: int) -> None:
        for _ in range(times):
            with pod.locked():
                value = pod["n"]
                time.sleep(0)
                pod["n"] = value + 1

    run_threads(work, 4)
    assert pod["n"] == 4 * times
    assert host.fresh(pod)["n"] == 4 * times


def test_lock_with_a_timeout_gives_up_while_another_thread_holds_it(host):
    pod = host.pod()
    holding, release = threading.Event(), threading.Event()

    def hold(n: int) -> None:
        with pod.locked():
            holding.set()
            release.wait(JOIN)

    holder = threading.Thread(target=hold, args=(0,))
    holder.start()
    try:
        assert holding.wait(JOIN)
        began = time.monotonic()
        assert pod.lock(timeout=0.2) is False
        assert time.monotonic() - began < 5
        with pytest.raises(RuntimeError):
            pod.unlock()  # this thread does not hold it
    finally:
        release.set()
        holder.join(JOIN)
    assert pod.lock(timeout=5) is True
    pod.unlock()


# -- try_keys() loops are claims ------------------------------------------------------


def _claims_never_overlap(spans) -> dict:
    by_key: dict = {}
    for key, began, ended in spans:
        by_key.setdefault(key, []).append((began, ended))
    for key, held in by_key.items():
        held.sort()
        for (_, end), (begin, _) in itertools.pairwise(held):
            assert end <= begin, f"key {key} was held by two loops at once"
    return by_key




def test_four_thread_loops_share_the_keys_and_try_each_once(host):
    tracker = host.tracker(max_tries=3)
    tracker.add_many(range(200))
    spans: list = []

    def work(n: int) -> None:
        for key in tracker.try_keys():
            began = time.monotonic()
            time.sleep(0.0005)
            ended = time.monotonic()
            tracker.mark_done(key)
            spans.append((key, began, ended))

    run_threads(work, 4)
    by_key = _claims_never_overlap(spans)
    assert sorted(by_key) == list(range(200))
    assert all(len(held) == 1 for held in by_key.values())
    assert {tracker.tries(key) for key in range(200)} == {1}
    assert (tracker.num_done(), tracker.num_tried(), tracker.num_aborted()) == recount(tracker) == (200, 200, 0)


def test_thread_loops_with_failures_never_exceed_max_tries(host):
    tracker = host.tracker(max_tries=2)
    tracker.add_many(range(120))
    spans: list = []

    def work(n: int) -> None:
        rnd = random.Random(n)
        for _ in range(3):  # later passes pick up what failed
            for key in tracker.try_items():
                began = time.monotonic()
                ok = rnd.random() < 0.5
                ended = time.monotonic()
                spans.append((key[0], began, ended))
                if ok:
                    tracker.mark_done(key[0])
                elif tracker.tries(key[0]) >= 2:
                    tracker.abort(key[0])

    run_threads(work, 4)
    _claims_never_overlap(spans)
    assert all(tracker.tries(key) <= 2 for key in range(120))
    assert all(tracker.done(key) or tracker.aborted(key) or tracker.tries(key) == 2 for key in range(120))
    assert (tracker.num_done(), tracker.num_tried(), tracker.num_aborted()) == recount(tracker)


def test_a_loop_left_early_gives_its_key_back_to_the_other_threads(host):
    tracker = host.tracker()
    tracker.add_many(["a", "b"])
    loop = tracker.try_keys()
    assert next(loop) == "a"
    got: list = []
    run_threads(lambda n: got.append(next(iter(tracker.try_keys()), None)), 1)
    assert got == ["b"]  # "a" is held by the first loop
    loop.close()
    run_threads(lambda n: got.append(next(iter(tracker.try_keys()), None)), 1)
    assert got[-1] in ("a", "b")  # both free again: the first to do comes first


# -- crashes and exits ----------------------------------------------------------------

_CRAWL = """
import os, sys, threading, time, tastypy
kind, where, name = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == 'local':
    tracker = tastypy.Tracker(os.path.join(where, name), max_tries=2, sync_at=7)
elif kind == 'shared':
    tracker = tastypy.SharedTracker(os.path.join(where, name), max_tries=2, sync_at=7)
else:
    tracker = tastypy.RedisTracker(where, name, max_tries=2, lease=1.0)
tracker.add_many_if_absent(range(300))
run = os.getpid()
def work():
    for key in tracker.try_keys():
        record = tracker[key]
        record['runs'] = record.get('runs', []) + [run]
        time.sleep(0.001)
        tracker.mark_done(key)
threads = [threading.Thread(target=work) for _ in range(4)]
for thread in threads:
    thread.start()
print('started', flush=True)
for thread in threads:
    thread.join()
tracker.close()
print('finished', flush=True)
"""


def test_sigkill_of_thread_loops_then_resume_tries_no_key_twice_in_a_run(host, tmp_path):
    name = f"crash{random.randrange(10**6)}"
    where = str(tmp_path) if host.kind != "redis" else host.where
    rnd = random.Random(7)
    for _ in range(3):
        proc = start_py(_CRAWL, host.kind, where, name)
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(rnd.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(JOIN)
        if host.kind == "redis":
            time.sleep(1.5 * LEASE)  # the killed loops' leases end
        elif host.kind == "shared":
            time.sleep(0.5)  # the orphaned server notices its creator died, syncs and stops
    finish = start_py(_CRAWL, host.kind, where, name)
    out, err = finish.communicate(timeout=JOIN)
    assert finish.returncode == 0, err
    if host.kind == "redis":
        tracker = tastypy.RedisTracker(where, name, max_tries=2)
    else:
        tracker = tastypy.Tracker(tmp_path / name, max_tries=2, mode="r")
    try:
        records = {key: tastypy.unwrap(value) for key, value in tracker.items()}
        assert sorted(records) == list(range(300))
        for key, record in records.items():
            runs = record.get("runs", [])
            assert len(runs) == len(set(runs)), f"key {key} done twice in one run: {runs}"
            assert record["_tries"] <= 2
            assert record["_done"] or record["_tries"] == 2
        assert (tracker.num_done(), tracker.num_tried(), tracker.num_aborted()) == recount(tracker)
    finally:
        if host.kind == "redis":
            tracker.drop()
        tracker.close()


@pytest.mark.parametrize("ending", ["sigterm", "exit"])
def test_sigterm_or_exit_while_threads_write_syncs_what_they_made(tmp_path, ending):
    """Exit paths stay as documented: worker threads mid-write, then SIGTERM
    to the process or the main thread's exit: what they made up to then is on
    disk, in their order, once."""
    path = tmp_path / "p"
    proc = start_py(
        """
        import sys, threading, time, tastypy
        pod = tastypy.POD(sys.argv[1], sync_at=10**6)
        def work(n):
            i = 0
            while True:
                pod[f'{n}-{i}'] = {'i': i}
                pod[f'{n}-{i}']['done'] = True
                i += 1
        for n in range(4):
            threading.Thread(target=work, args=(n,), daemon=True).start()
        print('started', flush=True)
        if sys.argv[2] == 'exit':
            time.sleep(0.5)
            sys.exit(3)
        threading.Event().wait()
        """,
        str(path),
        ending,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        if ending == "sigterm":
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
        proc.wait(JOIN)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(JOIN)
    assert proc.returncode == (-signal.SIGTERM if ending == "sigterm" else 3)
    read = dict(fresh_items(path))
    assert read, "nothing was synced"
    for n in range(4):
        made = sorted(int(key.split("-")[1]) for key in read if key.startswith(f"{n}-"))
        assert made == list(range(len(made))), "a thread's writes are missing in the middle"
        assert all(read[f"{n}-{i}"]["i"] == i for i in made[:-1])
        assert all(read[f"{n}-{i}"].get("done") for i in made[:-1])
