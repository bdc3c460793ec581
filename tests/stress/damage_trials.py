"""The long damage trials, run by hand: ``python tests/stress/damage_trials.py --trials 200``.

For each kind of file (plain shard, gzip shard, journal, manifest) and each damage
(one bit flipped, the file cut, two lines swapped, a line dropped), damages a
fresh folder ``--trials`` times at random places and opens it with a reader and
a writer. Prints the outcomes; exits 1 if any damage was read silently.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from store_helpers import DAMAGE_KINDS, DAMAGES, ROOT, damage_trial

sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    silent = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in DAMAGE_KINDS:
            for how in DAMAGES:
                if kind == "journal" and how == "truncate":
                    continue  # what a crash leaves: the crash tests' business
                counts = collections.Counter(
                    damage_trial(Path(tmp), kind, how, rng) for _ in range(args.trials)
                )
                silent += counts["silent"]
                print(f"{kind:11} {how:8} " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())), flush=True)
    print("none silent" if not silent else f"{silent} SILENT")
    return 1 if silent else 0


if __name__ == "__main__":
    sys.exit(main())
