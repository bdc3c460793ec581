"""P: what an observable proxy costs, beside the same on a plain dict.

    python benchmarks/proxy_cost.py [--reps 15] [--loops 20000] [--profile]

Each case runs ``--loops`` times in a loop, ``--reps`` times; the figure is
ns per operation net of the empty loop, median and P90 over the repetitions.
The garbage collector runs as in a program, except in the row marked
"gc off". The ``OTHER`` rows compare other things than a POD: the same
append through a minimal owner that only caches the top-level proxy
(observe/'s own share of the POD's row; the rest is the POD's callback),
and ``normalize`` of a 5-field record beside ``dict(record)``. Timed with
``time.process_time`` (this process's CPU time), which other processes on
a shared machine inflate much less than wall time.
``--profile`` also prints a cProfile of the tastypy side of each case.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
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
    ("W3: v = pod[ks[i]]; v['tries']", "v = d[ks[i]]; v['tries']", "op"),
    ("W3: v = pod[ks[i]]; v['tries'], gc off", "v = d[ks[i]]; v['tries']", "op"),
    ("pod[k]['tags']", "d[k]['tags']", "op"),
    ("pod[k]['tags'].append(x)", "d[k]['tags'].append(x)", "op"),
    ("len(pod[k])", "len(d[k])", "op"),
    ("for y in pod['list']['tags'] (100 items)", "for y in d['list']['tags']: pass", "item"),
]

#: (label, statement, what stands in for the POD, for the dict): ``owner``
#: is a minimal owner of proxies, ``normalize`` runs on plain dicts.
OTHER = [
    ("owner[k]['tags'].append(x) (observe/ alone)", "d[k]['tags'].append(x)", "owner", "dict"),
    ("normalize(record), 5 fields (vs dict(record))", "f(d[k])", "normalize", "dict"),
]

KEYS = 20_000
LIST = 100


def _loop(statement: str) -> Any:
    source = f"def run(d, k, ks, x, n, f=None):\n    for i in range(n):\n        {statement}\n"
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


def _time(run: Any, d: Any, ks: list, loops: int, f: Any = None) -> float:
    start = time.process_time_ns()
    run(d, "key-7", ks, 1, loops, f)
    return time.process_time_ns() - start


class Owner:
    """The least a POD does around its proxies: cache one per key, hear the ``Op``s."""

    def __init__(self, data: dict) -> None:
        from tastypy.observe import WRITABLE

        self._data = data
        self._kinds = WRITABLE
        self._proxies: dict = {}

    def report(self, op: Any, root: Any) -> None:
        pass

    def __getitem__(self, key: Any) -> Any:
        value = self._data[key]
        proxy_class = self._kinds.get(type(value))
        if proxy_class is None:
            return value
        known = self._proxies.get(key)
        if known is not None and known[0] is value:
            return known[1]
        proxy = proxy_class(value, (key,), self.report, value)
        self._proxies[key] = (value, proxy)
        return proxy


def _record() -> dict:
    return {"url": "https://example.com/page/7", "tries": 0, "done": False,
            "tags": ["a", "b"], "score": 0.5}


def _samples(run: Any, sides: list, ks: list, loops: int, per: int, reps: int, gc_off: bool) -> dict:
    empty = _loop("pass")
    samples: dict = {name: [] for name, _, _ in sides}
    for _ in range(reps):
        # Interleaved; each side net of the empty loop of the same run.
        for name, d, f in sides:
            if gc_off:
                gc.disable()
            try:
                base = _time(empty, d, ks, loops, f)
                samples[name].append(max(0.0, _time(run, d, ks, loops, f) - base) / per)
            finally:
                gc.enable()
    return samples


def _row(label: str, unit: str, samples: dict, reps: int) -> dict:
    row = {"case": label, "unit": unit}
    for name, values in samples.items():
        row[name] = statistics.median(values)
        row[name + " p90"] = sorted(values)[min(reps - 1, int(0.9 * reps))]
    row["ratio"] = row["tastypy"] / row["dict"] if row["dict"] else float("inf")
    return row


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
        rows = []
        for label, statement, unit in CASES:
            run = _loop(statement)
            per = loops * (LIST if unit == "item" else 1)
            sides = [("dict", plain, None), ("tastypy", pod, None)]
            samples = _samples(run, sides, ks, loops, per, reps, label.endswith("gc off"))
            # append grows the list: give both sides their two tags back.
            plain["key-7"]["tags"] = ["a", "b"]
            pod["key-7"]["tags"] = ["a", "b"]
            rows.append(_row(label, unit, samples, reps))
        from tastypy.observe import normalize

        for label, statement, mine, _ in OTHER:
            run = _loop(statement)
            if mine == "owner":
                other = {"key-7": _record()}
                sides = [("dict", {"key-7": _record()}, None), ("tastypy", Owner(other), None)]
            else:
                records = {"key-7": _record()}
                sides = [("dict", records, dict), ("tastypy", records, normalize)]
            rows.append(_row(label, "op", _samples(run, sides, ks, loops, loops, reps, False), reps))
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
