"""Failures are data: attempts, error records, backoff, due times, on every face (``any_host``)."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from helpers import run_py, start_py
from hosts import aio_host_fixture, any_host_fixture, counts, host_fixture, recount  # noqa: F401  (fixture)
from test_shared_support import no_orphans  # noqa: F401  (fixture)

import tastypy
from tastypy.failures import check_backoff, delay, exponential

pytestmark = pytest.mark.timeout(120)




# -- the attempt context ---------------------------------------------------------------


def test_a_successful_attempt_marks_done_and_counts_one_try(any_host):
    tracker = any_host.tracker(max_tries=3)
    tracker.add("a")
    with tracker.attempt("a") as attempt:
        assert attempt.record == {"_done": False, "_tries": 1, "_aborted": False}
    assert tracker.done("a") and tracker.tries("a") == 1
    assert tracker["a"] == {"_done": True, "_tries": 1, "_aborted": False}
    assert counts(tracker) == recount(tracker) == (1, 1, 0)


def test_the_attempts_record_is_the_live_record_on_a_sync_face(host):
    tracker = host.tracker()
    tracker.add("a")
    with tracker.attempt("a") as attempt:
        attempt.record["size"] = 10
    assert tracker["a"] == {"_done": True, "_tries": 1, "_aborted": False, "size": 10}


def test_the_attempts_record_is_a_copy_on_an_async_face_and_changes_stores_results(aio_host):
    tracker = aio_host.tracker()
    tracker.add("a")
    with tracker.attempt("a") as attempt:
        attempt.record["size"] = 10  # a copy: changes nothing stored (as every value read)
        with tracker.changes() as c:
            c["a"]["size"] = 11
    assert tracker["a"] == {"_done": True, "_tries": 1, "_aborted": False, "size": 11}


def test_a_failed_attempt_stores_the_error_and_swallows_it(any_host):
    tracker = any_host.tracker(max_tries=3)
    tracker.add("a")
    before = time.time()
    with tracker.attempt("a") as attempt:
        raise TimeoutError("read timed out")
    assert isinstance(attempt.error, TimeoutError)
    record = tracker["a"]
    assert not record["_done"] and record["_tries"] == 1 and not record["_aborted"]
    error = record["_error"]
    assert list(error) == ["type", "message", "at", "traceback"]
    assert error["type"] == "TimeoutError" and error["message"] == "read timed out"
    assert before - 1 <= error["at"] <= time.time() + 1
    assert "TimeoutError: read timed out" in error["traceback"] and len(error["traceback"]) <= 2000
    assert "_retry_at" not in record  # no backoff: due at once
    assert counts(tracker) == recount(tracker) == (0, 1, 0)


def test_reraise_raises_the_failure_after_recording_it(any_host):
    tracker = any_host.tracker()
    tracker.add("a")
    with pytest.raises(ValueError, match="bad page"), tracker.attempt("a", reraise=True):
        raise ValueError("bad page")
    assert tracker["a"]["_error"]["type"] == "ValueError"


def test_the_last_try_aborts_and_success_clears_the_error(any_host):
    tracker = any_host.tracker(max_tries=2)
    tracker.add_many(["a", "b"])
    for _ in range(2):
        with tracker.attempt("a"):
            raise OSError("connection reset")
    assert tracker.aborted("a") and tracker.tries("a") == 2
    assert tracker["a"]["_error"]["message"] == "connection reset"
    with tracker.attempt("b"):
        raise OSError("once")
    with tracker.attempt("b"):
        pass
    assert tracker.done("b") and "_error" not in tracker["b"]
    assert counts(tracker) == recount(tracker) == (1, 2, 1)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_is_no_failure_and_gives_the_try_back(any_host, interrupt):
    tracker = any_host.tracker(max_tries=3)
    tracker.add("a")
    with pytest.raises(interrupt), tracker.attempt("a"):
        raise interrupt()
    assert tracker["a"] == {"_done": False, "_tries": 0, "_aborted": False}
    assert counts(tracker) == recount(tracker) == (0, 0, 0)


def test_an_attempt_in_a_try_keys_loop_does_not_count_the_try_twice(any_host):
    tracker = any_host.tracker(max_tries=3)
    tracker.add_many(range(5))
    for key in tracker.try_keys():
        with tracker.attempt(key):
            if key % 2:
                raise RuntimeError(f"odd {key}")
    assert [tracker.tries(key) for key in range(5)] == [1] * 5
    assert [tracker.done(key) for key in range(5)] == [True, False, True, False, True]


def test_mark_failed_records_without_counting_a_try(any_host):
    tracker = any_host.tracker(max_tries=5)
    tracker.add("a")
    tracker.increment_tries("a")
    try:
        raise ConnectionError("refused")
    except ConnectionError as error:
        tracker.mark_failed("a", error, retry_after=60)
    record = tracker["a"]
    assert record["_tries"] == 1 and record["_error"]["type"] == "ConnectionError"
    assert record["_retry_at"] == pytest.approx(record["_error"]["at"] + 60)
    assert tracker.num_waiting() == 1 and tracker.next_due() == record["_retry_at"]
    with pytest.raises(TypeError, match="must be an exception"):
        tracker.mark_failed("a", "refused")
    with pytest.raises(KeyError):
        tracker.mark_failed("absent", ValueError())


def test_bad_delays_are_refused_naming_the_argument_and_change_nothing(any_host):
    tracker = any_host.tracker()
    tracker.add("a")
    with pytest.raises(ValueError, match="retry_after"):
        tracker.attempt("a", retry_after=-3)
    with pytest.raises(ValueError, match="retry_after"):
        tracker.mark_failed("a", OSError("x"), retry_after=-1)
    with pytest.raises(ValueError, match="revisit_after"):
        tracker.mark_done("a", revisit_after=-1)
    assert tracker["a"] == {"_done": False, "_tries": 0, "_aborted": False}


def test_a_revisit_after_that_is_no_number_is_refused_naming_it(any_host):
    tracker = any_host.tracker()
    tracker.add("a")
    with pytest.raises(ValueError, match="revisit_after"):
        tracker.mark_done("a", revisit_after="1")
    assert not tracker.done("a")


# -- backoff and due times ----------------------------------------------------------------


def test_a_failed_key_is_never_handed_out_before_its_delay_and_soon_after(any_host):
    delay_s = 0.6
    tracker = any_host.tracker(max_tries=3, backoff=delay_s)
    tracker.add_many(["slow", "other"])
    handed: list = []
    for key in tracker.try_keys(max_wait=5):
        handed.append((key, time.time()))
        with tracker.attempt(key):
            if key == "slow" and tracker.tries(key) == 1:
                raise TimeoutError("first try times out")
        if key == "slow" and not tracker.done(key):
            failed_at = tracker["slow"]["_error"]["at"]
    assert [key for key, _ in handed] == ["slow", "other", "slow"]
    again = handed[2][1]
    assert failed_at + delay_s <= again + 0.05  # never before (the clocks read apart a little)
    assert again <= failed_at + delay_s + 1.0  # and within a second after
    assert tracker.done("slow") and "_retry_at" not in tracker["slow"]


def test_retry_after_set_inside_the_block_wins_over_the_backoff(any_host):
    tracker = any_host.tracker(backoff=1000)
    tracker.add("a")
    with tracker.attempt("a") as attempt:
        attempt.retry_after = 0.3  # e.g. from a Retry-After header
        raise RuntimeError("429 Too Many Requests")
    record = tracker["a"]
    assert record["_retry_at"] - record["_error"]["at"] == pytest.approx(0.3)
    assert list(tracker.try_keys(max_wait=0)) == []  # not due yet, and the loop may not wait
    assert list(tracker.try_keys(max_wait=3)) == ["a"]


def test_a_loop_left_with_only_waiting_keys_sleeps_without_spinning(any_host):
    tracker = any_host.tracker(backoff=0.8)
    tracker.add("a")
    with tracker.attempt("a"):
        raise RuntimeError("down")
    began_cpu, began = time.process_time(), time.monotonic()
    assert list(tracker.try_keys()) == ["a"]
    assert time.monotonic() - began >= 0.7
    assert time.process_time() - began_cpu < 0.3  # slept, did not poll


def test_revisit_after_makes_a_done_key_due_again_as_a_new_task(any_host):
    tracker = any_host.tracker(max_tries=1)
    tracker.add_many(["page", "other"])
    with tracker.attempt("page"):
        pass
    tracker.mark_done("page", revisit_after=0.4)
    tracker.mark_done("other")
    assert tracker.done("page") and tracker.next_due() is not None
    assert list(tracker.try_keys(max_wait=0)) == []
    assert counts(tracker) == recount(tracker) == (2, 1, 0)
    assert list(tracker.try_keys(max_wait=3)) == ["page"]
    assert tracker["page"] == {"_done": False, "_tries": 1, "_aborted": False}  # tries counted anew
    assert counts(tracker) == recount(tracker) == (1, 1, 0)


def test_retry_puts_failed_and_aborted_keys_back_to_do_in_one_step(any_host):
    tracker = any_host.tracker(max_tries=2, backoff=1000)
    tracker.add_many(["gone", "waiting", "fine"])
    for key in ("gone", "gone", "waiting"):
        with tracker.attempt(key):
            raise OSError(f"{key} failed")
    assert tracker.aborted("gone") and tracker.num_waiting() == 1
    assert [key for key in tracker.try_keys(max_wait=0) if tracker.mark_done(key) is None] == ["fine"]
    assert tracker.retry(["gone", "waiting"]) == 2
    for key in ("gone", "waiting"):
        record = tracker[key]
        assert record["_tries"] == 0 and not record["_aborted"] and "_retry_at" not in record
        assert record["_error"]["message"] == f"{key} failed"  # kept until the next try
    assert tracker.num_waiting() == 0 and tracker.next_due() is None
    assert counts(tracker) == recount(tracker) == (1, 1, 0)
    assert list(tracker.try_keys(max_wait=0)) == ["gone", "waiting"]


def test_retry_with_an_absent_key_changes_nothing(any_host):
    tracker = any_host.tracker(backoff=1000)
    tracker.add("waiting")
    with tracker.attempt("waiting"):
        raise OSError("later")
    with pytest.raises(KeyError, match="absent"):
        tracker.retry(["waiting", "absent"])
    assert tracker.num_waiting() == 1 and tracker.tries("waiting") == 1


def test_threads_waiting_for_due_keys_get_each_once(any_host):
    tracker = any_host.tracker(max_tries=2, backoff=0.3)
    tracker.add_many(range(20))
    got: list = []
    lock = threading.Lock()

    def work():
        for key in tracker.try_keys(max_wait=10):
            with tracker.attempt(key):
                with lock:
                    got.append(key)
                if tracker.tries(key) == 1 and key % 2:
                    raise OSError("flaky")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(got) == sorted(list(range(20)) + list(range(1, 20, 2)))
    assert tracker.num_done() == 20 and counts(tracker) == recount(tracker)


def test_a_fake_clock_hands_a_key_out_exactly_when_due(tmp_path):
    now = [1_000_000.0]
    tracker = tastypy.Tracker(tmp_path / "t", backoff=30)
    tracker._now = lambda: now[0]
    tracker.add("a")
    with tracker.attempt("a"):
        raise RuntimeError("x")
    assert tracker["a"]["_retry_at"] == 1_000_030.0
    for t in (1_000_000.0, 1_000_029.9):
        now[0] = t
        assert list(tracker.try_keys(max_wait=0)) == []
    now[0] = 1_000_030.0
    assert list(tracker.try_keys(max_wait=0)) == ["a"]


def test_due_times_survive_a_restart_and_old_records_open_unchanged(tmp_path):
    path = tmp_path / "t"
    old = tastypy.POD(path)
    old["legacy"] = {"_done": False, "_tries": 2, "_aborted": False, "note": "0.x"}
    old.close()
    tracker = tastypy.Tracker(path, backoff=1000)
    assert tracker["legacy"] == {"_done": False, "_tries": 2, "_aborted": False, "note": "0.x"}
    tracker.add("a")
    with tracker.attempt("a"):
        raise RuntimeError("later")
    due = tracker["a"]["_retry_at"]
    tracker.close()
    result = run_py(
        """
        import sys, json, tastypy
        t = tastypy.Tracker(sys.argv[1])
        facts = [list(t.try_keys(max_wait=0)), t.num_waiting(), t.next_due(), t['legacy']]
        print(json.dumps(facts, default=tastypy.unwrap))
        """,
        str(path),
    )
    assert result.returncode == 0, result.stderr
    handed, waiting, next_due, legacy = json.loads(result.stdout)
    assert handed == ["legacy"] and waiting == 1 and next_due == due
    assert legacy == {"_done": False, "_tries": 3, "_aborted": False, "note": "0.x"}


# -- backoff rules ------------------------------------------------------------------------


def test_backoff_forms():
    info = {"type": "E", "message": "", "traceback": ""}
    assert delay(check_backoff(None), 3, info) == 0
    assert delay(check_backoff(5), 3, info) == 5.0
    schedule = check_backoff([1, 10, 60])
    assert [delay(schedule, tries, info) for tries in (1, 2, 3, 4, 9)] == [1, 10, 60, 60, 60]
    grow = exponential(first=2, cap=20)
    assert [delay(grow, tries, info) for tries in (1, 2, 3, 4, 5, 500)] == [2, 4, 8, 16, 20, 20]
    assert delay(lambda tries, error: tries * 1.5, 2, info) == 3.0
    for bad in ("10", -1, [], [1, "x"], float("inf"), True):
        with pytest.raises((TypeError, ValueError)):
            check_backoff(bad)
    with pytest.raises(ValueError, match="backoff"):
        delay(lambda tries, error: -1, 1, info)
    with pytest.raises(TypeError, match="backoff"):
        tastypy.Tracker  # noqa: B018
        check_backoff(object())


def test_a_bad_backoff_is_refused_at_open_and_changes_nothing(tmp_path):
    with pytest.raises(TypeError, match="backoff must be"):
        tastypy.Tracker(tmp_path / "t", backoff="fast")
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


# -- crashes ----------------------------------------------------------------------------


def test_after_sigkill_every_synced_failure_has_its_error(tmp_path):
    """Every try counted on disk has its _error, except the tries in flight
    at the kill (at most one per thread); counters equal a recount."""
    path = tmp_path / "t"
    code = """
import sys, threading, tastypy
t = tastypy.Tracker(sys.argv[1], max_tries=3, sync_at=1)
t.add_many_if_absent(range(400))
def work():
    for key in t.try_keys(max_wait=0):
        with t.attempt(key):
            raise TimeoutError(f'page {key}')
threads = [threading.Thread(target=work) for _ in range(4)]
for th in threads: th.start()
print('started', flush=True)
for th in threads: th.join()
t.close()
"""
    for pause in (0.1, 0.3, 0.5):
        proc = start_py(code, str(path))
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(pause)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(60)
        tracker = tastypy.Tracker(path, max_tries=3, mode="r")
        records = {key: tastypy.unwrap(value) for key, value in tracker.items()}
        unrecorded = [key for key, r in records.items() if r["_tries"] and "_error" not in r]
        assert len(unrecorded) <= 4, unrecorded
        assert all(r["_tries"] <= 3 for r in records.values())
        assert counts(tracker) == recount(tracker)
        tracker.close()
