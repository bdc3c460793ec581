"""What the thread lock costs: W1, W3, W4 on one thread, before and after, and W4 on 8 threads.

    python benchmarks/threads.py [--n 100000] [--reps 5] [--before REV] [--json FILE]

``--before`` names the commit to compare with (default: the one before the
lock, 3c8a2e9); its tastypy is taken with ``git archive`` into a temporary
folder. Each measurement runs in a fresh process, the two trees alternate
within each repetition, and the figures are medians. Each workload is
timed twice: on the wall clock, and in CPU time of the process
(``time.process_time``), which a machine busy with other work disturbs far
less and which is what a lock adds to. W4x8: the same n updates
``pod[k]['tries'] += 1`` shared by 8 threads of one process on one POD,
then a sync; its ratio is to W4 on one thread of the same tree.
Results: benchmarks/RESULTS.md ("Threads").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREADS = 8


def _child(n: int, ops: int, folder: str) -> dict:
    """Runs in the fresh process: the tastypy on sys.path is the tree measured."""
    import tastypy  # first: _workloads puts this checkout on sys.path

    sys.path.insert(0, str(HERE))
    import _workloads

    items = _workloads.make_items(n)
    keys = _workloads.pick_keys(n, ops, seed=1)
    out: dict = {}

    def clocks() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def took(name: str, began: tuple[float, float], count: int) -> None:
        wall, cpu = clocks()
        out[name] = (wall - began[0]) / count * 1e6
        out[name + " cpu"] = (cpu - began[1]) / count * 1e6

    pod = tastypy.POD(Path(folder) / "w1")
    began = clocks()
    for key, value in items:
        pod[key] = value
    pod.sync()
    took("W1", began, n)
    pod.close()

    pod = tastypy.POD(Path(folder) / "w1")
    began = clocks()
    for key in keys:
        pod[key]["tries"]
    took("W3", began, ops)

    began = clocks()
    for key in keys:
        pod[key]["tries"] += 1
    pod.sync()
    took("W4", began, ops)

    if hasattr(pod, "locked"):  # only a tree with the lock is safe to measure on threads
        parts = [keys[i::THREADS] for i in range(THREADS)]

        def work(part: list) -> None:
            for key in part:
                pod[key]["tries"] += 1

        threads = [threading.Thread(target=work, args=(part,)) for part in parts]
        began = clocks()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pod.sync()
        took("W4x8", began, ops)
    pod.close()
    out["tastypy"] = tastypy.__file__
    return out


def measure(tree: Path, n: int, ops: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, PYTHONPATH=str(tree))
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import threads, json; " \
               f"print(json.dumps(threads._child({n}, {ops}, {folder!r})))"
        # cwd: a ``-c`` child puts its working folder first on sys.path.
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, timeout=900, check=True, cwd=folder)
        return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", default="3c8a2e9", help="the commit to compare with")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    before = Path(tempfile.mkdtemp())
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "tastypy"],
                                 capture_output=True, check=True, timeout=60).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True, timeout=60)
        runs: dict[str, list[dict]] = {"before": [], "now": []}
        for rep in range(args.reps):
            order = ("before", "now") if rep % 2 == 0 else ("now", "before")
            for name in order:
                runs[name].append(measure(before if name == "before" else ROOT, args.n, args.n))
                print(f"rep {rep + 1} {name}: {runs[name][-1]}", file=sys.stderr)
    finally:
        shutil.rmtree(before)
    med = {name: {w: statistics.median(r[w] for r in rs) for w in rs[0] if w != "tastypy"} for name, rs in runs.items()}
    print(f"n = {args.n:,}, {args.reps} repetitions, medians, µs per operation; "
          f"load average at end {os.getloadavg()[0]:.2f}\n")
    print(f"| workload | before ({args.before}) | now (with the lock) | now / before |")
    print("|---|---|---|---|")
    for w in ("W1", "W3", "W4", "W1 cpu", "W3 cpu", "W4 cpu"):
        print(f"| {w} | {med['before'][w]:.2f} | {med['now'][w]:.2f} | {med['now'][w] / med['before'][w]:.3f} |")
    print(f"\nW4 on {THREADS} threads: {med['now']['W4x8']:.2f} µs per update, "
          f"{med['now']['W4'] / med['now']['W4x8']:.2f}× the throughput of one thread")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "reps": args.reps, "runs": runs, "medians": med}, indent=1))


if __name__ == "__main__":
    main()
