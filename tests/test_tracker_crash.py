"""The crawler of the README, SIGKILLed mid-loop at random moments, then resumed.

Each run appends every attempt to a log file (``O_APPEND`` writes reach the
kernel at once, so they survive SIGKILL); the test judges the runs by that
log and by what a fresh process reads back.
"""

from __future__ import annotations

import json
import random
import signal
import time

import pytest

from helpers import CHILD_TIMEOUT, run_py, start_py

N = 300  # the site: page n links to 2n+1 and 2n+2
MAX_TRIES = 4

CRAWLER = """
import os, sys, time
from tastypy import Tracker

folder, log, run = sys.argv[1], sys.argv[2], sys.argv[3]
N, MAX_TRIES = int(sys.argv[4]), int(sys.argv[5])
fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

def crawl(url, attempt):
    time.sleep(0.002)
    if url % 11 == 5 or (url % 5 == 1 and attempt == 1):
        return False, []
    return True, [child for child in (2 * url + 1, 2 * url + 2) if child < N]

tracker = Tracker(folder, max_tries=MAX_TRIES)
tracker.add_if_absent(0)
progress = True
while progress:  # one pass per loop; failed pages get their next try next pass
    progress = False
    for url in tracker.try_keys():
        progress = True
        os.write(fd, f"{run} try {url}\\n".encode())
        ok, found = crawl(url, tracker.tries(url))
        if not ok:
            continue
        tracker.add_many_if_absent(found)
        tracker[url]["links"] = len(found)
        tracker.mark_done(url)
        os.write(fd, f"{run} done {url}\\n".encode())
print(tracker.num_done(), tracker.num_tried(), len(tracker), tracker.percent_done())
"""

CHECK = """
import sys, json
from tastypy import Tracker, unwrap
t = Tracker(sys.argv[1], max_tries=int(sys.argv[2]), mode='r')
records = {repr(k): unwrap(v) for k, v in t.items()}
print(json.dumps([records, [t.num_done(), t.num_tried(), t.num_aborted()]]))
"""


def expected_pages():
    """Pages reachable through pages that succeed, and those that never do."""
    reachable, stack = set(), [0]
    while stack:
        url = stack.pop()
        reachable.add(url)
        if url % 11 != 5:
            stack.extend(c for c in (2 * url + 1, 2 * url + 2) if c < N)
    failing = {url for url in reachable if url % 11 == 5}
    return reachable - failing, failing


def read_log(log):
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines()]


def kill_after(proc, log, lines):
    """SIGKILL ``proc`` once ``log`` has ``lines`` lines (or it ended)."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    try:
        while proc.poll() is None and len(read_log(log)) < lines:
            assert time.monotonic() < deadline, "the crawler made no progress"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=CHILD_TIMEOUT)


@pytest.mark.parametrize("seed", range(3))
def test_crawler_killed_twice_resumes_without_redoing_or_overtrying(tmp_path, seed):
    folder, log = tmp_path / "urls.tracker", tmp_path / "attempts.log"
    args = (str(folder), str(log))
    rng = random.Random(seed)
    for run in (1, 2):
        before = len(read_log(log))
        proc = start_py(CRAWLER, *args, str(run), str(N), str(MAX_TRIES))
        kill_after(proc, log, before + rng.randrange(5, 150))
        assert proc.returncode == -signal.SIGKILL
    finished = run_py(CRAWLER, *args, "3", str(N), str(MAX_TRIES))
    assert finished.returncode == 0, finished.stderr

    entries = read_log(log)
    runs = {run for run, _, _ in entries}
    assert runs == {"1", "2", "3"}, "a run was killed before it tried anything"

    # Nothing is tried more than max_tries times over all runs.
    tries: dict = {}
    for _, what, url in entries:
        if what == "try":
            tries[url] = tries.get(url, 0) + 1
    assert max(tries.values()) <= MAX_TRIES

    # A done mark is on disk once the next page is handed out: a page done
    # before that point is never tried again, in this run or a later one.
    for i, (run, what, url) in enumerate(entries):
        if what != "done":
            continue
        later = entries[i + 1:]
        handed_out_after = any(r == run and w == "try" for r, w, _ in later)
        if handed_out_after:
            assert ["try", url] not in [[w, u] for _, w, u in later], (run, url)

    # The end state: every good page done, every bad page out of tries.
    good, bad = expected_pages()
    check = run_py(CHECK, str(folder), str(MAX_TRIES))
    assert check.returncode == 0, check.stderr


    records, counts = json.loads(check.stdout)
    done = {int(k) for k, r in records.items() if r["_done"]}
    assert done == good
    assert {int(k) for k in records} == good | bad
    assert all(records[repr(url)]["_tries"] == MAX_TRIES for url in bad)
    assert all(records[repr(url)]["links"] >= 0 for url in good)
    assert counts == [len(good), len(records), 0]
    assert finished.stdout.split()[:3] == [str(len(good)), str(len(records)), str(len(records))]
