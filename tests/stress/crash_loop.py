"""The long crash test, run by hand: ``python tests/stress/crash_loop.py --kills 1000``.

Each round starts a writer that commits whole generations of 500 keys in a loop,
SIGKILLs it after a random 0–0.3 s, and checks that a fresh reader sees all keys
holding one generation, never older than the last one seen. Rounds alternate
between compaction-only (file_size=10) and journal-heavy (file_size=1000) writers.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from store_helpers import ROOT, crash_round, seed  # noqa: E402

sys.path.insert(0, str(ROOT))

NKEYS = 500
SETUPS = ((10, 1 << 20), (1000, 64 * 1024))  # (file_size, min_journal)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(tmp) / f"crash{i}" for i in range(len(SETUPS))]
        for folder, (file_size, _) in zip(folders, SETUPS):
            seed(folder, file_size, NKEYS)
        last = [0] * len(SETUPS)
        for kill in range(1, args.kills + 1):
            i = kill % len(SETUPS)
            file_size, min_journal = SETUPS[i]
            g = crash_round(folders[i], rng, file_size, NKEYS, min_journal)
            if g < last[i]:
                print(f"kill {kill}: generation went back from {last[i]} to {g}")
                return 1
            last[i] = g
            if kill % 100 == 0:
                print(f"{kill} kills, all whole; generations {last}", flush=True)
    print(f"{args.kills} kills in {time.monotonic() - start:.0f} s: every reopen saw one whole commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
