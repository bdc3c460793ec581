"""Helpers for the store tests, and the writer child of the crash tests.

Run as a script, it is the child: ``python tests/store_helpers.py FOLDER FILE_SIZE
NKEYS MIN_JOURNAL`` opens a writer and, forever, sets every key to the next
generation and commits, printing ``ready`` once it has opened the folder.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: No wait on a child process lasts longer than this many seconds.
CHILD_TIMEOUT = 60


def crash_keys(n: int) -> list:
    """Keys of all three kinds, so that each kind is checked after each crash."""
    kinds = (lambda i: f"k{i}", lambda i: i, lambda i: ("t", i, ("n", i)))
    return [kinds[i % 3](i) for i in range(n)]


def generation(store, nkeys: int) -> int:
    """The one generation all values of a crash-test folder hold; fail if not all the same."""
    pairs = store.load()
    assert [k for k, _ in pairs] == crash_keys(nkeys), "keys missing or out of order"
    values = {v for _, v in pairs}
    assert len(values) == 1, f"a commit was seen half-done: generations {sorted(values)}"
    return json.loads(values.pop())


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def start_writer(folder: Path, file_size: int, nkeys: int, min_journal: int) -> subprocess.Popen:
    """Start the generation-writer child (see the module docstring)."""
    return subprocess.Popen(
        [sys.executable, __file__, str(folder), str(file_size), str(nkeys), str(min_journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )


def wait_ready(child: subprocess.Popen) -> None:
    """Wait until the child printed ``ready``; fail after CHILD_TIMEOUT."""
    ready, _, _ = select.select([child.stdout], [], [], CHILD_TIMEOUT)
    assert ready, "the child did not start in time"
    line = child.stdout.readline()
    assert line == b"ready\n", (line, child.stderr.read().decode() if child.poll() else "")


def seed(folder: Path, file_size: int, nkeys: int) -> None:
    """Generation 0 of a crash-test folder."""
    from tastypy.store import Store

    store = Store(folder, file_size=file_size)
    store.commit([(key, "0") for key in crash_keys(nkeys)])
    store.close()


def kill(child: subprocess.Popen) -> int:
    """SIGKILL the child, reap it; its return code."""
    child.send_signal(signal.SIGKILL)
    code = child.wait(timeout=CHILD_TIMEOUT)
    child.stdout.close()
    child.stderr.close()
    return code


def crash_round(folder: Path, rng: random.Random, file_size: int, nkeys: int, min_journal: int) -> int:
    """One run of the writer child killed after a random 0–0.3 s; the generation then read."""
    from tastypy.store import Store

    child = start_writer(folder, file_size, nkeys, min_journal)
    try:
        wait_ready(child)
        time.sleep(rng.uniform(0, 0.3))
        assert child.poll() is None, child.stderr.read().decode()
    finally:
        kill(child)
    reader = Store(folder, read_only=True)
    try:
        return generation(reader, nkeys)
    finally:
        reader.close()


def _writer_main(folder: str, file_size: str, nkeys: str, min_journal: str) -> None:
    from tastypy.store import Store, folder as store_folder

    # Smaller than the real 1 MiB so that a short run both journals and compacts.
    store_folder._MIN_JOURNAL = int(min_journal)
    store = Store(Path(folder), file_size=int(file_size))
    keys = crash_keys(int(nkeys))
    g = generation(store, int(nkeys))
    print("ready", flush=True)
    while True:
        g += 1
        store.commit([(key, str(g)) for key in keys])


if __name__ == "__main__":
    _writer_main(*sys.argv[1:])


# -- damage trials -------------------------------------------------------------------

#: What is damaged: the kinds of file a trial picks from.
DAMAGE_KINDS = ("shard", "gzip shard", "journal", "manifest")
#: How: one bit flipped, the file cut, two lines swapped, a line dropped.
DAMAGES = ("flip", "truncate", "swap", "drop")


def damage_folder(folder: Path, gzipped: bool) -> list:
    """A folder of four shards and a journal of three commits; what it reads as."""
    from tastypy.store import DELETE, Store

    store = Store(folder, gzipped=gzipped, file_size=3)
    store.commit([(key, json.dumps({"n": i, "tag": f"t{i}"})) for i, key in enumerate(crash_keys(10))])
    store.compact()
    store.commit([("k0", '"changed"'), (5, "[1,2]")])
    store.commit([(("t", 7, ("n", 7)), DELETE)])
    store.commit([("new", "null"), ("k3", "true")])
    pairs = store.load()
    store.close()
    return pairs


def damaged_file(folder: Path, kind: str, rng: random.Random) -> Path:
    manifest = json.loads((folder / "tastypy.manifest.json").read_text())
    if kind == "manifest":
        return folder / "tastypy.manifest.json"
    if kind == "journal":
        return folder / manifest["journal"]
    return folder / rng.choice(manifest["shards"])


def damage_bytes(data: bytes, how: str, rng: random.Random) -> bytes:
    """``data`` damaged once, ``how``; never the same bytes."""
    if how == "flip":
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if how == "truncate":
        return data[: rng.randrange(len(data))]
    lines = data.splitlines(keepends=True)
    if len(lines) < 2:  # a gzip or manifest file is mostly one line: cut it instead
        return data[: rng.randrange(len(data))]
    i, j = rng.sample(range(len(lines)), 2)
    if how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        del lines[i]
    return b"".join(lines)


def damage_trial(tmp: Path, kind: str, how: str, rng: random.Random) -> str:
    """One damaged folder, opened by a reader then a writer: how it was taken.

    ``error``: both raised IntegrityError and the files are as they were;
    ``same``: both read what was written (the damage hit nothing that matters);
    ``prefix``: the journal was cut to a prefix, which is what a crash leaves:
    it reads as an earlier commit, and cannot be told apart (see the README);
    ``silent``: anything else — a failure.
    """
    from tastypy.errors import IntegrityError
    from tastypy.store import Store

    folder = tmp / f"{kind}-{how}-{rng.randrange(1 << 30)}".replace(" ", "-")
    pairs = damage_folder(folder, gzipped=kind == "gzip shard")
    target = damaged_file(folder, kind, rng)
    original = target.read_bytes()
    data = damage_bytes(original, how, rng)
    if data == original:
        return "same"
    target.write_bytes(data)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    outcomes = []
    for readonly in (True, False):
        try:
            store = Store(folder, read_only=readonly)
        except IntegrityError:
            outcomes.append("error")
            continue
        read = store.load()
        store.close()
        if read == pairs:
            outcomes.append("same")
        elif kind == "journal" and original.startswith(data):
            outcomes.append("prefix")
        else:
            outcomes.append("silent")
    if outcomes[0] == "error" and {p.name: p.read_bytes() for p in folder.iterdir()} != files:
        return "silent"  # refused, yet changed
    return outcomes[0] if outcomes[0] == outcomes[1] else "silent"
