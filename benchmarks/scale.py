"""A million entries: what opening and holding a big POD or Tracker costs.

    python benchmarks/scale.py [--n 1000000] [--reps 3] [--json FILE]

Writes n tracker-like records (URL keys; ``_done``, ``_tries``, ``_aborted``
and two fields of the user's) once as a Tracker folder and once as JSON lines
(``<key>\\t<value>``, the shard line format). Then, in a fresh process each
time, opens them: the baseline parses the JSON lines into a plain dict; POD
and Tracker open the folder (the Tracker with its counters ready). Reported
per system: median seconds to open, and the memory the opened data holds
(resident set after opening minus before, median), and both as ratios to the
plain dict measured in the same run. Systems are interleaved in each
repetition.
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
}

_REPORT = """
seconds = time.perf_counter() - start
print(seconds, rss() - before)
"""


def record(i: int) -> dict:
    return {"_done": i % 3 == 0, "_tries": i % 4, "_aborted": i % 50 == 0, "status": 200, "size": i % 9973}


def write(folder: Path, n: int) -> tuple[Path, Path]:
    """The Tracker folder and the JSON-lines file of the same n records."""
    sys.path.insert(0, str(ROOT))
    import tastypy

    lines = folder / "records.jsonl"
    tracker_path = folder / "tracker"
    tracker = tastypy.ProgressTracker(tracker_path)
    chunk = 100_000
    with open(lines, "w", encoding="utf-8") as out:
        for low in range(0, n, chunk):
            batch = {f"https://example.com/page/{i}": record(i) for i in range(low, min(n, low + chunk))}
            tracker.update(batch)
            out.writelines(
                f"{json.dumps(k, ensure_ascii=False)}\t{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}\n"
                for k, v in batch.items()
            )
    tracker.close()
    return lines, tracker_path


def open_once(system: str, lines: Path, tracker: Path) -> tuple[float, int]:
    code = _PRELUDE.format(root=str(ROOT)) + OPENERS[system] + _REPORT
    result = subprocess.run(
        [sys.executable, "-c", code, str(lines), str(tracker)],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{system}: {result.stderr.strip()}")
    seconds, rss = result.stdout.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tastypy-scale-"))
    try:
        started = time.perf_counter()
        lines, tracker = write(folder, args.n)
        print(f"wrote {args.n:,} records in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        raw: dict = {name: [] for name in OPENERS}
        names = list(OPENERS)
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[: rep % len(names)]:
                raw[name].append(open_once(name, lines, tracker))
                print(f"rep {rep + 1} {name}: {raw[name][-1]}", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(raw, args.n)
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "reps": args.reps, "raw": raw}, indent=1))


def report(raw: dict, n: int) -> None:
    base_s = statistics.median(s for s, _ in raw["dict"])
    base_m = statistics.median(m for _, m in raw["dict"])
    print(f"n = {n:,}, medians of {len(raw['dict'])} fresh processes\n")
    print("| | open, s | × dict parse | memory, MB | × dict |")
    print("|---|---|---|---|---|")
    for name, runs in raw.items():
        seconds = statistics.median(s for s, _ in runs)
        memory = statistics.median(m for _, m in runs)
        print(f"| {name} | {seconds:.2f} | {seconds / base_s:.2f} | {memory / 1e6:.0f} | {memory / base_m:.2f} |")


if __name__ == "__main__":
    main()
