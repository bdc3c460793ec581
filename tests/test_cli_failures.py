"""``tastypy failures`` and ``tastypy retry`` on a folder and on Redis, and what info/progress say of waiting keys."""

from __future__ import annotations

import pytest
from cli_helpers import one_error_line, tastypy
from helpers import start_py

import tastypy as tp

pytestmark = pytest.mark.timeout(120)


def _failing_job(tracker) -> None:
    """10 keys: 0, 3, 6, 9 time out; 1, 4, 7 raise ValueError (aborted at once: max_tries 1 for them)."""
    tracker.add_many(range(10))
    for key in range(10):
        with tracker.attempt(key):
            if key % 3 == 0:
                raise TimeoutError(f"timeout on {key}")
            if key % 3 == 1:
                tracker.increment_tries(key)  # its last try: aborted when it fails
                raise ValueError("bad html")


@pytest.fixture(params=["folder", "redis"])
def target(request, tmp_path):
    if request.param == "folder":
        path = tmp_path / "t"
        with tp.Tracker(path, max_tries=2, backoff=600) as tracker:
            _failing_job(tracker)
        return str(path)
    url = request.getfixturevalue("redis_url")
    tracker = tp.RedisTracker(url, "job", max_tries=2, backoff=600)
    _failing_job(tracker)
    tracker.close()
    return f"{url}#job"


def test_failures_groups_by_type_and_by_message(target):
    result = tastypy("failures", target)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["keys", "aborted", "type", "example", "key"]
    assert rows[1] == ["4", "0", "TimeoutError", "9"]  # the example is the latest failure
    assert rows[2] == ["3", "3", "ValueError", "7"]
    by_message = tastypy("failures", target, "--by", "message").stdout
    assert "bad html" in by_message and "timeout on 3" in by_message


def test_retry_resets_exactly_the_chosen_keys(target):
    dry = tastypy("retry", target, "--error", "TimeoutError", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.endswith("would retry 4 keys\n"), dry.stderr
    done = tastypy("retry", target, "--error", "TimeoutError")
    assert done.returncode == 0 and done.stdout.endswith("4 keys to do again\n"), done.stderr
    aborted = tastypy("retry", target, "--aborted")
    assert aborted.stdout.endswith("3 keys to do again\n"), aborted.stderr
    result = tastypy("export", target)
    import json

    records = {entry["key"]: entry["value"] for entry in map(json.loads, result.stdout.splitlines())}
    for key in (0, 3, 6, 9, 1, 4, 7):
        assert (records[key]["_tries"], records[key]["_aborted"]) == (0, False)
        assert "_retry_at" not in records[key] and "_error" in records[key]  # kept until the next try
    assert all(records[key]["_done"] for key in (2, 5, 8))


def test_info_and_progress_show_the_waiting_keys(target):
    info = tastypy("info", target)
    assert info.returncode == 0, info.stderr
    assert "waiting:   4" in info.stdout and "next due:" in info.stdout
    progress = tastypy("progress", target)
    assert "waiting: 4" in progress.stdout


def test_no_failures_says_so(tmp_path):
    with tp.Tracker(tmp_path / "t") as tracker:
        tracker.add("a")
    result = tastypy("failures", tmp_path / "t")
    assert result.returncode == 0 and result.stdout.endswith("no failures\n")


def test_retry_on_a_folder_with_a_running_writer_is_one_line_and_changes_nothing(tmp_path):
    path = tmp_path / "t"
    with tp.Tracker(path, max_tries=2) as tracker:
        _failing_job(tracker)
    writer = start_py(
        "import sys, tastypy; t = tastypy.Tracker(sys.argv[1]); print('open', flush=True); sys.stdin.readline()",
        str(path),
        stdin=-1,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        line = one_error_line(tastypy("retry", path))
        assert line.startswith("tastypy retry: ") and "process" in line
    finally:
        writer.communicate("\n", timeout=60)
    with tp.Tracker(path, mode="r") as tracker:
        assert tracker.tries(0) == 1 and tracker.aborted(1)
