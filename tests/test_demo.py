"""``tastypy demo``: finishes, survives Ctrl-C with its data synced, and resumes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_helpers import command, one_error_line, tastypy
from helpers import CHILD_TIMEOUT, child_env
from tastypy import POD, unwrap
from tastypy.demo import MAX_TRIES, FetchError, Site
from tastypy.progress import Counts


def on_disk(folder) -> Counts:
    with POD(folder, mode="r") as pod:
        return Counts.of_records(pod[key] for key in pod)


@pytest.mark.parametrize(("mode", "who"), [([], "2 workers"), (["--async"], "50 coroutines")])
def test_demo_crawls_every_page_and_reports(tmp_path, mode, who):
    folder = tmp_path / "crawl"
    result = tastypy("demo", folder, "--pages", 150, "--workers", 2, *mode)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"crawling 150 pages of a generated site with {who}, state in {folder}"
    assert lines[1] == "Ctrl-C stops it; the same command resumes it."
    counts = on_disk(folder)
    assert counts.total == 150 and counts.todo == 0 and counts.done > 100
    assert lines[2].startswith(f"finished: {counts.done} of 150 pages crawled, {counts.aborted} aborted")
    assert lines[3].startswith("most linked page: /page/")
    page = json.loads(tastypy("get", folder, "/page/0").stdout)
    assert page["_done"] or page["_aborted"]


def test_demo_run_again_once_finished_says_so(tmp_path):
    folder = tmp_path / "crawl"
    assert tastypy("demo", folder, "--pages", 20, "--fail-rate", 0).returncode == 0
    result = tastypy("demo", folder, "--pages", 20)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"already finished: 20 of 20 done (remove {folder} to start over)\n")


def test_demo_aborts_a_page_after_three_failed_tries(tmp_path):
    folder = tmp_path / "crawl"
    result = tastypy("demo", folder, "--pages", 30, "--fail-rate", 1)
    assert "finished: 0 of 30 pages crawled, 30 aborted after 3 tries" in result.stdout, result.stderr
    with POD(folder, mode="r") as pod:
        assert {pod[key]["_tries"] for key in pod} == {MAX_TRIES}


def test_demo_failures_are_records_that_tastypy_failures_groups(tmp_path):
    folder = tmp_path / "crawl"
    assert tastypy("demo", folder, "--pages", 200, "--fail-rate", 0.3).returncode == 0
    with POD(folder, mode="r") as pod:
        failed = [unwrap(pod[key]) for key in pod if "_error" in pod[key]]
    assert failed and all(page["_error"]["type"] == "FetchError" for page in failed)
    assert all(page["_aborted"] and page["_tries"] == MAX_TRIES for page in failed)
    table = tastypy("failures", folder)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1].split()[:3] == [str(len(failed)), str(len(failed)), "FetchError"]
    by_message = tastypy("failures", folder, "--by", "message").stdout
    assert "timed out" in by_message or "500 internal server error" in by_message


def test_demo_aborts_a_page_whose_last_try_was_cut_short(tmp_path):
    folder = tmp_path / "crawl"
    assert tastypy("demo", folder, "--pages", 20, "--fail-rate", 0).returncode == 0
    with POD(folder) as pod:  # as if Ctrl-C had stopped the third try of page 5
        pod["/page/5"] = {"_done": False, "_tries": MAX_TRIES, "_aborted": False}
    result = tastypy("demo", folder, "--pages", 20)
    assert result.stdout.startswith("resuming: 19 of 20 done\n"), result.stderr
    with POD(folder, mode="r") as pod:
        page = unwrap(pod["/page/5"])
        assert (page["_done"], page["_tries"], page["_aborted"]) == (False, MAX_TRIES, True)
        assert (page["_error"]["type"], page["_error"]["message"]) == ("Interrupted", "its last try was interrupted")
    assert "already finished: 19 of 20 done" in tastypy("demo", folder, "--pages", 20).stdout


def test_demo_without_tqdm_prints_plain_progress_lines(tmp_path):
    result = tastypy("demo", tmp_path / "crawl", "--pages", 40, "--fail-rate", 0, tqdm=False)
    assert result.returncode == 0, result.stderr
    assert "done 40 / 40 (100.0 %), tried 40, aborted " in result.stderr


def test_demo_with_a_live_bar(tmp_path):
    pytest.importorskip("tqdm")
    result = tastypy("demo", tmp_path / "crawl", "--pages", 40, "--fail-rate", 0)
    assert "40/40" in result.stderr and "tried 40, aborted" in result.stderr


@pytest.mark.parametrize(("mode", "pages"), [([], 600), (["--async"], 20000)])
def test_demo_interrupted_by_ctrl_c_keeps_its_data_and_resumes(tmp_path, mode, pages):
    folder = tmp_path / "crawl"
    # Its own session: SIGINT to the group, like Ctrl-C in a terminal (pool and server too).
    first = subprocess.Popen(
        command("demo", folder, "--pages", pages, "--workers", 2, *mode), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**child_env(), "PYTHONFAULTHANDLER": "1"},
        start_new_session=True,
    )
    try:
        assert first.stdout.readline().startswith(f"crawling {pages:,} pages")
        deadline = time.monotonic() + CHILD_TIMEOUT
        while on_disk(folder).done < 30:
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGINT)
        try:
            out, err = first.communicate(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            first.send_signal(signal.SIGABRT)  # the faulthandler prints where every thread waits
            pytest.fail("the demo did not end after Ctrl-C:\n" + first.communicate(timeout=CHILD_TIMEOUT)[1][-8000:])
    finally:
        # Whatever is left of its group (nothing, when all went well).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=CHILD_TIMEOUT)
    assert first.returncode == 130, err
    assert "Traceback" not in err, err
    stopped = on_disk(folder)
    assert 30 <= stopped.done < pages
    assert out.splitlines()[-1] == (
        f"interrupted: {stopped.done:,} of {pages:,} done, synced to {folder};"
        " run the same command again to resume"
    )

    second = tastypy("demo", folder, "--pages", pages, "--workers", 2, *mode)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"resuming: {stopped.done:,} of {pages:,} done\n")
    assert "finished: " in second.stdout
    assert on_disk(folder).todo == 0


def test_demo_refuses_a_folder_that_is_not_a_tracker(tmp_path):
    with POD(tmp_path / "p", {"a": 1}):
        pass
    error = one_error_line(tastypy("demo", tmp_path / "p", "--pages", 10))
    assert error == f"tastypy demo: {tmp_path / 'p'} holds a POD, not the demo's tracker: choose another folder"


@pytest.mark.parametrize("rate", ["-0.1", "1.5", "x"])
def test_demo_rejects_a_bad_fail_rate(tmp_path, rate):
    result = tastypy("demo", tmp_path / "crawl", "--fail-rate", rate)
    assert result.returncode == 2 and "between 0 and 1" in result.stderr
    assert not (tmp_path / "crawl").exists()


def test_the_site_is_the_same_for_the_same_seed():
    def crawl(site):
        pages = {}
        for url in site.urls():
            try:
                pages[url] = site.fetch(url, 1)
            except FetchError as error:
                pages[url] = str(error)
        return pages

    # Few pages: a fetch sleeps a few milliseconds (slow pages longer).
    first, again, other = crawl(Site(12, 1, 0.1)), crawl(Site(12, 1, 0.1)), crawl(Site(12, 2, 0.1))
    assert first == again and first != other
    assert all(link in first for page in first.values() if isinstance(page, dict) for link in page["links"])


def test_demo_on_redis_keeps_its_state_in_a_redis_tracker(redis_url):
    target = f"{redis_url}#crawl"
    result = tastypy("demo", "crawl", "--pages", 60, "--workers", 2, "--redis", redis_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"crawling 60 pages of a generated site with 2 workers, state in {target}"
    assert lines[2].startswith("finished: ") and "of 60 pages crawled" in lines[2]
    from tastypy import RedisTracker

    tracker = RedisTracker(redis_url, "crawl")
    assert len(tracker) == 60 and tracker.num_done() + tracker.num_aborted() == 60
    again = tastypy("demo", "crawl", "--pages", 60, "--redis", redis_url)
    assert again.stdout.startswith(f"already finished: {tracker.num_done()} of 60 done"), again.stderr
    page = json.loads(tastypy("get", target, "/page/0").stdout)
    assert page["_done"] or page["_aborted"]


def test_demo_on_redis_refuses_a_name_that_holds_a_pod_or_a_bad_url(redis_url):
    from tastypy import RedisPOD

    RedisPOD(redis_url, "taken", init={"a": 1})
    line = one_error_line(tastypy("demo", "taken", "--redis", redis_url))
    assert line.startswith("tastypy demo: ") and "holds a RedisPOD" in line
    line = one_error_line(tastypy("demo", "--redis", "/not/a/url"))
    assert "--redis takes a Redis URL" in line
    line = one_error_line(tastypy("demo", "crawl", "--redis", redis_url, "--async"))
    assert line == "tastypy demo: --async runs on a folder; leave out --redis"


def test_the_demo_runs_without_redis_py(tmp_path):
    # The README's first command installs '.[cli]': no redis-py there.
    code = (
        "import runpy, sys; sys.modules['redis'] = None; sys.argv[0] = 'tastypy';"
        " runpy.run_module('tastypy', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "demo", tmp_path / "crawl", "--pages", "60"],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=child_env(), check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
