"""Instructions per operation of W1, W3 and W4 under callgrind: noise-free figures.

    python benchmarks/instructions.py [--n 20000] [--systems floor,tastypy] [--workloads w1,w3,w4]

Each figure is one callgrind run of the workload minus one of everything
else (interpreter start, data, open), divided by n, with
``PYTHONHASHSEED=0``: the same code gives the same count to about 1 %,
whatever the load of the machine. Counts ignore cache misses and time spent
waiting for fsync: compare them with the timings of ``run.py``, not
instead of them. Needs valgrind. ``--env NOGC=1`` runs the workload with the
collector off, ``--env PLAIN=1`` makes tastypy's reads return plain values
(no proxy), to split a figure.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # measure the working tree's tastypy


def child(system_name: str, workload: str, n: int, base: Path, work: Path, setup_only: bool) -> None:
    """One workload (or only its setup) in this process, as ``_workloads`` runs it."""
    import _workloads as W
    from _systems import by_name

    system = by_name(system_name)
    if workload == "w1":
        work.mkdir()
        items = W.make_items(n)
        d = system.open(work)
        gc.collect()
        if not setup_only:
            W._insert(system, d, items)
    else:
        shutil.copytree(base, work)
        d = system.open(work)
        if os.environ.get("PLAIN"):
            d._proxy_types = {}
        keys = W.pick_keys(n, n, 0 if workload == "w3" else 1)
        if workload == "w4":  # as in the harness: W3 ran first on the same mapping
            W._reads(d, W.pick_keys(n, n, 0))
        gc.collect()
        if os.environ.get("NOGC"):
            gc.disable()
        if not setup_only:
            if workload == "w3":
                W._reads(d, keys)
            else:
                with system.batch(d):
                    W._updates(system)(d, keys)
                system.durable(d)
    os._exit(0)  # no close: the same for the workload and its setup


def count(args: list[str], env: dict[str, str]) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, *args],
        capture_output=True, text=True, env=env, timeout=3600, check=True,
    )
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--systems", default="floor,tastypy")
    parser.add_argument("--workloads", default="w1,w3,w4")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the measured runs")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONHASHSEED="0", **dict(e.split("=", 1) for e in args.env))
    import _workloads as W
    from _systems import by_name

    with tempfile.TemporaryDirectory(prefix="tastypy-instr-") as tmp:
        print(f"| n = {args.n:,} | " + " | ".join(args.workloads.split(",")) + " |")
        print("|---|" + "---:|" * len(args.workloads.split(",")))
        for name in args.systems.split(","):
            system = by_name(name)
            base = Path(tmp) / f"base-{name}"
            base.mkdir()
            d = system.open(base)
            W._insert(system, d, W.make_items(args.n))
            system.close(d)
            cells = []
            for workload in args.workloads.split(","):
                runs = []
                for setup in ("full", "setup"):
                    work = Path(tmp) / f"{name}-{workload}-{setup}-{time.monotonic_ns()}"
                    runs.append(count(["child", name, workload, str(args.n), str(base), str(work), setup], env))
                cells.append(f"{(runs[0] - runs[1]) / args.n:,.0f}")
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        _, _, name, workload, n, base, work, setup = sys.argv
        child(name, workload, int(n), Path(base), Path(work), setup == "setup")
    else:
        main()
