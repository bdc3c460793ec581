"""Plots of the committed benchmark results, one PNG per workload.

    python benchmarks/plot.py [--results benchmarks/results.json] [--out DIR]

Each plot shows, per system, the median over the repetitions as a bar and
the fastest and slowest repetition as a whisker. Numbers come from the file
only (``run.py --json`` writes it); the documentation build calls
``write_plots`` so its images always match ``results.json``. Needs
matplotlib (``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ROWS

#: Workload -> (title, unit, log scale). W5's spread is three decades wide.
PLOTS = {
    "W1": (f"W1 {ROWS['W1'][0]}", ROWS["W1"][1], False),
    "W2": (f"W2 {ROWS['W2'][0]}", ROWS["W2"][1], False),
    "W3": (f"W3 {ROWS['W3'][0]}", ROWS["W3"][1], True),
    "W4": (f"W4 {ROWS['W4'][0]}", ROWS["W4"][1], True),
    "W5": (f"W5 {ROWS['W5'][0]}", ROWS["W5"][1], True),
    "W7": ("W7 processes incrementing one counter", "ops/s (higher is better)", False),
}


def load(path: Path = HERE / "results.json") -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def figures(results: dict, workload: str) -> dict[str, list[float]]:
    """System -> the workload's figure in each repetition (systems that have it)."""
    table = results["W7"] if workload == "W7" else results["systems"]
    out = {}
    for system, reps in table.items():
        values = [r[workload] for r in reps if isinstance(r.get(workload), (int, float))]
        if values:
            out[system] = values
    return out


def plot(results: dict, workload: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    title, unit, log = PLOTS[workload]
    data = figures(results, workload)
    names = list(data)
    mid = [statistics.median(data[n]) for n in names]
    low = [m - min(data[n]) for m, n in zip(mid, names)]
    high = [max(data[n]) - m for m, n in zip(mid, names)]
    colors = ["#c0392b" if n == "tastypy" else "#7f8c8d" for n in names]
    fig, ax = pyplot.subplots(figsize=(6.4, 0.45 * len(names) + 1.2), dpi=100)
    ax.barh(names, mid, xerr=[low, high], color=colors, capsize=3)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"median, {unit}", fontsize=9)
    for y, (value, name) in enumerate(zip(mid, names)):
        text = f"  {value:,.0f}" if value >= 100 else f"  {value:.3g}"
        ax.annotate(text, (max(data[name]), y), va="center", fontsize=8)
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    pyplot.close(fig)


def write_plots(results_path: Path, out: Path) -> list[Path]:
    """Write ``<workload>.png`` for every workload into ``out``; return the paths."""
    results = load(results_path)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for workload in PLOTS:
        path = out / f"{workload}.png"
        plot(results, workload, path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--out", type=Path, default=Path("benchmark-plots"))
    args = parser.parse_args()
    for path in write_plots(args.results, args.out):
        print(path)


if __name__ == "__main__":
    main()
