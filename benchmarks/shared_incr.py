"""W7: atomic increments from 4 processes, SharedPOD ``.set`` against its peers.

Rerun with::

    python benchmarks/shared_incr.py [--procs 4] [--incr 2000] [--repeats 5]

Each of ``--procs`` processes (fork), started together at a barrier, does
``--incr`` increments of one counter:

* ``tastypy``: ``shared.set['c']['n'] += 1`` (one call, applied on the server);
* ``diskcache``: ``Cache.incr('c')`` (one SQLite transaction);
* ``Manager dict+lock``: ``with lock: d['c'] += 1`` on ``Manager().dict()``.

The contenders take turns within each repeat, so a noisy machine hurts them
alike; the table gives the median ops/s of the repeats, its ratio to
diskcache's in this same run, and in how many repeats the count was exact.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _w7 import CONTENDERS, w7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--incr", type=int, default=2000, help="increments per process")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    rates: dict[str, list] = {name: [] for name in CONTENDERS}
    exact: dict[str, int] = dict.fromkeys(CONTENDERS, 0)
    with tempfile.TemporaryDirectory(prefix="tastypy-bench-") as folder:
        for repeat in range(options.repeats):
            for name in CONTENDERS:
                result = w7(name, Path(folder) / f"{repeat}-{len(rates[name])}-{name}", options.procs, options.incr)
                if "W7 error" in result:
                    sys.exit(f"{name}: {result['W7 error']}")
                rates[name].append(result["W7"])
                exact[name] += result["W7 exact"]
    _print(rates, exact, options)


def _print(rates: dict, exact: dict, options: argparse.Namespace) -> None:
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{options.procs} processes x {options.incr:,} increments, median of {options.repeats} repeats\n")
    print(f"| W7: {options.procs} processes × {options.incr:,} increments | ops/s | vs diskcache | exact count |")
    print("|---|---:|---:|---|")
    base = statistics.median(rates["diskcache"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}× | {exact[name]} of {options.repeats} runs |")


if __name__ == "__main__":
    main()
