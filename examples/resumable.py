"""A job that survives being stopped: run it, interrupt it, run it again.

    python examples/resumable.py --interrupt-after 40   # stops like Ctrl-C would
    python examples/resumable.py                        # picks up where it stopped

Each "task" squares a number slowly; results go into a POD, so a second run
skips what the first one finished. Ctrl-C works the same way.
"""

from __future__ import annotations

import argparse
import time

import tastypy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="resumable-demo.pod")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--interrupt-after", type=int, default=None, metavar="N")
    args = parser.parse_args()

    results = tastypy.POD(args.folder, sync_at=10)
    if results:
        print(f"resuming: {len(results)} of {args.tasks} done")
    done_now = 0
    try:
        for n in range(args.tasks):
            if n in results:
                continue
            if done_now == args.interrupt_after:
                raise KeyboardInterrupt
            time.sleep(0.02)  # the slow part of a real task
            results[n] = {"square": n * n, "finished": time.time()}
            done_now += 1
            print(f"\r{len(results)}/{args.tasks} done", end="", flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted with {len(results)} of {args.tasks} done; run me again")
        return  # the POD syncs at exit
    print(f"\nall {args.tasks} done; delete {args.folder} to start over")


if __name__ == "__main__":
    main()
