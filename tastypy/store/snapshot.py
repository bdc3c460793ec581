"""One read of a folder: its slots of entries, checked against the manifest."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tastypy.keys import Key
from tastypy.store.format import MANIFEST, damage, encode_basestring, encode_key, read_shard
from tastypy.store.journal import Batch, read_journal
from tastypy.store.manifest import (
    JOURNAL_NAME,
    SHARD_NAME,
    read_manifest,
    shard_check,
)

if TYPE_CHECKING:
    #: ``apply(snapshot, ops)``: replays journaled ``(key, key_text, value_text or None)`` ops.
    _Apply = Callable[["Snapshot", list[tuple[Key, str, str | None]]], None]

# Attempts of a reader whose files a compaction replaced while it read them.
_READ_ATTEMPTS = 100


class Slot:
    """One shard's worth of entries, in order: key -> value_text."""

    __slots__ = ("crc", "dirty", "entries", "ktexts", "name", "nbytes")

    def __init__(
        self, name: str | None, entries: dict[Key, str], nbytes: int, crc: int = 0, ktexts: dict[Key, str] | None = None
    ) -> None:
        self.name = name  # its file in the manifest; None until first written
        self.entries = entries
        # Key texts read that ``encode_key`` would not give (a 0.x or edited
        # file), kept so that a rewrite changes no untouched line; usually none.
        self.ktexts = ktexts
        self.dirty = name is None  # differs from its file: rewrite at compaction
        self.nbytes = nbytes
        self.crc = crc  # of the file's bytes

    def text(self) -> str:
        """The shard file's text: a ``<key>\\t<value>\\n`` line an entry, in order."""
        entries = self.entries
        ktexts = self.ktexts
        if ktexts:
            keys = [ktexts.get(key) or encode_key(key) for key in entries]
        else:
            try:  # str keys, the common case: one C call each
                keys = list(map(encode_basestring, entries))  # type: ignore[arg-type]  # TypeError if not
            except TypeError:
                keys = list(map(encode_key, entries))
        if not keys:
            return ""
        return "\n".join(map("\t".join, zip(keys, entries.values()))) + "\n"

    def check(self) -> dict[str, int]:
        """What the manifest says of this slot's file (a clean slot: its entries are the file's)."""
        return shard_check(self.nbytes, len(self.entries), self.crc)


class Snapshot:
    """What one read found; a writer's commits then change it in place."""

    __slots__ = (
        "file_size",
        "gzipped",
        "index",
        "journal_size",
        "last_sync",
        "manifest",
        "reused",
        "seq",
        "shard_bytes",
        "slots",
    )

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.slots: list[Slot] = []
        self.index: dict[Key, Slot] = {}
        self.manifest = manifest  # journal None: a 0.x folder no writer adopted yet
        self.last_sync = manifest["synced"]
        self.seq = self.journal_size = 0
        self.reused: set[str] = set()  # shards taken from an earlier read, not read again
        self.shard_bytes = 0  # of the slots' files: how large the journal may grow
        self.gzipped: bool = manifest["gzipped"]
        self.file_size: int = manifest["file_size"]


def read_snapshot(
    path: Path, gzipped: bool, file_size: int, apply: _Apply, previous: Snapshot | None = None
) -> Snapshot:
    """Read the folder; ``apply(snapshot, ops)`` replays journaled changes.

    A writer may compact (and delete files) while a reader reads: if a file the
    manifest names is gone and the manifest changed meanwhile, read again.

    ``previous``: an earlier read whose clean slots (entries as in their file)
    stand for the shards of the same name and check instead of reading them
    again: files are never changed in place. Their entries are copied, so
    ``previous`` stays as it was.
    """
    for attempt in range(_READ_ATTEMPTS):
        if attempt:
            time.sleep(min(attempt * 0.001, 0.05))  # let a busy writer get ahead
        manifest = read_manifest(path)
        try:
            return _read_files(path, manifest or legacy_manifest(path, gzipped, file_size), apply, previous)
        except FileNotFoundError as exc:
            if read_manifest(path) == manifest:
                raise damage(
                    Path(exc.filename), None, f"missing, yet {MANIFEST} lists it",
                    "restore it from a backup",
                ) from None
    raise OSError(f"{path}: the folder kept changing while being read; retry")


def _read_files(path: Path, manifest: dict[str, Any], apply: _Apply, previous: Snapshot | None) -> Snapshot:
    snap = Snapshot(manifest)
    legacy = manifest["journal"] is None
    clean = {} if previous is None or legacy else {s.name: s for s in previous.slots if s.name and not s.dirty}
    for name in manifest["shards"]:
        expect = None if legacy else manifest["checks"][name]
        slot = clean.get(name)
        if slot is not None and slot.check() == expect:
            _add_slot(snap, Slot(name, dict(slot.entries), slot.nbytes, slot.crc, slot.ktexts), path / name)
            snap.reused.add(name)
        else:
            _add_shard(snap, path / name, expect)
    snap.shard_bytes = sum(slot.nbytes for slot in snap.slots)
    if legacy:
        return snap
    journal = path / manifest["journal"]
    batches, snap.journal_size, snap.seq = read_journal(journal)
    for batch in batches:
        apply(snap, [(key, ktext, vtext) for key, ktext, vtext, _ in batch])
    if snap.seq:
        snap.last_sync = os.stat(journal).st_mtime
    return snap


def _add_shard(snap: Snapshot, path: Path, expect: dict[str, Any] | None) -> None:
    pairs, ktexts, nbytes, crc = read_shard(path, expect)
    entries = dict(pairs)
    if len(entries) < len(pairs):  # a key twice in one file: name its second line
        _name_repeat(snap, path, [key for key, _ in pairs], ktexts)
    _add_slot(snap, Slot(path.name, entries, nbytes, crc, ktexts or None), path)


def _add_slot(snap: Snapshot, slot: Slot, path: Path) -> None:
    index = snap.index
    known = len(index)
    index.update(dict.fromkeys(slot.entries, slot))
    if len(index) < known + len(slot.entries):  # a key seen before: name its line
        _name_repeat(snap, path, list(slot.entries), slot.ktexts or {})
    snap.slots.append(slot)


def _name_repeat(snap: Snapshot, path: Path, keys: list[Key], ktexts: dict[Key, str]) -> None:
    seen: set[Key] = set().union(*[earlier.entries for earlier in snap.slots])
    for n, key in enumerate(keys, 1):
        if key in seen:
            ktext = ktexts.get(key) or encode_key(key)
            raise damage(path, n, f"the key {ktext} appears a second time")
        seen.add(key)


def read_tail(path: Path, snap: Snapshot) -> tuple[list[Batch], int, int] | None:
    """The journal batches committed since ``snap`` was read, with the offset
    where they end and the last commit number; None when the writer compacted
    or adopted the folder since (its manifest changed: read the folder again).

    Reads the bytes appended to the journal since, nothing else but the
    manifest. A writer only ever appends whole batches to a journal (one that
    is cut back after a failed sync is never appended to again: the next
    commit compacts), so what was read before stays true.
    """
    manifest = read_manifest(path)
    if manifest is None and snap.manifest["journal"] is None:
        return [], 0, 0  # a 0.x folder no writer has adopted: it does not change
    if manifest != snap.manifest:
        return None
    try:
        return read_journal(path / manifest["journal"], snap.journal_size, snap.seq)
    except FileNotFoundError:
        return None  # compacted after the manifest was read


def legacy_manifest(path: Path, gzipped: bool, file_size: int) -> dict[str, Any]:
    """The manifest a folder without one stands for: shards 0, 1, 2 … (tastypy 0.x).

    A folder holding a journal of tastypy's is not one: its manifest was lost,
    and with it the only record of which files hold the data.
    """
    found: dict[bool, dict[int, str]] = {False: {}, True: {}}
    journals: list[os.DirEntry[str]] = []
    latest: float | None = None
    with os.scandir(path) as entries:
        for entry in entries:
            match = SHARD_NAME.fullmatch(entry.name)
            if match:
                found[bool(match[2])][int(match[1])] = entry.name
                latest = max(latest or 0, entry.stat(follow_symlinks=False).st_mtime)
            elif JOURNAL_NAME.fullmatch(entry.name):
                journals.append(entry)
    if found[not gzipped] and not found[gzipped]:
        gzipped = not gzipped
    names = found[gzipped]
    for entry in journals:
        # An empty journal numbered after the shards: an adoption cut short.
        if entry.name != f"journal.{len(names)}.log" or entry.stat(follow_symlinks=False).st_size:
            raise damage(
                path / MANIFEST, None, f"missing, yet {entry.name} shows tastypy wrote this folder",
                "restore the manifest from a backup; nothing was changed",
            )
    for number in range(len(names)):
        if number not in names:
            missing = f"{number}.json.gz" if gzipped else f"{number}.json"
            raise damage(
                path / missing, None,
                f"missing, yet shards up to {max(names)} exist", "restore it from a backup",
            )
    return {
        "format": None, "gzipped": gzipped, "file_size": file_size,
        "shards": [names[n] for n in range(len(names))], "journal": None,
        "next": len(names), "synced": latest,
    }
