"""Benchmark tables and plots, made from ``benchmarks/results.json`` at build time.

``.. bench-table:: workloads`` (options ``:rows:`` and ``:systems:``,
comma separated, default all, then the column ``tastypy / floor``),
``.. bench-table:: machine``, ``.. bench-table:: proxy``, ``.. bench-plot:: W1``
and ``.. bench-command::`` (the command that made the results, with their
``--n`` and ``--reps``, and how long it ran). No figure is typed into a page:
a new ``results.json`` gives new tables and plots on the next build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
RESULTS = BENCH / "results.json"
sys.path.insert(0, str(BENCH))

import plot
from run import ROWS, VS_FLOOR, medians, vs_floor

#: Names of results.json shown as users know them.
LABELS = {
    "Manager dict+lock": "Manager dict + Lock",
    "json file": "json file (baseline)",
    "floor": "floor (issue 22)",
}
W7_ROW = ("W7 {procs} processes incrementing one counter", "ops/s", "{:,.0f}")
PLOT_DIR = "_generated/bench"


def _cell(text: str) -> str:
    return text.replace("`", "``") if "`" in text and "``" not in text else text


def workloads_table(results: dict, rows: list[str], systems: list[str]) -> list[str]:
    med = {name: medians(reps) for name, reps in results["systems"].items()}
    for name, reps in results.get("W7", {}).items():  # added to a system's W1-W6, not over them
        med.setdefault(name, {}).update(medians(reps))
    procs = results["machine"].get("w7_procs", "N")
    header = ["median", "unit"] + [LABELS.get(s, s) for s in systems]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(header))
    for row in rows:
        label, unit, fmt = W7_ROW if row == "W7" else ROWS[row]
        if row == "W7":
            label = label.format(procs=procs)
        head = f"{row} {label}" if not row.startswith("W5 ") else f"W5 {label.strip()}"
        cells = [_cell(head), unit]
        for system in systems:
            if system == VS_FLOOR:  # a column of ratios, not a system
                ratio = vs_floor(med, row)
                cells.append("--" if ratio is None else f"{ratio:.2f}×")
                continue
            value = med.get(system, {}).get(row)
            cells.append("--" if value is None else fmt.format(value))
        lines.append("   * - " + "\n     - ".join(cells))
    return lines + [""]


def machine_table(results: dict) -> list[str]:
    lines = []
    for key, value in results["machine"].items():
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
            value = "; ".join(", ".join(f"{v:.2f}" for v in inner) for inner in value)
        elif isinstance(value, (list, tuple)):
            value = ", ".join(f"{v:.2f}" for v in value)
        lines.append(f":{key}: {_no_local_path(str(value))}")
    return lines + [""]


def _no_local_path(text: str) -> str:
    """``working tree (/home/me/tastypy/tastypy)`` -> ``working tree``: where the
    benchmark machine kept its checkout says nothing to a reader (the commit does)."""
    return re.sub(r"\s*\(/[^()]*\)", "", text)


def command_lines(results: dict) -> list[str]:
    """The command that made ``results``, as a literal block, and how long it ran."""
    machine = results["machine"]
    minutes = round(machine["seconds"] / 60) if "seconds" in machine else None
    took = f" (the run behind this page took about {minutes} minutes)" if minutes else ""
    return [
        f"Regenerate the results with the command that made them{took}; ``--quick``",
        "(n = 10,000, 3 repetitions) takes under two minutes::",
        "",
        "    pip install -e '.[bench]'",
        f"    python benchmarks/run.py --n {machine['n']} --reps {machine['reps']} --json benchmarks/results.json",
        "",
    ]


def proxy_table(results: dict) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - statement\n     - dict (ns)\n     - tastypy (ns)\n     - ratio")
    for case in results["P"]:
        lines.append(
            f"   * - ``{case['case']}``\n     - {case['dict']:,.0f}"
            f"\n     - {case['tastypy']:,.0f}\n     - {case['ratio']:.0f}×"
        )
    return lines + [""]


class BenchTable(SphinxDirective):
    required_arguments = 1
    option_spec: ClassVar = {"rows": directives.unchanged, "systems": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(RESULTS))
        results = plot.load(RESULTS)
        kind = self.arguments[0]
        if kind == "workloads":
            rows = [r.strip() for r in self.options.get("rows", ",".join(ROWS)).split(",")]
            default = ",".join([*results["systems"], VS_FLOOR])
            systems = self.options.get("systems", default).split(",")
            lines = workloads_table(results, rows, [s.strip() for s in systems])
        elif kind == "machine":
            lines = machine_table(results)
        elif kind == "proxy":
            lines = proxy_table(results)
        else:
            raise self.error(f"bench-table: unknown table {kind!r}")
        lines = "\n".join(lines).splitlines()
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=str(RESULTS)), self.content_offset, container)
        return list(container.children)


class BenchCommand(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(RESULTS))
        lines = command_lines(plot.load(RESULTS))
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=str(RESULTS)), self.content_offset, container)
        return list(container.children)


class BenchPlot(SphinxDirective):
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        workload = self.arguments[0]
        if workload not in plot.PLOTS:
            raise self.error(f"bench-plot: no plot for {workload!r}")
        self.env.note_dependency(str(RESULTS))
        text = [f".. image:: /{PLOT_DIR}/{workload}.png", f"   :alt: {plot.PLOTS[workload][0]}", ""]
        container = nodes.container()
        self.state.nested_parse(StringList(text), self.content_offset, container)
        return list(container.children)


def make_plots(app) -> None:
    """Draw the plots unless they are newer than the results and the script."""
    out = Path(app.srcdir) / PLOT_DIR
    inputs = max(RESULTS.stat().st_mtime, Path(plot.__file__).stat().st_mtime)
    pngs = [out / f"{w}.png" for w in plot.PLOTS]
    if all(p.exists() and p.stat().st_mtime > inputs for p in pngs):
        return
    plot.write_plots(RESULTS, out)


def setup(app):
    app.add_directive("bench-table", BenchTable)
    app.add_directive("bench-plot", BenchPlot)
    app.add_directive("bench-command", BenchCommand)
    app.connect("builder-inited", make_plots)
    return {"parallel_read_safe": True}
