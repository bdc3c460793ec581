"""P: what an observable proxy costs, beside the same on a plain dict.

    python benchmarks/proxy_cost.py [--reps 15] [--loops 20000] [--profile]

Each case runs ``--loops`` times in a loop, ``--reps`` times; the figure is
ns per operation net of the empty loop, median and P90 over the repetitions.
``--profile`` also prints a cProfile of the tastypy side of each case.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: (label, statement on ``d``, unit it is counted in): ``k`` a key, ``ks`` a
#: list of other keys, ``x`` a scalar; ``i`` is the loop counter.
CASES = [
    ("pod[k]", "d[k]", "op"),
    ("pod[k], a different key each time", "d[ks[i]]", "op"),
    ("pod[k]['tags']", "d[k]['tags']", "op"),
    ("pod[k]['tags'].append(x)", "d[k]['tags'].append(x)", "op"),
    ("len(pod[k])", "len(d[k])", "op"),
    ("for y in pod['list']['tags'] (100 items)", "for y in d['list']['tags']: pass", "item"),
]

KEYS = 20_000
LIST = 100


def _loop(statement: str) -> Any:
    source = f"def run(d, k, ks, x, n):\n    for i in range(n):\n        {statement}\n"
    namespace: dict = {}
    exec(source, namespace)
    return namespace["run"]


def _data() -> dict:
    data = {
        f"key-{i}": {"url": f"https://example.com/page/{i}", "tries": 0, "done": False,
                     "tags": ["a", "b"]}
        for i in range(KEYS)
    }
    data["list"] = {"tags": list(range(LIST))}
    return data


def _time(run: Any, d: Any, ks: list, loops: int) -> float:
    start = time.perf_counter_ns()
    run(d, "key-7", ks, 1, loops)
    return time.perf_counter_ns() - start


def measure(reps: int = 15, loops: int = 20_000, folder: Path | None = None) -> list[dict]:
    """One row per case: median and P90 ns/op for the dict and for tastypy, and the ratio."""
    import tastypy

    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        plain = _data()
        pod = tastypy.POD(Path(tmp) / "pod", _data())
        pod.sync()
        ks = [f"key-{i}" for i in range(KEYS)]
        random.Random(6).shuffle(ks)
        loops = min(loops, KEYS)
        empty = _loop("pass")
        rows = []
        for label, statement, unit in CASES:
            run = _loop(statement)
            per = loops * (LIST if unit == "item" else 1)
            samples: dict[str, list[float]] = {"dict": [], "tastypy": []}
            for _ in range(reps):
                # Interleaved; each side net of the empty loop of the same run.
                for name, d in (("dict", plain), ("tastypy", pod)):
                    base = _time(empty, d, ks, loops)
                    samples[name].append(max(0.0, _time(run, d, ks, loops) - base) / per)
                # append grows the list: give both sides their two tags back.
                plain["key-7"]["tags"] = ["a", "b"]
                pod["key-7"]["tags"] = ["a", "b"]
            row = {"case": label, "unit": unit}
            for name, values in samples.items():
                row[name] = statistics.median(values)
                row[name + " p90"] = sorted(values)[min(reps - 1, int(0.9 * reps))]
            row["ratio"] = row["tastypy"] / row["dict"] if row["dict"] else float("inf")
            rows.append(row)
        pod.close()
    return rows


def profile(loops: int = 20_000) -> str:
    """cProfile of the tastypy side of every case, top functions by own time."""
    import tastypy

    out = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        pod = tastypy.POD(Path(tmp) / "pod", _data())
        pod.sync()
        ks = [f"key-{i}" for i in range(KEYS)]
        random.Random(6).shuffle(ks)
        for label, statement, _ in CASES:
            run = _loop(statement)
            profiler = cProfile.Profile()
            profiler.runcall(run, pod, "key-7", ks, 1, min(loops, KEYS))
            out.write(f"\n=== {label} ({min(loops, KEYS)} loops)\n")
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
        pod.close()
    return out.getvalue()


def table(rows: list[dict]) -> str:
    lines = [
        "| case | dict ns | tastypy ns | tastypy P90 ns | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = "" if r["unit"] == "op" else f" (per {r['unit']})"
        lines.append(
            f"| `{r['case']}`{per} | {r['dict']:.0f} | {r['tastypy']:.0f} "
            f"| {r['tastypy p90']:.0f} | {r['ratio']:.1f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--loops", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile per case")
    args = parser.parse_args()
    print(table(measure(args.reps, args.loops)))
    if args.profile:
        print(profile(args.loops))


if __name__ == "__main__":
    main()
