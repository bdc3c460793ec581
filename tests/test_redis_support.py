"""Child-process bodies for the Redis tests (importable under spawn and forkserver)."""

from __future__ import annotations

import os
import time

from test_shared_support import JOIN, ctx, run_procs

__all__ = ["JOIN", "ctx", "run_procs"]


def increment(shared, times):
    for _ in range(times):
        shared.set["c"]["n"] += 1


def natural_mutations(shared):
    shared["a"]["l"].append(3)
    record = shared["a"]
    record["d"]["x"] = [1]
    record["d"]["x"].extend([2, 3])


def report(shared, queue):
    queue.put((os.getpid(), dict(shared.items())))


def work(tracker, seen, fail_every=0):
    """Try every key it is handed; mark it done unless it is one to fail."""
    for n, key in enumerate(tracker.try_keys()):
        seen.put((os.getpid(), key))
        time.sleep(0.002)
        if fail_every and n % fail_every == 0:
            continue
        tracker.mark_done(key)


def take_one_and_hang(tracker, taken):
    """Take a key and never finish it (the test SIGKILLs this process)."""
    for key in tracker.try_keys():
        taken.put(key)
        time.sleep(600)


def hold_lock_and_hang(shared, holding):
    shared.lock()
    holding.put(True)
    time.sleep(600)


def locked_read_modify_write(shared, times):
    for _ in range(times):
        with shared.locked():
            value = shared["n"]
            time.sleep(0.001)  # another process would slip in here without the lock
            shared["n"] = value + 1


def work_and_count(tracker, shared, acked):
    """Do every key handed out; report each key and count whose call returned."""
    for key in tracker.try_keys():
        time.sleep(0.002)
        shared.set["c"]["n"] += 1
        acked.put(("n", key))
        tracker.mark_done(key)
        acked.put(("done", key))
