"""``tastypy serve`` on a million records: response times, refresh cost, memory, ETA after a resume.

    python benchmarks/serve_bench.py [--n 1000000] [--reps 50]
    python benchmarks/serve_bench.py --eta [--eta-pages 45000]

Builds a Tracker folder of n records (URL keys; 30 % done, 1 % failed with
an ``_error`` and a ``_retry_at``, written in the tracker's normal form),
then measures, each figure the median (P90) of ``--reps`` tries:

* ``/status.json`` and the first page (``/``, then ``/status.json`` and
  ``/failures.json``, what the page asks for on load): wall time from a
  client in this process to ``tastypy serve`` running in its own process.
* a refresh after 1,000 records changed (one writer commit): the time of
  ``FolderWatch.refresh()`` here, next to a whole re-read and recount (what
  ``progress --watch`` did each tick before) measured in the same run.
* memory: the resident set of a process that opened the folder read-only
  (a ``Store``, and a ``Tracker(mode='r')``), and of ``tastypy serve``
  after its first count, each in a fresh process.

``--eta`` runs the acceptance of the ETA on the demo itself instead
(``tastypy demo`` with 2 workers, about 7 minutes; alone, since the demo's
pace is what is measured): it runs for a minute, is stopped (Ctrl-C) for two
minutes, resumes; 60 s after the resume the ETA of ``/status.json`` is
compared with the time that actually remained (until the demo exits).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tastypy.serve.watch import FolderWatch  # noqa: E402 (after the path)
from tastypy.store import Store  # noqa: E402

CHILD_TIMEOUT = 900
_RECORD = '{"_done":%s,"_tries":%d,"_aborted":false,"title":"Page %d","bytes":%d}'


def record(i: int, done: bool, now: float) -> str:
    text = _RECORD % ("true" if done else "false", 1 if done else 0, i, 1000 + i % 5000)
    if not done and i % 100 == 7:  # 1 %: a failure waiting for its due time
        kind = ("TimeoutError", "ConnectionError", "HTTPError")[i % 3]
        error = {"type": kind, "message": "simulated", "at": now - i % 3600, "traceback": ""}
        text = text[:-1] + ',"_error":%s,"_retry_at":%r}' % (json.dumps(error), now + 600)
    return text


def build(folder: Path, n: int) -> None:
    now = time.time()
    store = Store(folder)
    try:
        for start in range(0, n, 100_000):
            store.commit([(f"/page/{i}", record(i, i % 10 < 3, now)) for i in range(start, min(n, start + 100_000))])
    finally:
        store.close()


def timed(fn, reps: int) -> dict:
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    times.sort()
    return {"median_ms": 1000 * statistics.median(times), "p90_ms": 1000 * times[int(0.9 * (len(times) - 1))]}


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:200])
        return body
    finally:
        conn.close()


def start_serve(target: str, *extra: str) -> tuple[subprocess.Popen, int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tastypy", "serve", target, "--port", "0", *extra],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = child.stdout.readline()
    match = re.search(r":(\d+)/", line)
    if not match:
        child.kill()
        raise RuntimeError(f"tastypy serve did not start: {line!r}")
    return child, int(match[1])


def stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=30)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read())[1])


_OPEN = """
import gc, re, sys, time
sys.path.insert(0, {root!r})
import tastypy
from tastypy.store import Store
kind = {kind!r}
if kind == "store":
    held = Store({folder!r}, read_only=True)
else:
    held = tastypy.Tracker({folder!r}, mode="r")
gc.collect()
print(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read())[1], flush=True)
"""


def open_rss(folder: Path, kind: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _OPEN.format(root=str(ROOT), folder=str(folder), kind=kind)],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=True,
    )
    return int(out.stdout.split()[-1])


def serve_rss(folder: Path, seconds: float = 5.0) -> int:
    child, port = start_serve(str(folder))
    try:
        get(port, "/")
        get(port, "/status.json")
        time.sleep(seconds)  # a few refresh ticks
        for _ in range(20):
            get(port, "/status.json")
            get(port, "/failures.json")
        return rss_kib(child.pid)
    finally:
        stop(child)


def measure(folder: Path, n: int, reps: int) -> dict:
    results: dict = {}
    child, port = start_serve(str(folder))
    try:
        get(port, "/status.json")  # warm
        results["status_json"] = timed(lambda: get(port, "/status.json"), reps)
        results["first_page"] = timed(
            lambda: (get(port, "/"), get(port, "/status.json"), get(port, "/failures.json")), reps
        )
        results["keys_json_page"] = timed(lambda: get(port, "/keys.json?state=failed&limit=100"), reps)
    finally:
        stop(child)

    # Refresh after 1,000 changes: one commit of 1,000 records, then FolderWatch.refresh().
    watch = FolderWatch(folder)
    writer = Store(folder)
    try:
        now = time.time()
        refresh, reread = [], []
        for rep in range(max(5, reps // 5)):
            base = (rep * 1000 * 7) % (n - 1000)
            writer.commit([(f"/page/{i}", record(i, True, now)) for i in range(base, base + 1000)])
            began = time.perf_counter()
            changed = watch.refresh()
            refresh.append(time.perf_counter() - began)
            assert changed == 1000, changed
            began = time.perf_counter()
            whole = Store(folder, read_only=True)  # the old way: read everything, count everything
            from tastypy.serve.records import infos_of_texts

            for texts in whole.texts():
                for _ in infos_of_texts(texts):
                    pass
            whole.close()
            reread.append(time.perf_counter() - began)
        results["refresh_after_1000"] = {
            "median_ms": 1000 * statistics.median(refresh), "max_ms": 1000 * max(refresh),
            "whole_reread_median_ms": 1000 * statistics.median(reread),
            "recounts": watch.recounts,
        }
    finally:
        writer.close()
        watch.close()

    store_kib, tracker_kib = open_rss(folder, "store"), open_rss(folder, "tracker")
    served_kib = serve_rss(folder)
    results["memory_mib"] = {
        "store_read_only_open": store_kib / 1024, "tracker_mode_r_open": tracker_kib / 1024,
        "tastypy_serve": served_kib / 1024,
        "serve_beyond_store_open": (served_kib - store_kib) / 1024,
        "serve_beyond_tracker_open": (served_kib - tracker_kib) / 1024,
    }
    return results


def eta_on_the_demo(workdir: Path, pages: int) -> dict:
    """Run the demo, stop it two minutes, resume; the ETA 60 s after the resume vs what remained."""
    folder = workdir / "demo"

    def demo() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tastypy", "demo", str(folder), "--pages", str(pages), "--workers", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    job = demo()
    time.sleep(10)
    child, port = start_serve(str(folder))
    try:
        time.sleep(50)
        os.killpg(job.pid, signal.SIGINT)  # Ctrl-C
        job.wait(timeout=120)
        time.sleep(120)
        job = demo()
        resumed = time.time()
        time.sleep(60)
        status = json.loads(get(port, "/status.json"))
        asked = time.time()
        job.wait(timeout=3600)
        finished = time.time()
        # The demo ends with the keys still waiting given up: the end of the work is when it exits.
        actual = finished - asked
        eta = status["eta"]["seconds"]
        return {
            "pages": pages, "resumed_at": resumed, "eta_seconds": eta, "actual_seconds": actual,
            "error_percent": None if eta is None else 100 * (eta - actual) / actual,
            "eta_state": status["eta"]["state"], "todo_then": status["counts"]["todo"],
        }
    finally:
        stop(child)
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--eta", action="store_true", help="the ETA acceptance on the demo instead (7 minutes)")
    parser.add_argument("--eta-pages", type=int, default=45_000)
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    began = time.time()
    try:
        machine = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cores": os.cpu_count(), "load_at_start": os.getloadavg(),
            "python": platform.python_version(), "platform": platform.platform(),
        }
        if args.eta:
            results = {"machine": machine, "eta_after_resume": eta_on_the_demo(workdir, args.eta_pages)}
        else:
            folder = workdir / "tracker"
            build(folder, args.n)
            results = {"machine": machine, "n": args.n, "reps": args.reps, **measure(folder, args.n, args.reps)}
        results["machine"]["load_at_end"] = os.getloadavg()
        results["seconds"] = time.time() - began
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
