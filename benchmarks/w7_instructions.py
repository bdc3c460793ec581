"""W7's cost per increment, client side and server side, in callgrind instructions.

    python benchmarks/w7_instructions.py [--n 5000]            # instructions
    python benchmarks/w7_instructions.py --profile [--n 20000] # cProfile of each side

One client (this process) does ``shared.set['c']['n'] += 1`` n times on a
``SharedPOD`` whose server it forked. Under callgrind (``PYTHONHASHSEED=0``)
each process writes its own count; a run with n increments minus a run
with none, divided by n, gives the instructions an increment costs in the
client and in the server, whatever the load of the machine. Time spent
waiting (the other side's turn, the scheduler) is not in them: compare with
``shared_incr.py``'s ratios, not instead of them. ``--profile`` instead
prints each side's top functions by own time (cProfile, not under
valgrind).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # measure the working tree's tastypy


def child(folder: str, n: int, profile: str | None) -> None:
    """Create the SharedPOD (its server forked from here), increment n times, close."""
    import tastypy
    from tastypy.shared import server

    if profile:
        serve = server.serve

        def profiled(*args: object) -> None:
            prof = cProfile.Profile()
            prof.runcall(serve, *args)
            prof.dump_stats(profile + ".server")

        server.serve = profiled  # type: ignore[assignment]
    shared = tastypy.SharedPOD(folder)
    shared["c"] = {"n": 0}
    shared.set["c"]["n"] += 1  # the connection opened, the first call made: not counted
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    for _ in range(n):
        shared.set["c"]["n"] += 1
    if prof:
        prof.disable()
        prof.dump_stats(profile + ".client")
    assert shared["c"]["n"] == n + 1
    shared.close()


def counts(folder: Path, n: int, env: dict[str, str]) -> tuple[int, int]:
    """(client, server) instructions of one run under callgrind."""
    out = folder / f"cg-{n}"
    out.mkdir()
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/%p", sys.executable, __file__,
         "child", str(folder / f"pod-{n}"), str(n)],
        capture_output=True, text=True, env=env, timeout=3600, check=True,
    )
    totals = {}
    for path in out.iterdir():
        text = path.read_text()
        totals[int(path.name)] = int(re.search(r"^totals: (\d+)", text, re.M).group(1))
    client = min(totals)  # the server is forked after the client starts: a larger pid
    (server,) = [pid for pid in totals if pid != client]
    return totals[client], totals[server]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="tastypy-w7-") as tmp:
        if args.profile:
            stats = str(Path(tmp) / "stats")
            subprocess.run([sys.executable, __file__, "child", str(Path(tmp) / "pod"), str(args.n), stats],
                           env=env, timeout=3600, check=True)
            for side in ("client", "server"):
                print(f"== {side}, {args.n:,} increments")
                pstats.Stats(f"{stats}.{side}").sort_stats("tottime").print_stats(int(os.environ.get("TOP", "18")))
            return
        full = counts(Path(tmp), args.n, env)
        empty = counts(Path(tmp), 0, env)
        client, server = ((f - e) / args.n for f, e in zip(full, empty))
        print(f"| instructions per increment (n = {args.n:,}) | client | server | both |")
        print("|---|---:|---:|---:|")
        print(f"| tastypy | {client:,.0f} | {server:,.0f} | {client + server:,.0f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        main()
