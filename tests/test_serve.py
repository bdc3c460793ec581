"""``tastypy serve``: its JSON endpoints over a folder a writer is changing, tested with http.client."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from serve_helpers import CHILD_TIMEOUT, ROOT, start_crawl, stop, wait_for

import tastypy
from tastypy.progress import Counts
from tastypy.serve.server import Server
from tastypy.serve.watch import FolderWatch, open_watch


def request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """``(status, headers, body)`` of one request (decoded JSON for a JSON answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    kind = response.getheader("Content-Type", "")
    return response.status, response, json.loads(data) if kind.startswith("application/json") else data


def get(server, path: str):
    status, _, body = request(server, "GET", path)
    assert status == 200, (path, status, body)
    return body


def recount(folder: Path) -> Counts:
    with tastypy.POD(folder, mode="r") as pod:
        return Counts.of_records(tastypy.unwrap(v) for v in pod.values())


def make_tracker(folder: Path, n: int = 300) -> None:
    with tastypy.Tracker(folder) as tracker:
        tracker.add_many(f"/page/{i}" for i in range(n))
        for i in range(0, n, 3):
            tracker.mark_done(f"/page/{i}")
        for i in range(1, 40, 9):
            error = {"type": "TimeoutError" if i % 2 else "ConnectionError", "message": "m", "at": 1.7e9 + i}
            tracker.update({f"/page/{i}": {"_error": error, "_retry_at": time.time() + 3600}})
        tracker.abort("/page/5")
        tracker.increment_tries("/page/7")


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "job"
    make_tracker(folder)
    with Server(FolderWatch(folder), every=0.1) as server:
        server.folder = folder
        yield server


@pytest.fixture
def crawl(tmp_path):
    folder = tmp_path / "crawl"
    child = start_crawl(folder, keys=3000, per_second=150, seconds=60)
    yield folder, child
    stop(child)


def test_status_counts_follow_a_running_crawl_and_equal_a_recount_once_it_stops(crawl):
    folder, child = crawl
    with Server(FolderWatch(folder), every=0.1) as server:
        first = get(server, "/status.json")["counts"]
        assert first["total"] == 3000

        def risen():
            counts = get(server, "/status.json")["counts"]
            return counts if counts["done"] > first["done"] + 50 and counts["failed"] > 0 else None

        wait_for(risen)
        stop(child)
        final = recount(folder)

        def settled():
            counts = get(server, "/status.json")["counts"]
            return counts if counts["done"] == final.done and counts["tried"] == final.tried else None

        counts = wait_for(settled)
        assert (counts["total"], counts["aborted"], counts["todo"]) == (final.total, final.aborted, final.todo)
        status = get(server, "/status.json")
        assert status["per_minute"]["last_minute"] > 0
        assert sum(n for _, n in status["done_per_minute"]) == final.done - first["done"]
        assert server.watch.recounts == 1, "a refresh read the whole folder again"


def test_failures_are_grouped_by_error_type_with_example_keys(served):
    groups = {g["type"]: g for g in get(served, "/failures.json")["groups"]}
    assert set(groups) == {"TimeoutError", "ConnectionError"}
    assert groups["TimeoutError"]["count"] == 3  # /page/1, 19, 37 (10 and 28 are ConnectionErrors)
    assert set(groups["TimeoutError"]["examples"]) == {"/page/1", "/page/19", "/page/37"}
    assert groups["ConnectionError"]["count"] == 2


def test_counts_of_a_folder(served):
    counts = get(served, "/status.json")["counts"]
    final = recount(served.folder)
    assert counts["done"] == final.done and counts["aborted"] == final.aborted and counts["todo"] == final.todo
    assert counts["tried"] == final.tried == 1
    # /page/1, 10, 19, 28, 37 wait for their due time; /page/10 ... not done (only multiples of 3 are)
    assert counts["waiting"] == 5
    assert counts["failed"] == 5


def test_a_key_is_looked_up_by_its_text_or_its_json(served):
    body = get(served, "/key.json?key=" + quote("/page/3"))
    assert body == {"key": "/page/3", "record": {"_done": True, "_tries": 0, "_aborted": False}}
    assert get(served, "/key.json?key=" + quote('"/page/3"')) == body
    status, _, body = request(served, "GET", "/key.json?key=nope")
    assert status == 404 and "nope" in body["error"]
    status, _, body = request(served, "GET", "/key.json")
    assert status == 400


@pytest.mark.parametrize("state", ["all", "todo", "done", "aborted", "waiting", "failed"])
def test_keys_by_state_come_in_insertion_order_a_page_at_a_time(served, state):
    with tastypy.Tracker(served.folder, mode="r") as tracker:
        records = {k: tastypy.unwrap(v) for k, v in tracker.items()}
    now = time.time()
    expected = [
        k for k, r in records.items()
        if state == "all"
        or (state == "done" and r["_done"])
        or (state == "aborted" and r["_aborted"])
        or (state == "todo" and not (r["_done"] or r["_aborted"]))
        or (state == "waiting" and not (r["_done"] or r["_aborted"]) and r.get("_retry_at", 0) > now)
        or (state == "failed" and not r["_done"] and "_error" in r)
    ]
    got, cursor = [], None
    for _ in range(400):
        page = get(served, f"/keys.json?state={state}&limit=7" + ("" if cursor is None else f"&cursor={quote(cursor)}"))
        assert len(page["keys"]) <= 7
        got += page["keys"]
        cursor = page["next"]
        if cursor is None:
            break
    assert got == expected


def test_bad_page_requests_are_refused_with_a_reason(served):
    for path in ("/keys.json?limit=0", "/keys.json?limit=x", "/keys.json?state=lost", "/keys.json?cursor=%5B"):
        status, _, body = request(served, "GET", path)
        assert status == 400 and body["error"], path
    status, _, body = request(served, "GET", "/keys.json?cursor=" + quote('"gone"'))
    assert status == 410
    status, _, body = request(served, "GET", "/nothing-here")
    assert status == 404


def test_the_page_is_one_self_contained_file(served):
    status, response, body = request(served, "GET", "/")
    assert status == 200 and response.getheader("Content-Type").startswith("text/html")
    text = body.decode().replace('"http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert "<script>" in text and "<style>" in text
    assert "http://" not in text and "https://" not in text and "src=" not in text  # nothing fetched elsewhere
    assert "default-src 'none'" in response.getheader("Content-Security-Policy")


def test_metrics_in_prometheus_text_format(served):
    text = get(served, "/metrics").decode()
    assert "tastypy_done 100\n" in text
    assert 'tastypy_failures{type="TimeoutError"} 3\n' in text
    assert "# TYPE tastypy_eta_seconds gauge" in text


def test_a_foreign_host_name_is_refused(served):
    status, _, body = request(served, "GET", "/status.json", headers={"Host": "evil.example:80"})
    assert status == 403
    status, _, _ = request(served, "GET", "/status.json", headers={"Host": f"localhost:{served.port}"})
    assert status == 200


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_write_without_the_flag_is_refused_and_changes_nothing(served):
    before = _files(served.folder)
    for headers in ({}, {"X-Tastypy-Token": "guess"}):
        status, _, body = request(served, "POST", "/action/unabort", b'{"key": "/page/5"}', headers)
        assert status == 403 and "--allow-write" in body["error"]
    assert _files(served.folder) == before
    assert get(served, "/key.json?key=/page/5")["record"]["_aborted"] is True


def test_a_write_with_the_flag_needs_this_runs_token(tmp_path):
    folder = tmp_path / "job"
    make_tracker(folder)
    with Server(FolderWatch(folder), allow_write=True, every=0.1) as server:
        before = _files(folder)
        for headers in ({}, {"X-Tastypy-Token": "guess"}, {"X-Tastypy-Token": server.token[:-1]}):
            status, _, body = request(server, "POST", "/action/unabort", b'{"key": "/page/5"}', headers)
            assert status == 403 and "token" in body["error"]
        assert _files(folder) == before
        token = {"X-Tastypy-Token": server.token}
        status, _, body = request(server, "POST", "/action/unabort", b'{"key": "/page/5"}', token)
        assert status == 200, body
        assert get(server, "/key.json?key=/page/5")["record"]["_aborted"] is False
        status, _, body = request(server, "POST", "/action/retry", b'{"key": "/page/19"}', token)
        assert status == 200, body
        record = get(server, "/key.json?key=/page/19")["record"]
        assert "_retry_at" not in record and record["_tries"] == 0
        status, _, _ = request(server, "POST", "/action/retry", b'{"key": "nope"}', token)
        assert status == 404
    with tastypy.Tracker(folder, mode="r") as tracker:  # read back by a fresh reader
        assert not tracker.aborted("/page/5") and "_retry_at" not in tracker["/page/19"]


def test_a_write_while_the_jobs_writer_runs_is_refused(crawl):
    folder, _ = crawl
    with Server(FolderWatch(folder), allow_write=True, every=0.1) as server:
        status, _, body = request(server, "POST", "/action/unabort", b'{"key": "/page/1"}',
                                  {"X-Tastypy-Token": server.token})
        assert status == 409 and "writer" in body["error"]


def test_a_redis_tracker_is_served(redis_url):
    pytest.importorskip("redis")
    with tastypy.RedisTracker(redis_url, "served") as tracker:
        tracker.add_many(f"k{i}" for i in range(50))
        for i in range(10):
            tracker.mark_done(f"k{i}")
        tracker.update({"k20": {"_error": {"type": "OSError", "message": "m", "at": 1.7e9}}})
    watch = open_watch(f"{redis_url}#served")
    with Server(watch, every=0.1) as server:
        counts = get(server, "/status.json")["counts"]
        assert (counts["total"], counts["done"], counts["todo"], counts["failed"]) == (50, 10, 40, 1)
        assert get(server, "/failures.json")["groups"][0]["examples"] == ["k20"]
        assert get(server, "/key.json?key=k3")["record"]["_done"] is True
        page = get(server, "/keys.json?state=done&limit=4")
        assert page["keys"] == ["k0", "k1", "k2", "k3"]
        assert get(server, f"/keys.json?state=done&limit=100&cursor={page['next']}")["keys"] == [
            f"k{i}" for i in range(4, 10)
        ]
        with tastypy.RedisTracker(redis_url, "served") as tracker:
            tracker.mark_done("k30")
        wait_for(lambda: get(server, "/status.json")["counts"]["done"] == 11)


def _cli(*args: str, timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tastypy", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_the_command_line_serves_until_interrupted(tmp_path):
    folder = tmp_path / "job"
    make_tracker(folder)
    child = subprocess.Popen(
        [sys.executable, "-m", "tastypy", "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith(f"serving {folder} at http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/status.json")
        assert json.loads(conn.getresponse().read())["counts"]["total"] == 300
        conn.close()
        child.send_signal(2)  # Ctrl-C
        assert child.wait(timeout=CHILD_TIMEOUT) == 0
    finally:
        stop(child)


def test_the_command_line_refuses_what_it_cannot_serve(tmp_path):
    result = _cli("serve", str(tmp_path / "missing"))
    assert result.returncode == 1 and "no such folder" in result.stderr
    with tastypy.POD(tmp_path / "pod") as pod:
        pod["a"] = 1
    result = _cli("serve", str(tmp_path / "pod"))
    assert result.returncode == 1 and "not a tracker" in result.stderr, result.stderr


def test_serve_reads_the_folder_and_never_writes_it(served):
    before = _files(served.folder)
    for path in ("/", "/status.json", "/failures.json", "/keys.json?state=all", "/key.json?key=/page/1", "/metrics"):
        request(served, "GET", path)
    assert _files(served.folder) == before


_FINISH = """
import sys, time, tastypy
with tastypy.Tracker(sys.argv[1]) as tracker:
    for key in list(tracker):
        time.sleep(0.005)
        tracker.mark_done(key)
        tracker.sync()
"""


@pytest.mark.timeout(120)
def test_progress_watch_counts_once_then_follows_the_changes(tmp_path, monkeypatch, capsys):
    from tastypy import cli

    folder = tmp_path / "job"
    with tastypy.Tracker(folder) as tracker:
        tracker.add_many(f"k{i}" for i in range(300))
    counted = []
    real = FolderWatch._count
    monkeypatch.setattr(FolderWatch, "_count", lambda self: (counted.append(1), real(self)))
    writer = subprocess.Popen([sys.executable, "-c", _FINISH, str(folder)], cwd=ROOT)
    try:
        assert cli.main(["progress", str(folder), "--watch", "--every", "0.05"]) == 0
    finally:
        writer.wait(timeout=CHILD_TIMEOUT)
    out = capsys.readouterr().out
    assert "done             300  100.00 %" in out
    assert counted == [1], "a tick read the whole folder again"


def test_a_value_that_is_no_record_written_later_keeps_the_counts_in_step(tmp_path):
    from tastypy.store import DELETE, Store

    folder = tmp_path / "job"
    make_tracker(folder, n=30)
    watch = FolderWatch(folder)
    try:
        total = watch.counts(time.time())["total"]
        writer = Store(folder)
        try:
            writer.commit([("odd", "[1, 2]"), ("/page/0", '{"_done":false,"_tries":"x","_aborted":false}')])
            watch.refresh()
            assert watch.counts(time.time())["total"] == total + 1
            writer.commit([("odd", DELETE), ("/page/0", '{"_done":true,"_tries":1,"_aborted":false}')])
            watch.refresh()
        finally:
            writer.close()
        counts = watch.counts(time.time())
        final = recount(folder)
        assert (counts["total"], counts["done"], counts["tried"]) == (final.total, final.done, final.tried)
    finally:
        watch.close()


def test_a_shared_trackers_folder_is_served_while_its_server_runs(tmp_path):
    folder = tmp_path / "shared"
    with tastypy.SharedTracker(folder) as shared:
        shared.add_many(f"k{i}" for i in range(20))
        shared.sync()
        with Server(FolderWatch(folder), every=0.1) as server:
            assert get(server, "/status.json")["counts"]["todo"] == 20
            for i in range(5):
                shared.mark_done(f"k{i}")
            shared.sync()
            wait_for(lambda: get(server, "/status.json")["counts"]["done"] == 5)
            assert get(server, "/keys.json?state=done")["keys"] == [f"k{i}" for i in range(5)]
