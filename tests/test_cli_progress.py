"""``tastypy progress`` (once and ``--watch``) and ``try_keys(progress=True)``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cli_helpers import command, one_error_line, record, tastypy
from helpers import CHILD_TIMEOUT, child_env, start_py
from tastypy import POD

RECORDS = [record(done=True, tries=1)] * 3 + [record(tries=2), record(aborted=True, tries=3), record()]
TABLE = """\
done               3   50.00 %
tried              5   83.33 %
aborted            1   16.67 %
todo               2   33.33 %
total              6
"""


@pytest.fixture
def jobs(tmp_path):
    folder = tmp_path / "jobs"
    with POD(folder, enumerate(RECORDS)):
        pass
    return folder


def test_progress_prints_the_counts_and_a_bar(jobs):
    pytest.importorskip("tqdm")
    result = tastypy("progress", jobs)
    assert result.returncode == 0, result.stderr
    bar, table = result.stdout.split("\n", 1)
    assert " 50%|" in bar and bar.endswith("| 3/6")
    assert table == TABLE


def test_progress_without_tqdm_prints_the_counts_alone(jobs):
    result = tastypy("progress", jobs, tqdm=False)
    assert (result.returncode, result.stdout) == (0, TABLE), result.stderr


def test_progress_of_a_pod_is_one_error_line(tmp_path):
    with POD(tmp_path / "p", {"a": 1}):
        pass
    error = one_error_line(tastypy("progress", tmp_path / "p"))
    assert error == f"tastypy progress: {tmp_path / 'p'} is not a tracker: not every value holds _done, _tries and _aborted"


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "plain"])
def test_watch_follows_a_running_job_until_it_is_finished(jobs, tqdm):
    # The job: a writer that finishes the two tasks left, one every 0.3 s.
    job = start_py(
        """
        import sys, time, tastypy
        pod = tastypy.POD(sys.argv[1])
        print('ready', flush=True)
        for key in (3, 5):
            time.sleep(0.3)
            pod[key] = dict(pod[key], _done=True, _tries=pod[key]['_tries'] + 1)
            pod.sync()
        """,
        str(jobs),
    )
    try:
        assert job.stdout.readline() == "ready\n", job.stderr.read()
        watch = tastypy("progress", jobs, "--watch", "--every", "0.1", tqdm=tqdm)
    finally:
        job.wait(timeout=CHILD_TIMEOUT)
        job.stdout.close()
        job.stderr.close()
    assert watch.returncode == 0, watch.stderr
    assert watch.stdout.startswith(f"watching {jobs} read-only (Ctrl-C to stop)\n")
    assert watch.stdout.endswith("done               5   83.33 %\ntried              6  100.00 %\n"
                                 "aborted            1   16.67 %\ntodo               0    0.00 %\n"
                                 "total              6\n")
    if not tqdm:
        assert "done 5 / 6 (83.3 %), tried 6, aborted 1" in watch.stdout


def test_watch_stops_on_ctrl_c(jobs):
    watch = subprocess.Popen(
        command("progress", jobs, "--watch", "--every", "0.1"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=child_env(),
    )
    try:
        assert watch.stdout.readline().startswith("watching")
        watch.send_signal(subprocess.signal.SIGINT)
        out, err = watch.communicate(timeout=CHILD_TIMEOUT)
    finally:
        watch.kill()
        watch.wait(timeout=CHILD_TIMEOUT)
    assert watch.returncode == 0 and "Traceback" not in err, err
    assert out.endswith(TABLE)


# -- try_keys(progress=True) ------------------------------------------------------------


def test_try_keys_with_progress_shows_a_bar_starting_at_what_is_done(tmp_path, capsys):
    pytest.importorskip("tqdm")
    from tastypy import Tracker

    with Tracker(tmp_path / "t", max_tries=2, init={k: {} for k in range(10)}) as tracker:
        for key in range(4):
            tracker.mark_done(key)
        seen = []
        for key in tracker.try_keys(progress=True):
            seen.append(key)
            if key != 9:
                tracker.mark_done(key)
    assert seen == [4, 5, 6, 7, 8, 9]
    bar = capsys.readouterr().err
    assert "4/10" in bar and "9/10" in bar and "tried 6, aborted 0" in bar


def test_try_keys_with_progress_needs_tqdm_and_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", """if True:
            import sys
            sys.modules['tqdm'] = None
            from tastypy import Tracker
            tracker = Tracker(sys.argv[1], init={1: {}})
            try:
                tracker.try_keys(progress=True)
            except ImportError as error:
                print(error)
            print(tracker.tries(1))
            """, str(tmp_path / "t")],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=child_env(),
    )
    assert result.stdout == (
        "try_keys(progress=True) draws its bar with tqdm, which is not installed:"
        " pip install tqdm (tastypy's [cli] extra)\n0\n"
    ), result.stderr
