"""tastypy against its peers: W1-W7 and the proxy costs (P), in one run.

    python benchmarks/run.py [--n 100000] [--reps 5] [--json FILE]
    python benchmarks/run.py --quick          # n = 10,000, reps = 3

Installs nothing: the peers come from ``pip install -e '.[bench]'`` (a peer
that is missing is reported, not measured). Systems are interleaved within
each repetition (their order rotates), figures are medians over the
repetitions, ratios are to the plain dict measured in the same run. Prints
markdown tables; ``--json`` also writes every raw number. The committed
results are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure the working tree's tastypy

import _w7  # noqa: E402
import _workloads  # noqa: E402
import proxy_cost  # noqa: E402
from _systems import all_systems  # noqa: E402

#: Row id -> (label, unit, format); a median in each cell.
ROWS = {
    "W1": ("insert n, then durable", "µs/op", "{:.2f}"),
    "W2": ("reopen in a fresh process, read all", "µs/entry", "{:.2f}"),
    "W3": ("random reads `v = d[k]; v['tries']`", "µs/op", "{:.2f}"),
    "W4": ("random nested updates, then durable", "µs/op", "{:.2f}"),
    "W5": ("one-key durable update, store of n", "ms", "{:.3f}"),
    "W5 p90": ("  P90 of the same", "ms", "{:.3f}"),
    "W5 small": ("  same, store of n/10", "ms", "{:.3f}"),
    "W5 ratio": ("  ratio n : n/10 (1 = follows the change)", "×", "{:.2f}"),
    "W6": ("bytes on disk / bytes of the JSON", "×", "{:.2f}"),
}
#: Rows whose cells also show the ratio to the plain dict.
VS_DICT = ("W1", "W3", "W4")
#: The column of tastypy's figure over the floor's (issue 22's targets).
VS_FLOOR = "tastypy / floor"
#: Rows where that ratio means something (W5's own ratio is one already).
FLOOR_ROWS = ("W1", "W2", "W3", "W4", "W5", "W5 p90", "W5 small", "W6")


def vs_floor(med: dict, row: str) -> float | None:
    """tastypy's median over the floor's for ``row``, None where either lacks it."""
    if row not in FLOOR_ROWS:
        return None
    ours, floor = med.get("tastypy", {}).get(row), med.get("floor", {}).get(row)
    if not isinstance(ours, (int, float)) or not isinstance(floor, (int, float)) or not floor:
        return None
    return ours / floor


def machine() -> dict:
    """What the numbers were measured on."""
    import sqlite3

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load average at start": os.getloadavg(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "python": sys.version.split()[0] + " " + platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "shelve dbm": _default_dbm(),
    }
    for system in all_systems():
        if system.available() is None and system.version():
            info[system.name] = system.version()
    return info


def source_state() -> str:
    """The tastypy code measured: commit, and a digest of the working tree's sources."""
    import hashlib
    import subprocess

    root = HERE.parent
    digest = hashlib.sha256()
    for file in sorted((root / "tastypy").rglob("*.py")):
        digest.update(file.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
            text=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    return f"commit {commit or '?'}, sources sha256 {digest.hexdigest()[:12]}"


def _default_dbm() -> str:
    import dbm

    for name in dbm._names:
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return "none"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_workloads(n: int, ops: int, reps: int, folder: Path, log, names: list[str] | None = None) -> dict:
    """Raw results: system name -> list (one per repetition) of result dicts."""
    systems, skipped = [], {}
    for system in all_systems():
        if names is not None and system.name not in names:
            continue
        why = system.available()
        if why is None:
            systems.append(system)
        else:
            skipped[system.name] = why
    raw: dict = {s.name: [] for s in systems}
    loads = []
    for rep in range(reps):
        order = systems[rep % len(systems):] + systems[: rep % len(systems)]
        runs = {
            s.name: _workloads.Run(folder / f"r{rep}-{i}", n, ops, seed=rep)
            for i, s in enumerate(order)
        }
        for phase in _workloads.PHASES:
            for system in order:
                start = time.perf_counter()
                phase(system, runs[system.name])
                log(f"rep {rep + 1}/{reps} {phase.__name__} {system.name}: "
                    f"{time.perf_counter() - start:.1f} s")
        for system in order:
            raw[system.name].append(runs[system.name].results)
            shutil.rmtree(runs[system.name].path, ignore_errors=True)
            shutil.rmtree(str(runs[system.name].path) + "-small", ignore_errors=True)
        loads.append(os.getloadavg())
    return {"systems": raw, "skipped": skipped, "loads": loads}


def run_w7(procs: int, count: int, reps: int, folder: Path, log) -> dict:
    raw: dict = {name: [] for name in _w7.CONTENDERS}
    names = list(_w7.CONTENDERS)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            start = time.perf_counter()
            raw[name].append(_w7.w7(name, folder / f"w7-{rep}-{len(raw[name])}-{name[:4]}", procs, count))
            log(f"rep {rep + 1}/{reps} w7 {name}: {time.perf_counter() - start:.1f} s")
    return raw


def medians(reps: list[dict]) -> dict:
    """Median of each numeric figure over the repetitions; errors kept as text."""
    out: dict = {}
    for key in {k for r in reps for k in r}:
        values = [r[key] for r in reps if key in r]
        if all(isinstance(v, bool) for v in values):
            out[key] = all(values)
        elif all(isinstance(v, (int, float)) for v in values):
            out[key] = statistics.median(values)
        else:
            out[key] = values[0]
    return out


def main_table(raw: dict, n: int) -> str:
    names = list(raw["systems"])
    med = {name: medians(reps) for name, reps in raw["systems"].items()}
    floor = med.get("dict", {})
    lines = [
        f"| n = {n:,} | unit | " + " | ".join(names) + f" | {VS_FLOOR} |",
        "|---|---|" + "---:|" * (len(names) + 1),
    ]
    for row, (label, unit, fmt) in ROWS.items():
        cells = []
        for name in names:
            m = med[name]
            error = m.get(row.split()[0] + " error")
            if error and row in ("W2",):
                cells.append(f"error: {error}")
            elif row not in m:
                cells.append("—")
            else:
                cell = fmt.format(m[row])
                if row in VS_DICT and name != "dict" and floor.get(row):
                    cell += f" ({m[row] / floor[row]:.0f}×)"
                cells.append(cell)
        ratio = vs_floor(med, row)
        cells.append("—" if ratio is None else f"{ratio:.2f}×")
        head = f"{row} {label}" if not row.startswith("W5 ") else label
        lines.append(f"| {head} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def w7_table(raw: dict, procs: int, count: int) -> str:
    lines = [
        f"| W7: {procs} processes × {count:,} increments | ops/s | exact count |",
        "|---|---:|---|",
    ]
    for name, reps in raw.items():
        m = medians(reps)
        if "W7" in m:
            exact = sum(1 for r in reps if r.get("W7 exact"))
            lines.append(f"| {name} | {m['W7']:,.0f} | {exact} of {len(reps)} runs |")
        else:
            lines.append(f"| {name} | error: {m.get('W7 error')} | — |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="entries in the store")
    parser.add_argument("--ops", type=int, help="reads (W3) and updates (W4); default n")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="n = 10,000 and reps = 3")
    parser.add_argument("--procs", type=int, default=4, help="W7 processes")
    parser.add_argument("--incr", type=int, default=2000, help="W7 increments per process")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--dir", type=Path, help="where the stores go (default: a temp dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--systems", help="W1-W6 of these systems only, comma separated (e.g. dict,floor,tastypy);"
        " no W7 nor P: for a quick look while working, not for results.json",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.reps = 10_000, 3
    ops = args.ops or args.n

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    info = machine()
    info["tastypy code"] = source_state()
    with tempfile.TemporaryDirectory(prefix="tastypy-bench-", dir=args.dir) as tmp:
        names = args.systems.split(",") if args.systems else None
        raw = run_workloads(args.n, ops, args.reps, Path(tmp), log, names)
        info["load average after each repetition"] = raw.pop("loads")
        if not names:
            raw["W7"] = run_w7(args.procs, args.incr, args.reps, Path(tmp), log)
    if not names:
        log("P: proxy costs")
        raw["P"] = proxy_cost.measure(reps=max(5, 3 * args.reps) if not args.quick else 5)
    info["seconds"] = round(time.perf_counter() - started, 1)
    info["load average at end"] = os.getloadavg()
    if source_state() != info["tastypy code"]:
        info["WARNING"] = "tastypy's sources changed during the run: its figures mix two versions"
    info.update(n=args.n, ops=ops, reps=args.reps, w7_procs=args.procs, w7_increments=args.incr)

    print("## Machine\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print("\n## Durability (what \"durable\" means for each)\n")
    for system in all_systems():
        print(f"- {system.name}: {system.durability}")
    print("\n## W1-W6 (medians; in brackets the ratio to the plain dict)\n")
    print(main_table(raw, args.n))
    for name, why in raw["skipped"].items():
        print(f"\n{name}: skipped, {why}")
    if not names:
        print("\n## W7\n")
        print(w7_table(raw["W7"], args.procs, args.incr))
        print("\n## P: proxy cost, ns per operation (medians)\n")
        print(proxy_cost.table(raw["P"]))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **raw}, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
