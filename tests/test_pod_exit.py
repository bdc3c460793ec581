"""Dirty data reaches the disk however the program ends, and it ends as it would have."""

from __future__ import annotations

import signal

import pytest

from helpers import CHILD_TIMEOUT, fresh_items, run_py, start_py

SETUP = """
import os, signal, sys, time, tastypy
pod = tastypy.POD(sys.argv[1])
pod['a'] = {'tags': []}
tags = pod['a']['tags']
tags.append('x')
pod[('site', 3)] = [1, 2]
"""
EXPECTED = [("a", {"tags": ["x"]}), (("site", 3), [1, 2])]


def test_normal_exit_syncs(folder):
    result = run_py(SETUP, str(folder))
    assert result.returncode == 0, result.stderr
    assert fresh_items(folder) == EXPECTED


def test_uncaught_exception_syncs_and_keeps_status(folder):
    result = run_py(SETUP + "raise RuntimeError('boom')", str(folder))
    assert result.returncode == 1 and "boom" in result.stderr
    assert fresh_items(folder) == EXPECTED


def test_sys_exit_status_is_kept(folder):
    result = run_py(SETUP + "sys.exit(3)", str(folder))
    assert result.returncode == 3
    assert fresh_items(folder) == EXPECTED


def _signal_child(folder, signum, before="", after=""):
    """Run SETUP (with code before and after it), signal it once ready; (status, out, err)."""
    code = before + SETUP + after + "print('ready', flush=True)\ntime.sleep(60)\n"
    child = start_py(code, str(folder))
    try:
        assert child.stdout.readline().strip() == "ready"
        if signum == signal.SIGKILL:
            child.kill()
        else:
            child.send_signal(signum)
        out, err = child.communicate(timeout=CHILD_TIMEOUT)
    finally:
        child.kill()
    return child.returncode, out, err


def test_sigterm_syncs_and_still_kills_by_sigterm(folder):
    status, _, err = _signal_child(folder, signal.SIGTERM)
    assert status == -signal.SIGTERM, err
    assert fresh_items(folder) == EXPECTED


def test_sigint_syncs_and_still_raises_keyboard_interrupt(folder):
    status, _, err = _signal_child(folder, signal.SIGINT)
    assert "KeyboardInterrupt" in err
    assert status in (-signal.SIGINT, 1)
    assert fresh_items(folder) == EXPECTED


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_programs_own_handler_still_runs(folder, signum):
    # The program installed its handler before opening the POD: both run.
    handler = (
        "import signal, sys\n"
        "def mine(signum, frame):\n"
        "    print('mine ran', flush=True)\n"
        "    sys.exit(7)\n"
        f"signal.signal({int(signum)}, mine)\n"
    )
    status, out, err = _signal_child(folder, signum, before=handler)
    assert status == 7, err
    assert "mine ran" in out
    assert fresh_items(folder) == EXPECTED


def test_handler_set_after_import_but_before_the_pod_is_chained_to(folder):
    # tastypy's handlers are in place from the import on; a POD opened after
    # the program set its own still syncs before the program's handler runs
    # (here it ends the process at once, so only the chain can have synced).
    handler = (
        "import os, signal, tastypy\n"
        "def mine(signum, frame):\n"
        "    print('mine ran', flush=True)\n"
        "    os._exit(7)\n"
        "signal.signal(signal.SIGTERM, mine)\n"
    )
    status, out, err = _signal_child(folder, signal.SIGTERM, before=handler)
    assert status == 7, err
    assert "mine ran" in out
    assert fresh_items(folder) == EXPECTED


def test_handler_installed_after_the_pod_replaces_ours_but_exit_still_syncs(folder):
    after = "signal.signal(signal.SIGTERM, lambda s, f: sys.exit(5))\n"
    status, _, err = _signal_child(folder, signal.SIGTERM, after=after)
    assert status == 5, err
    assert fresh_items(folder) == EXPECTED


def test_sigkill_loses_only_what_was_not_synced(folder):
    _signal_child(folder, signal.SIGKILL, after="pod.sync()\npod['late'] = 1\n")
    assert fresh_items(folder) == EXPECTED


def test_forked_child_does_not_write_the_parents_pod(folder):
    code = SETUP + (
        "pod.sync()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    pod['child'] = 1\n"
        "    sys.exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "time.sleep(0.1)\n"
        "print(sorted(map(str, pod)))\n"
    )
    result = run_py(code, str(folder))
    assert result.returncode == 0, result.stderr
    assert [k for k, _ in fresh_items(folder)] == ["a", ("site", 3)]


def test_forked_children_get_the_programs_own_signal_handlers(folder):
    # A Python-level SIGTERM handler in a Pool worker can miss the signal while
    # the worker waits for a task, and Pool.terminate() then hangs.
    code = SETUP + (
        "import multiprocessing\n"
        "def probe(_):\n"
        "    return (signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,\n"
        "            signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
        "if __name__ == '__main__':\n"
        "    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL\n"
        "    with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "        print(pool.map(probe, range(2), chunksize=1))\n"
        "        pool.terminate()\n"
    )
    result = run_py(code, str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(True, True), (True, True)]"


def test_a_forked_child_that_opens_its_own_pod_syncs_it_on_sigterm(tmp_path):
    code = SETUP + (
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    own = tastypy.POD(sys.argv[1] + '.child')\n"
        "    own['mine'] = 1\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)\n"
    )
    folder = tmp_path / "p"
    result = run_py(code, str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert fresh_items(tmp_path / "p.child") == [("mine", 1)]


def test_exit_syncs_whatever_was_set_up_first(folder):
    # Exit hooks run in reverse order of registration: a hook registered
    # before the POD opened its folder must not find the lock already gone.
    code = (
        "import sys, tastypy, tastypy.exits\n"
        "tastypy.exits.on_exit(lambda: None)\n"
        "pod = tastypy.POD(sys.argv[1])\n"
        "pod['a'] = 1\n"
    )
    result = run_py(code, str(folder))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert fresh_items(folder) == [("a", 1)]


def test_sighup_syncs_and_still_kills_by_sighup(folder):
    # A closed terminal sends SIGHUP: it is treated like SIGTERM.
    status, _, err = _signal_child(folder, signal.SIGHUP)
    assert status == -signal.SIGHUP, err
    assert fresh_items(folder) == EXPECTED


# A worker thread syncs the POD over and over, on a slow disk: the signal
# lands while that thread is inside a commit.
SYNCING_THREAD = """
import os, signal, sys, threading, time, tastypy
pod = tastypy.POD(sys.argv[1])  # opened by the main thread
def work():
    commit = pod._store.commit
    def slow_commit(changes):
        commit(changes)
        print('ready', flush=True)
        time.sleep(0.2)
    pod._store.commit = slow_commit
    n = 0
    while True:
        n += 1
        pod['n'] = n
        pod.sync()
threading.Thread(target=work, daemon=True).start()
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_sync_in_another_thread_ends_the_process(folder, signum):
    for _ in range(6):
        child = start_py(SYNCING_THREAD, str(folder))
        try:
            assert child.stdout.readline().strip() == "ready"
            child.send_signal(signum)
            _, err = child.communicate(timeout=20)
        finally:
            child.kill()
        if signum == signal.SIGTERM:
            assert child.returncode == -signal.SIGTERM, err
        else:
            assert child.returncode in (-signal.SIGINT, 1) and "KeyboardInterrupt" in err, err
        assert "main thread" not in err
        assert [key for key, _ in fresh_items(folder)] == ["n"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_pod_opened_only_in_a_worker_thread_syncs_on_a_signal(folder, signum):
    code = """
    import sys, threading, time, tastypy
    def work():
        pod = tastypy.POD(sys.argv[1])
        pod['from thread'] = [1, 2]
        print('ready', flush=True)
    threading.Thread(target=work).start()
    time.sleep(60)
    """
    child = start_py(code, str(folder))
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signum)
        _, err = child.communicate(timeout=CHILD_TIMEOUT)
    finally:
        child.kill()
    assert child.returncode == -signum, err
    assert fresh_items(folder) == [("from thread", [1, 2])]


def test_one_pods_failed_exit_sync_does_not_stop_the_others(tmp_path):
    code = """
    import errno, sys, tastypy
    a = tastypy.POD(sys.argv[1] + '/a')
    b = tastypy.POD(sys.argv[1] + '/b')
    def broken_disk(changes):
        raise OSError(errno.EIO, 'Input/output error')
    a._store.commit = broken_disk
    a['x'] = 1
    b['y'] = 2
    """
    result = run_py(code, str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "could not sync" in result.stderr and str(tmp_path / "a") in result.stderr
    assert fresh_items(tmp_path / "b") == [("y", 2)]
    assert fresh_items(tmp_path / "a") == []
