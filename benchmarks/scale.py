"""A million entries: what opening and holding a big POD or Tracker costs.

    python benchmarks/scale.py [--n 1000000] [--reps 3] [--json FILE]
    python benchmarks/scale.py --n 10000000 --reps 1 --no-dict   # 10 million

Writes n tracker-like records (URL keys; ``_done``, ``_tries``, ``_aborted``
and two fields of the user's) once as a Tracker folder and once as JSON lines
(``<key>\\t<value>``, the shard line format). Then, in a fresh process each
time, opens them: the baseline parses the JSON lines into a plain dict; POD
and Tracker open the folder (the Tracker with its counters ready). Reported
per system: median seconds to open, and the memory the opened data holds
(resident set after opening minus before, median), and both as ratios to the
plain dict measured in the same run. Systems are interleaved in each
repetition. "Tracker (writer)" opens the folder for writing (the lock, the
journal, the orphan sweep), then changes one key at a time, 20 times
(``tracker[k]['status'] = …``) and times each ``tracker.sync()``: the median
is its "1-key sync, ms".
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Seconds one opening may take before the run is called broken.
CHILD_TIMEOUT = 900

# Each child prints "seconds rss_bytes"; the first lines make the
# measurement fair: imports done and the interpreter settled before timing.
_PRELUDE = """
import gc, json, os, sys, time
sys.path.insert(0, {root!r})
import tastypy

def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

writer = False
gc.collect()
before = rss()
start = time.perf_counter()
"""

OPENERS = {
    "dict": """
data = {}
loads = json.loads
with open(sys.argv[1], encoding='utf-8') as f:
    for line in f:
        k, v = line.split('\\t', 1)
        key = loads(k)
        data[tuple(key) if type(key) is list else key] = loads(v)
""",
    "POD": """
data = tastypy.POD(sys.argv[2], mode='r')
len(data)
""",
    "Tracker": """
data = tastypy.ProgressTracker(sys.argv[2], mode='r')
data.num_done(); data.num_tried(); data.num_aborted()
""",
    "Tracker (writer)": """
data = tastypy.ProgressTracker(sys.argv[2])
writer = True
data.num_done(); data.num_tried(); data.num_aborted()
""",
}

_REPORT = """
seconds = time.perf_counter() - start
memory = rss() - before
syncs = []
if writer:
    keys = [next(iter(data))] + [f"https://example.com/page/{i * 7919 % len(data)}" for i in range(19)]
    for n, key in enumerate(keys):
        data[key]["status"] = 300 + n  # its first read decodes its shard: not timed
        begin = time.perf_counter()
        data.sync()
        syncs.append(time.perf_counter() - begin)
    data.revert()  # the folder keeps the records as written (its journal holds the 20 updates)
print(json.dumps({"seconds": seconds, "rss": memory, "syncs": syncs}))
"""


def record(i: int) -> dict:
    return {"_done": i % 3 == 0, "_tries": i % 4, "_aborted": i % 50 == 0, "status": 200, "size": i % 9973}


def write(folder: Path, n: int) -> tuple[Path, Path]:
    """The Tracker folder and the JSON-lines file of the same n records."""
    sys.path.insert(0, str(ROOT))
    import tastypy

    lines = folder / "records.jsonl"
    tracker_path = folder / "tracker"
    chunk = 100_000
    with open(lines, "w", encoding="utf-8") as out:
        for low in range(0, n, chunk):
            # Reopened every million: the values written stay unread, as after an open.
            if low % 1_000_000 == 0:
                tracker = tastypy.ProgressTracker(tracker_path)
            batch = {f"https://example.com/page/{i}": record(i) for i in range(low, min(n, low + chunk))}
            tracker.update(batch)
            out.writelines(
                f"{json.dumps(k, ensure_ascii=False)}\t{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}\n"
                for k, v in batch.items()
            )
            if (low + chunk) % 1_000_000 == 0 or low + chunk >= n:
                tracker.close()
    return lines, tracker_path


def open_once(system: str, lines: Path, tracker: Path) -> dict:
    code = _PRELUDE.format(root=str(ROOT)) + OPENERS[system] + _REPORT
    result = subprocess.run(
        [sys.executable, "-c", code, str(lines), str(tracker)],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{system}: {result.stderr.strip()}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--no-dict", action="store_true", help="skip the plain dict (its memory at 10M)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tastypy-scale-"))
    try:
        started = time.perf_counter()
        lines, tracker = write(folder, args.n)
        print(f"wrote {args.n:,} records in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        names = [name for name in OPENERS if not (args.no_dict and name == "dict")]
        raw: dict = {name: [] for name in names}
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[: rep % len(names)]:
                raw[name].append(open_once(name, lines, tracker))
                shown = {k: v for k, v in raw[name][-1].items() if k != "syncs"}
                print(f"rep {rep + 1} {name}: {shown}", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(raw, args.n)
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "reps": args.reps, "raw": raw}, indent=1))


def report(raw: dict, n: int) -> None:
    base = raw.get("dict")
    base_s = statistics.median(r["seconds"] for r in base) if base else None
    base_m = statistics.median(r["rss"] for r in base) if base else None
    print(f"n = {n:,}, medians of {len(next(iter(raw.values())))} fresh processes\n")
    print("| | open, s | × dict parse | memory, MB | × dict | 1-key sync, ms (median of 20) |")
    print("|---|---|---|---|---|---|")
    for name, runs in raw.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        memory = statistics.median(r["rss"] for r in runs)
        syncs = [s for r in runs for s in r["syncs"]]
        sync = f"{statistics.median(syncs) * 1e3:.2f}" if syncs else "—"
        vs_s = f"{seconds / base_s:.2f}" if base_s else "—"
        vs_m = f"{memory / base_m:.2f}" if base_m else "—"
        print(f"| {name} | {seconds:.2f} | {vs_s} | {memory / 1e6:.0f} | {vs_m} | {sync} |")


if __name__ == "__main__":
    main()
